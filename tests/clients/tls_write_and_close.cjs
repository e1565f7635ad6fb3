// A TLS client that writes its lines and closes at once without reading, as graypy and
// one-shot scripts do. Usage: node tls_write_and_close.cjs PORT CA_FILE LINES TAG
const tls = require("node:tls");
const fs = require("node:fs");
const [port, caFile, lines, tag] = process.argv.slice(2);
let text = "";
for (let i = 0; i < Number(lines); i++) text += `<13>1 - host app - - - ${tag}=${i}\n`;
const socket = tls.connect({
  host: "127.0.0.1",
  port: Number(port),
  ca: fs.readFileSync(caFile),
  servername: "localhost",
}, () => {
  socket.write(text, () => socket.destroy());
});
socket.on("error", (error) => {
  console.error(error.message);
  process.exitCode = 1;
});
