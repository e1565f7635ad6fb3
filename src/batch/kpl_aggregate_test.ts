import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { Buffer } from "node:buffer";
import agg from "aws-kinesis-agg";
import { buildRecords } from "./record_builder.ts";
import { kplFormat } from "./kpl_format.ts";
import { PlainDeflater } from "./plain_deflater.ts";
import { EventBuffer } from "./event_buffer.ts";
import { isKplRecord, KplRecordError, kplText, kplUserRecords } from "./kpl_aggregate.ts";
import { checkRecord } from "../spool/record_check.ts";

const enc = new TextEncoder();

/** A batch of `messages` from one source, built as KPL records of at most `max` bytes under the key `k1`. */
async function build(messages: string[], max = 262_144) {
  const buffer = new EventBuffer();
  for (const m of messages) buffer.append(enc.encode(m), 1_700_000_000_000);
  const header = { owner: "123456789012", logGroup: "/kinesyslog/syslog/514", logStream: "192.0.2.7", instance: "" };
  return await buildRecords(header, { ...buffer.take(), format: "syslog" }, {
    deflater: () => new PlainDeflater(),
    format: kplFormat,
    maxRecordBytes: max,
    partitionKey: () => "k1",
  });
}

/** The user records of `data` as aws-kinesis-agg reads them, checksum checked. */
function deaggregate(data: Uint8Array): { partitionKey: string; data: string }[] {
  let out: { partitionKey: string; data: string }[] = [];
  agg.deaggregateSync(
    { partitionKey: "k1", sequenceNumber: "1", data: Buffer.from(data).toString("base64") },
    true,
    (error: Error | null, users?: { partitionKey: string; data: string }[]) => {
      if (error) throw error;
      out = users ?? [];
    },
  );
  return out;
}

Deno.test("KPL records: aws-kinesis-agg reads one NDJSON user record per event under the record's key", async () => {
  const messages = Array.from(
    { length: 300 },
    (_, i) => `<13>1 2026-12-07T00:00:00Z host app - - - n=${i} ${"x".repeat(i)}`,
  );
  const built = await build(messages);
  assertEquals(built.records.length, 1);
  const data = built.records[0]!.data;
  assert(isKplRecord(data));
  const users = deaggregate(data);
  assertEquals(users.length, messages.length);
  users.forEach((u, i) => {
    assertEquals(u.partitionKey, "k1");
    const event = JSON.parse(Buffer.from(u.data, "base64").toString("utf8"));
    assertEquals(event.message, `n=${i} ${"x".repeat(i)}`);
    assertEquals(event.source, "192.0.2.7");
    assertEquals(event.port, 514);
  });
  // The relay's own reader agrees, and a spool check counts the events.
  assertEquals(kplUserRecords(data).length, messages.length);
  assertEquals(checkRecord(data), { events: messages.length });
});

Deno.test("KPL records fill to the limit and split along events; every one reads whole", async () => {
  const messages = Array.from(
    { length: 2_000 },
    (_, i) => `<13>1 2026-12-07T00:00:00Z host app - - - n=${i} ${"y".repeat(200)}`,
  );
  const built = await build(messages, 65_536);
  assert(built.records.length > 1, `${built.records.length} records`);
  let n = 0;
  for (const { data, events } of built.records) {
    assert(data.length <= 65_536 && data.length > 65_536 - 8_192 - 300 || data === built.records.at(-1)!.data);
    const users = deaggregate(data);
    assertEquals(users.length, events);
    for (const u of users) {
      assertEquals(JSON.parse(Buffer.from(u.data, "base64").toString("utf8")).message.split(" ")[0], `n=${n++}`);
    }
  }
  assertEquals(n, messages.length);
});

Deno.test("a damaged KPL record is refused: its digest, its fields, and the spool check says why", async () => {
  const data = (await build(["<13>1 - host app - - - hello"])).records[0]!.data;
  const flipped = data.slice();
  flipped[10]! ^= 1;
  assertThrows(() => kplUserRecords(flipped), KplRecordError, "digest");
  assert("damage" in checkRecord(flipped));
  assertThrows(() => kplUserRecords(data.subarray(0, 12)), KplRecordError);
  assertEquals(new TextDecoder().decode(kplText(data)).endsWith("\n"), true);
});
