import { assertEquals } from "../../tests/assert.ts";
import { datagramMessage } from "./datagram.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("datagramMessage() strips trailing delimiters and a whole-datagram octet count", async (t) => {
  const table: [string, string, string][] = [
    ["plain", "<13>hello", "<13>hello"],
    ["trailing LF", "<13>hello\n", "<13>hello"],
    ["trailing NUL and CRLF", "<13>hello\r\n\0", "<13>hello"],
    ["octet count equal to the rest (loggen -P)", "9 <13>hello", "<13>hello"],
    ["octet count with the LF inside", "10 <13>hello\n", "<13>hello"],
    ["count that does not match is message text", "3 <13>hello", "3 <13>hello"],
    ["digits and a space without a PRI", "404 not found", "404 not found"],
    ["LF inside is kept", "<13>a\nb", "<13>a\nb"],
  ];
  for (const [name, input, expected] of table) {
    await t.step(name, () => assertEquals(dec.decode(datagramMessage(enc.encode(input))), expected));
  }
});

Deno.test("datagramMessage() reads every UDP capture of real syslog clients", async (t) => {
  const wire = new URL("../../tests/fixtures/wire/", import.meta.url);
  let datagrams = 0;
  for await (const dir of Deno.readDir(wire)) {
    if (!/^(logger|loggen)-udp/.test(dir.name)) continue;
    await t.step(dir.name, async () => {
      for await (const file of Deno.readDir(new URL(dir.name, wire))) {
        const message = dec.decode(datagramMessage(await Deno.readFile(new URL(`${dir.name}/${file.name}`, wire))));
        assertEquals(message.startsWith("<"), true, `${file.name}: ${message.slice(0, 30)}`);
        assertEquals(/[\r\n\0]$/.test(message), false, `${file.name} keeps a trailing delimiter`);
        datagrams++;
      }
    });
  }
  assertEquals(datagrams >= 15, true, "the UDP captures in tests/fixtures were not found");
});
