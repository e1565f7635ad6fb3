// Sends messages with the gelf-pro library (1.4), as a Node.js application would.
// Usage: node gelf_pro_send.cjs udp|tcp PORT COUNT BYTES TAG
// Each message's short_message is "TAG i" and full_message BYTES of random base64 text, so
// that zlib cannot shrink it below one UDP chunk. Exits 1 if any send reports an error.
const gelf = require("gelf-pro");
const { randomBytes } = require("node:crypto");
const [adapterName, port, count, bytes, tag] = process.argv.slice(2);
gelf.setConfig({
  adapterName,
  adapterOptions: { host: "127.0.0.1", port: Number(port), family: 4, protocol: "udp4" },
  fields: { facility: "kinesyslog-test" },
});
(async () => {
  for (let i = 0; i < Number(count); i++) {
    const full = randomBytes(Math.ceil(Number(bytes) * 0.75)).toString("base64").slice(0, Number(bytes));
    await new Promise((resolve, reject) =>
      gelf.info(`${tag} ${i}`, { full_message: full, _seq: i }, (error) => (error ? reject(error) : resolve()))
    );
  }
})().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});
