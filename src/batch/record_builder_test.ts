import { gunzipSync } from "node:zlib";
import { assert, assertEquals } from "../../tests/assert.ts";
import { EventBuffer } from "./event_buffer.ts";
import { type EncodedEvents, EventJsonWriter } from "./event_json.ts";
import { buildRecords, encodeBatch, gzip, MAX_RECORD_BYTES, serializeEvent } from "./record_builder.ts";

/** Packs serialized events as the worker does. */
function pack(events: string[]): EncodedEvents {
  const writer = new EventJsonWriter();
  for (const e of events) writer.addJson(e);
  return writer.finish();
}

const header = { owner: "123456789012", logGroup: "/kinesyslog/syslog/514", logStream: "10.1.2.3" };

/** Random printable text: compresses poorly, like the worst real logs. */
function noise(bytes: number): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (const b of random) s += String.fromCharCode(33 + (b % 94));
  return s;
}

function decodeRecord(data: Uint8Array) {
  return JSON.parse(new TextDecoder().decode(gunzipSync(data)));
}

Deno.test("buildRecords() writes CloudWatch-Logs-shaped records", async () => {
  const events = [serializeEvent({ id: "u1", timestamp: 1700000000123, message: '<13>1 - h a - - - "quoted"' })];
  const { records } = await buildRecords(header, pack(events), { compress: gzip });
  assertEquals(records.length, 1);
  assertEquals(decodeRecord(records[0]!.data), {
    owner: "123456789012",
    logGroup: "/kinesyslog/syslog/514",
    logStream: "10.1.2.3",
    subscriptionFilters: ["/kinesyslog/syslog/514"],
    messageType: "DATA_MESSAGE",
    logEvents: [{ id: "u1", timestamp: 1700000000123, message: '<13>1 - h a - - - "quoted"' }],
  });
});

Deno.test("buildRecords() splits along event boundaries so no record exceeds 1,024,000 bytes", async () => {
  // About 3 MB of poorly compressible text: needs at least three records.
  const events: string[] = [];
  for (let i = 0; i < 1_500; i++) {
    events.push(serializeEvent({ id: `id-${i}`, timestamp: i, message: noise(2_000) }));
  }
  const { records, oversizeEvents } = await buildRecords(header, pack(events), { compress: gzip });
  assertEquals(oversizeEvents, 0);
  assert(records.length >= 3, `expected at least 3 records, got ${records.length}`);
  const ids: string[] = [];
  for (const r of records) {
    assert(r.data.length <= MAX_RECORD_BYTES, `record of ${r.data.length} bytes`);
    const json = decodeRecord(r.data);
    assertEquals(json.logEvents.length, r.events);
    ids.push(...json.logEvents.map((e: { id: string }) => e.id));
  }
  assertEquals(ids, events.map((_, i) => `id-${i}`));
});

Deno.test("buildRecords() checks every piece against a smaller limit too", async () => {
  const events = Array.from(
    { length: 50 },
    (_, i) => serializeEvent({ id: `${i}`, timestamp: i, message: noise(300) }),
  );
  const { records, oversizeEvents } = await buildRecords(header, pack(events), {
    compress: gzip,
    maxRecordBytes: 2_000,
  });
  assertEquals(oversizeEvents, 0);
  for (const r of records) assert(r.data.length <= 2_000);
  assertEquals(records.reduce((n, r) => n + r.events, 0), 50);
});

Deno.test("buildRecords() drops and counts an event that alone exceeds the limit", async () => {
  const events = [
    serializeEvent({ id: "a", timestamp: 1, message: "small" }),
    serializeEvent({ id: "b", timestamp: 2, message: noise(5_000) }),
    serializeEvent({ id: "c", timestamp: 3, message: "small" }),
  ];
  const { records, oversizeEvents } = await buildRecords(header, pack(events), {
    compress: gzip,
    maxRecordBytes: 1_000,
  });
  assertEquals(oversizeEvents, 1);
  const ids = records.flatMap((r) => decodeRecord(r.data).logEvents.map((e: { id: string }) => e.id));
  assertEquals(ids, ["a", "c"]);
});

Deno.test("encodeBatch() keeps messages verbatim and falls back to the receive time", () => {
  const buffer = new EventBuffer();
  const received = Date.UTC(2026, 10, 24, 12);
  buffer.append(new TextEncoder().encode("<34>1 2003-10-11T22:14:15.003Z host su - - - msg"), received);
  buffer.append(new Uint8Array([0x3c, 0x31, 0x33, 0x3e, 0xff, 0x41]), received + 0.5); // invalid UTF-8
  const { events, timestampFallbacks } = encodeBatch(buffer.take(), "syslog");
  const parsed = JSON.parse("[" + new TextDecoder().decode(events.bytes.subarray(1)) + "]");
  assertEquals(parsed.map((e: { timestamp: number; message: string }) => [e.timestamp, e.message]), [
    [1065910455003, "<34>1 2003-10-11T22:14:15.003Z host su - - - msg"],
    [received, "<13>\uFFFDA"],
  ]);
  assertEquals(timestampFallbacks, 1);
  assert(/^[0-9a-f-]{36}$/.test(parsed[0].id) && parsed[0].id !== parsed[1].id);
});

Deno.test("encodeBatch() stamps GELF events with their stored event time, never parsing the JSON", () => {
  const buffer = new EventBuffer();
  // A GELF message that looks like syslog inside: the stored time must win, uncounted.
  const json = '{"short_message":"<34>1 2003-10-11T22:14:15.003Z h su - - - m","timestamp":1500000000.5}';
  buffer.append(new TextEncoder().encode(json), 1500000000500.25);
  const { events, timestampFallbacks } = encodeBatch(buffer.take(), "gelf");
  const parsed = JSON.parse("[" + new TextDecoder().decode(events.bytes.subarray(1)) + "]");
  assertEquals(parsed.map((e: { timestamp: number; message: string }) => [e.timestamp, e.message]), [
    [1500000000500, json],
  ]);
  assertEquals(timestampFallbacks, 0);
});
