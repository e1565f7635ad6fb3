import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import { GzipDeflater } from "../spool/gzip_deflater.ts";
import { EventBuffer, type EventFormat, forEachEvent, type PackedEvents } from "./event_buffer.ts";
import {
  type BuildOptions,
  buildRecords,
  END_RESERVE_BYTES,
  FULL_SLACK_BYTES,
  MAX_RECORD_BYTES,
} from "./record_builder.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const header = {
  owner: "123456789012",
  logGroup: "/kinesyslog/syslog/514",
  logStream: "10.1.2.3",
  instance: "00000000000000000042",
};
const deflater = () => new GzipDeflater();

function batch(messages: (string | Uint8Array)[], format: EventFormat = "syslog", receivedMs = 0) {
  const buffer = new EventBuffer();
  for (const m of messages) buffer.append(typeof m === "string" ? enc.encode(m) : m, receivedMs);
  return { ...buffer.take(), format };
}

/** Random printable text: compresses poorly, like the worst real logs. */
function noise(bytes: number): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (const b of random) s += String.fromCharCode(33 + (b % 94));
  return s;
}

/** Log-like text that compresses about 4:1 as event JSON, as the benchmark's does. */
function logLine(i: number): string {
  return `<134>1 2026-11-24T00:00:00.${String(i % 1000).padStart(3, "0")}Z web-${i % 40} app - - - seq=${i} ${
    noise(40)
  } status=200 latency_ms=${i % 997} upstream=orders cache.hit tenant=eu-west-1`;
}

interface LogEvents {
  logEvents: { id: string; timestamp: number; message: string }[];
  [key: string]: unknown;
}

function decodeRecord(data: Uint8Array): LogEvents {
  return JSON.parse(dec.decode(gunzipSync(data)));
}

function messagesOf(records: { data: Uint8Array }[]): string[] {
  return records.flatMap((r) => decodeRecord(r.data).logEvents.map((e) => e.message));
}

function carriedMessages(carried: PackedEvents | undefined): string[] {
  const out: string[] = [];
  if (carried) forEachEvent(carried, (m) => out.push(dec.decode(m)));
  return out;
}

Deno.test("buildRecords() writes CloudWatch-Logs-shaped records with verbatim messages", async () => {
  const received = Date.UTC(2026, 10, 24, 12);
  const result = await buildRecords(
    header,
    batch(
      [
        '<34>1 2003-10-11T22:14:15.003Z host su - - - "quoted"',
        new Uint8Array([0x3c, 0x31, 0x33, 0x3e, 0xff, 0x41]), // invalid UTF-8
      ],
      "syslog",
      received,
    ),
    { deflater },
  );
  assertEquals(result.records.length, 1);
  const record = decodeRecord(result.records[0]!.data);
  assertEquals({ ...record, logEvents: [] }, {
    owner: "123456789012",
    logGroup: "/kinesyslog/syslog/514",
    logStream: "10.1.2.3",
    subscriptionFilters: ["/kinesyslog/syslog/514"],
    messageType: "DATA_MESSAGE",
    logEvents: [],
  });
  assertEquals(record.logEvents.map((e) => [e.timestamp, e.message]), [
    [1065910455003, '<34>1 2003-10-11T22:14:15.003Z host su - - - "quoted"'],
    [received, "<13>\uFFFDA"],
  ]);
  const [a, b] = record.logEvents;
  assert(/^[0-9a-f-]{36}$/.test(a!.id) && a!.id !== b!.id);
  assertEquals([result.events, result.timestampFallbacks, result.oversizeEvents], [2, 1, 0]);
  assertEquals(result.carried, undefined);
});

Deno.test("buildRecords() stamps GELF events with their stored event time, never parsing the JSON", async () => {
  // A GELF message that looks like syslog inside: the stored time must win, uncounted.
  const json = '{"short_message":"<34>1 2003-10-11T22:14:15.003Z h su - - - m","timestamp":1500000000.5}';
  const result = await buildRecords(header, batch([json], "gelf", 1500000000500.25), { deflater });
  assertEquals(decodeRecord(result.records[0]!.data).logEvents.map((e) => [e.timestamp, e.message]), [
    [1500000000500, json],
  ]);
  assertEquals(result.timestampFallbacks, 0);
});

Deno.test("buildRecords() fills every record but the last to within FULL_SLACK_BYTES of 1,024,000 bytes", async () => {
  const lines = Array.from({ length: 40_000 }, (_, i) => logLine(i));
  const result = await buildRecords(header, batch(lines), { deflater });
  assert(result.records.length >= 2, `${result.records.length} records`);
  for (const r of result.records.slice(0, -1)) {
    assert(r.data.length <= MAX_RECORD_BYTES, `${r.data.length} bytes`);
    assert(r.data.length >= MAX_RECORD_BYTES - END_RESERVE_BYTES - FULL_SLACK_BYTES, `only ${r.data.length} bytes`);
  }
  assertEquals(messagesOf(result.records), lines);
  assertEquals(result.events, lines.length);
  assertEquals(result.compressedBytes, result.records.reduce((n, r) => n + r.data.length, 0));
});

Deno.test("buildRecords() hands back what would not fill a record, only after a full one", async () => {
  const lines = Array.from({ length: 15_000 }, (_, i) => logLine(i));
  const carried = await buildRecords(header, batch(lines), { deflater, carry: true });
  assertEquals(carried.records.length, 1);
  assert(carried.records[0]!.data.length >= MAX_RECORD_BYTES - END_RESERVE_BYTES - FULL_SLACK_BYTES);
  const kept = messagesOf(carried.records);
  assert(carried.carried !== undefined && carried.carried.count > 0);
  assertEquals([...kept, ...carriedMessages(carried.carried)], lines);
  assertEquals(carried.events + carried.carried.count, lines.length);

  const all = await buildRecords(header, batch(lines), { deflater });
  assertEquals(all.records.length, 2);
  assertEquals(all.carried, undefined);

  // Less than a record: packed whole even when hand-back is allowed, so a batch always progresses.
  const small = await buildRecords(header, batch(lines.slice(0, 2_000)), { deflater, carry: true });
  assertEquals([small.records.length, small.carried], [1, undefined]);
});

Deno.test("buildRecords() ends a record early when a piece compresses far worse than the record so far", async () => {
  // Compressible text makes pieces large; then incompressible events overshoot the limit.
  const messages = [
    ...Array.from({ length: 300 }, (_, i) => `<13>1 - h a - - - ${"repeat ".repeat(60)} ${i}`),
    ...Array.from({ length: 60 }, () => noise(2_000)),
  ];
  const maxRecordBytes = 40_000;
  const result = await buildRecords(header, batch(messages), { deflater, maxRecordBytes });
  for (const r of result.records) assert(r.data.length <= maxRecordBytes, `${r.data.length} bytes`);
  assertEquals(messagesOf(result.records), messages);
  assertEquals(result.oversizeEvents, 0);
});

Deno.test("buildRecords() drops and counts an event that alone exceeds the limit", async () => {
  const result = await buildRecords(header, batch(["<13>small a", noise(5_000), "<13>small c"]), {
    deflater,
    maxRecordBytes: 1_000,
  });
  assertEquals(result.oversizeEvents, 1);
  assertEquals(messagesOf(result.records), ["<13>small a", "<13>small c"]);
  assertEquals(result.events, 2);
});

Deno.test("buildRecords() keeps every event, in order, within the limit, whatever the sizes and mix", async () => {
  const event = fc.oneof(
    fc.integer({ min: 0, max: 3_000 }).map((n) => `<13>${"x".repeat(n)}`),
    fc.integer({ min: 1, max: 3_000 }).map((n) => noise(n)),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(event, { minLength: 1, maxLength: 120 }),
      fc.integer({ min: 2_000, max: 60_000 }),
      fc.boolean(),
      async (messages, maxRecordBytes, carry) => {
        const options: BuildOptions = { deflater, maxRecordBytes, carry };
        const result = await buildRecords(header, batch(messages), options);
        for (const r of result.records) assert(r.data.length <= maxRecordBytes);
        const out = [...messagesOf(result.records), ...carriedMessages(result.carried)];
        assertEquals(out.length + result.oversizeEvents, messages.length);
        // Dropped events are the oversize ones; the rest keep their order.
        let at = 0;
        for (const m of out) {
          while (messages[at] !== m) at++;
          at++;
        }
        if (!carry) assertEquals(result.carried, undefined);
      },
    ),
    { numRuns: 60 },
  );
});
