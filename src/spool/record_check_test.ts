import { gzipSync } from "node:zlib";
import { assertEquals } from "../../tests/assert.ts";
import { checkRecord } from "./record_check.ts";

const enc = new TextEncoder();
const cwl = JSON.stringify({
  owner: "1",
  logGroup: "/k/syslog/514",
  logStream: "10.0.0.1",
  messageType: "DATA_MESSAGE",
  logEvents: [{ id: "a", timestamp: 1, message: "m" }, { id: "b", timestamp: 2, message: "n" }],
});
const ndjson = [1, 2, 3].map((i) =>
  JSON.stringify({
    timestamp: i,
    source: "10.0.0.1",
    port: 514,
    transport: "udp",
    format: "syslog",
    message: `m${i}`,
  })
).join("\n") + "\n";

Deno.test("checkRecord() counts the events of a record of either format, gzip or plain", async (t) => {
  const table: [string, Uint8Array, number][] = [
    ["CWL, gzip", gzipSync(enc.encode(cwl)), 2],
    ["NDJSON, gzip", gzipSync(enc.encode(ndjson)), 3],
    ["NDJSON, plain", enc.encode(ndjson), 3],
  ];
  for (const [name, data, events] of table) await t.step(name, () => assertEquals(checkRecord(data), { events }));
});

Deno.test("checkRecord() names the damage of what is not one record", async (t) => {
  const table: [string, Uint8Array, string][] = [
    ["two gzip members", new Uint8Array([...gzipSync(enc.encode(cwl)), ...gzipSync(enc.encode(cwl))]), "not one gzip"],
    ["a gzip cut short", gzipSync(enc.encode(cwl)).subarray(0, 30), "not gzip"],
    ["binary", new Uint8Array([0xff, 0xfe, 0x00, 0x01]), "not UTF-8"],
    ["text", enc.encode("not a record"), "not a record"],
    ["empty JSON", enc.encode("   "), "not a record: no JSON"],
    ["two CWL records", enc.encode(cwl + cwl), "not a record: more than one record"],
    ["formats mixed", enc.encode(cwl + "\n" + ndjson), "not a record: more than one record, or formats mixed"],
    ["an NDJSON line cut short", enc.encode(ndjson.slice(0, -20)), "not a record"],
  ];
  for (const [name, data, damage] of table) {
    await t.step(name, () => {
      const result = checkRecord(data) as { damage?: string };
      assertEquals(typeof result.damage, "string", JSON.stringify(result));
      assertEquals(result.damage!.startsWith(damage), true, result.damage);
    });
  }
});
