import { assertEquals } from "../../tests/assert.ts";
import { key as testKey } from "../../tests/keys.ts";
import { type Batch, Batcher, BUFFER_OVERHEAD_BYTES, type FlushReason } from "./batcher.ts";
import { EventBuffer, forEachEvent, MIN_CHUNK_BYTES } from "./event_buffer.ts";
import { addEventRun } from "./event_runs.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function setup(
  options: { flushBytes?: number; flushIntervalMs?: number; maxBufferedBytes?: number; maxOpenBuffers?: number } = {},
) {
  let now = 1_000;
  const flushed: Batch[] = [];
  const reasons: FlushReason[] = [];
  const batcher = new Batcher({
    onFlush: (b, reason) => {
      flushed.push(b);
      reasons.push(reason);
    },
    now: () => now,
    ...options,
  });
  const add = (group: string, stream: string, ...messages: string[]) => {
    const buffer = batcher.buffer(testKey(group, stream));
    for (const m of messages) buffer.append(enc.encode(m), now);
    batcher.afterAppend(buffer);
  };
  return { batcher, flushed, reasons, add, advance: (ms: number) => (now += ms) };
}

function messages(batch: Batch): string[] {
  const out: string[] = [];
  forEachEvent(batch, (m) => out.push(dec.decode(m)));
  return out;
}

Deno.test("Batcher keeps one buffer per (log group, log stream)", () => {
  const { batcher, flushed, add } = setup();
  add("/k/syslog/514", "10.0.0.1", "a1", "a2");
  add("/k/syslog/514", "10.0.0.2", "b1");
  add("/k/syslog/515", "10.0.0.1", "c1");
  batcher.flushAll();
  assertEquals(
    flushed.map((b) => [b.logGroup, b.logStream, messages(b)]),
    [
      ["/k/syslog/514", "10.0.0.1", ["a1", "a2"]],
      ["/k/syslog/514", "10.0.0.2", ["b1"]],
      ["/k/syslog/515", "10.0.0.1", ["c1"]],
    ],
  );
  assertEquals(batcher.bufferedBytes, 0);
});

Deno.test("Batcher flushes a buffer when it reaches the flush size", () => {
  const { flushed, add } = setup({ flushBytes: 10 });
  add("g", "s", "12345");
  assertEquals(flushed.length, 0);
  add("g", "s", "67890", "x");
  assertEquals(flushed.map(messages), [["12345", "67890", "x"]]);
  assertEquals(flushed[0]!.messageBytes, 11);
});

Deno.test("Batcher flushes a buffer when its first event reaches the flush interval", () => {
  const { batcher, flushed, add, advance } = setup({ flushIntervalMs: 60_000 });
  add("g", "s", "first");
  advance(59_999);
  add("g", "s", "second");
  batcher.flushDue();
  assertEquals(flushed.length, 0);
  advance(1);
  batcher.flushDue();
  assertEquals(flushed.map(messages), [["first", "second"]]);
  // The next batch's age counts from its own first event.
  add("g", "s", "third");
  advance(59_000);
  batcher.flushDue();
  assertEquals(flushed.length, 1);
});

Deno.test("Batcher flushes the largest buffer when the memory of all together exceeds their bound", () => {
  const small = MIN_CHUNK_BYTES + BUFFER_OVERHEAD_BYTES;
  const large = 2_012 + BUFFER_OVERHEAD_BYTES;
  const { batcher, flushed, reasons, add } = setup({ maxBufferedBytes: small + large + 100 });
  add("g", "small", "1234");
  add("g", "large", "x".repeat(2_000));
  assertEquals(flushed.length, 0);
  // Counted by what is allocated (a chunk, the buffer), not by message bytes.
  assertEquals(batcher.allocatedBytes, small + large);
  add("g", "medium", "12345678");
  assertEquals(flushed.map((b) => b.logStream), ["large"]);
  assertEquals(reasons, ["memory"]);
  assertEquals(batcher.bufferedBytes, 12);
  assertEquals(batcher.allocatedBytes, 2 * small);
});

Deno.test("Batcher caps the open buffers: a new sender past the cap flushes the oldest buffer", () => {
  const { batcher, flushed, reasons, add, advance } = setup({ maxOpenBuffers: 3 });
  for (const source of ["a", "b", "c"]) {
    add("g", source, `from ${source}`);
    advance(10);
  }
  add("g", "a", "again from a"); // an open buffer: no new one
  assertEquals(flushed.length, 0);
  add("g", "d", "from d");
  assertEquals(flushed.map(messages), [["from a", "again from a"]]);
  assertEquals(reasons, ["open_buffers"]);
  assertEquals(flushed[0]!.carry, false);
  assertEquals(batcher.openBuffers, 3);
  add("g", "e", "from e");
  assertEquals(flushed.map((b) => b.logStream), ["a", "b"]);
});

Deno.test("Batcher holds 50,000 quiet senders within the memory their buffers really take", () => {
  const { batcher, flushed } = setup({ maxOpenBuffers: 100_000, maxBufferedBytes: 1 << 30 });
  const message = enc.encode("<13>Nov 30 15:00:00 host app: " + "m".repeat(170));
  const before = Deno.memoryUsage();
  for (let i = 0; i < 50_000; i++) {
    const buffer = batcher.buffer(testKey("/kinesyslog/syslog/514", `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`));
    buffer.append(message, 0);
    batcher.afterAppend(buffer);
  }
  const after = Deno.memoryUsage();
  assertEquals(flushed.length, 0);
  assertEquals(batcher.openBuffers, 50_000);
  // The count the bound uses is what the buffers allocated: at most about 1.2 KB a sender,
  // and the process grew by no more than that count and a little.
  assertEquals(batcher.allocatedBytes, 50_000 * (MIN_CHUNK_BYTES + BUFFER_OVERHEAD_BYTES));
  const grew = after.heapUsed + after.external - before.heapUsed - before.external;
  assertEquals(grew < 1.5 * batcher.allocatedBytes, true, `grew ${grew} for ${batcher.allocatedBytes} counted`);
  batcher.flushAll();
  assertEquals([flushed.length, batcher.allocatedBytes, batcher.openBuffers], [50_000, 0, 0]);
});

Deno.test("Batcher forgets idle buffers", () => {
  const { batcher, flushed, add, advance } = setup({ flushIntervalMs: 1_000 });
  add("g", "s", "m");
  advance(1_000);
  batcher.flushDue(); // flushed
  batcher.flushDue(); // idle since: forgotten
  add("g", "s", "n");
  advance(1_000);
  batcher.flushDue();
  assertEquals(flushed.map(messages), [["m"], ["n"]]);
});

Deno.test("Batcher flushes at the raw size of a little more than one record, never above --flush-size", () => {
  const { batcher, flushed, add } = setup({ flushBytes: 8_388_608 });
  assertEquals(batcher.flushBytes, 8_388_608);
  // Records come out at 1/4 of the raw size: 1.05 records of 1,024,000 bytes is 4,300,800 raw bytes.
  batcher.observeCompression(0.25);
  assertEquals(batcher.flushBytes, 4_300_800);
  add("g", "s", "x".repeat(4_300_799));
  assertEquals(flushed.length, 0);
  add("g", "s", "y");
  assertEquals(flushed.length, 1);
  assertEquals(flushed[0]!.carry, true);
  // Text that compresses 100 times over would need 107 MB: the configured bound wins.
  for (let i = 0; i < 20; i++) batcher.observeCompression(0.01);
  assertEquals(batcher.flushBytes, 8_388_608);
  // Nonsense reports change nothing.
  batcher.observeCompression(0);
  batcher.observeCompression(Number.NaN);
  assertEquals(batcher.flushBytes, 8_388_608);
});

Deno.test("Batcher.requeue() puts handed-back events first, keeps their age, and never hands back twice at the end", () => {
  const { batcher, flushed, add, advance } = setup({ flushBytes: 10, flushIntervalMs: 5_000 });
  add("g", "s", "aaaa", "bbbb", "cccc");
  assertEquals([flushed.length, flushed[0]!.carry, flushed[0]!.firstAt], [1, true, 1_000]);
  advance(3_000);
  add("g", "s", "dddd");
  // The worker filled a record with "aaaa" and handed back the rest.
  const { chunks, lengths, count, messageBytes, ...key } = flushed[0]!;
  const buffer = new EventBuffer();
  buffer.append(enc.encode("bbbb"), 1_000);
  buffer.append(enc.encode("cccc"), 1_000);
  batcher.requeue({ ...key, ...buffer.take() });
  assertEquals(batcher.bufferedBytes, 0);
  assertEquals([chunks.length > 0, lengths.length > 0, count, messageBytes], [true, true, 3, 12]);
  // 12 bytes is over the flush size: flushed again at once, handed-back events first.
  assertEquals(flushed.length, 2);
  assertEquals(messages(flushed[1]!), ["bbbb", "cccc", "dddd"]);
  assertEquals(flushed[1]!.firstAt, 1_000);
  // By age and at shutdown, nothing may be handed back.
  add("g", "s", "e");
  advance(5_000);
  batcher.flushDue();
  add("g", "s", "f");
  batcher.flushAll();
  assertEquals(flushed.slice(2).map((b) => [messages(b), b.carry]), [[["e"], false], [["f"], false]]);
});

Deno.test("Batcher carries each buffer's journal runs into its batch, and back in front on requeue()", () => {
  const { batcher, flushed, advance } = setup({ flushBytes: 100 });
  const buffer = batcher.buffer(testKey("g", "s"));
  buffer.append(enc.encode("a"), 1_000);
  buffer.runs.push(4, 1);
  batcher.afterAppend(buffer);
  batcher.flushAll();
  assertEquals(flushed[0]!.runs, [4, 1]);
  assertEquals(buffer.runs, [], "a flushed buffer starts a new list");
  advance(10);
  const again = batcher.buffer(testKey("g", "s"));
  again.append(enc.encode("b"), 1_010);
  again.runs.push(5, 1);
  batcher.afterAppend(again);
  const back = new EventBuffer();
  back.append(enc.encode("a"), 1_000);
  const { chunks: _c, lengths: _l, count: _n, messageBytes: _m, carry: _carry, runs: _r, ...key } = flushed[0]!;
  batcher.requeue({ ...key, ...back.take(), runs: [4, 1] });
  batcher.flushAll();
  assertEquals([messages(flushed[1]!), flushed[1]!.runs], [["a", "b"], [4, 1, 5, 1]]);
});

Deno.test("Batcher.flushBefore() flushes the buffers whose first event is that old, and no others", () => {
  const { batcher, flushed, add, advance } = setup();
  add("g", "old", "1");
  advance(1_000);
  add("g", "new", "2");
  batcher.flushBefore(1_500);
  assertEquals(flushed.map((b) => [b.logStream, b.carry]), [["old", false]]);
});

Deno.test("Batcher keeps one buffer per sink, format and time zone for a sink whose records carry each event's source", () => {
  const flushed: Batch[] = [];
  const batcher = new Batcher({ onFlush: (b) => flushed.push(b), sharedSinks: [false, true] });
  for (const sink of [0, 1]) {
    for (const source of ["10.0.0.1", "10.0.0.2", "10.0.0.1"]) {
      const key = testKey("/k/syslog/514", source, { sink });
      const buffer = batcher.buffer(key);
      buffer.append(enc.encode(`${sink} ${source}`), 0);
      addEventRun(buffer.origins, 0, 1, { transport: "udp", stream: buffer.streamOf(key.logGroup, key.logStream) });
      batcher.afterAppend(buffer);
    }
  }
  batcher.buffer(testKey("/k/gelf/12201", "10.0.0.1", { sink: 1, format: "gelf" })).append(enc.encode("{}"), 0);
  assertEquals(batcher.openBuffers, 4, "two for sink 0 (a source each), one per format for sink 1");
  batcher.flushAll();
  const shared = flushed.find((b) => b.sink === 1 && b.format === "syslog")!;
  assertEquals(messages(shared), ["1 10.0.0.1", "1 10.0.0.2", "1 10.0.0.1"]);
  assertEquals(shared.streams.map((s) => s.logStream), ["10.0.0.1", "10.0.0.2"]);
  assertEquals(shared.origins.filter((_, i) => i % 4 === 3), [0, 1, 0], "each event's stream");
});

Deno.test("Batcher.requeue() renumbers the streams of events handed back into the buffer's own table", () => {
  const flushed: Batch[] = [];
  const batcher = new Batcher({ onFlush: (b) => flushed.push(b), sharedSinks: [true] });
  const put = (source: string, sequence: number) => {
    const key = testKey("/k/syslog/514", source);
    const buffer = batcher.buffer(key);
    buffer.append(enc.encode(source), 0);
    addEventRun(buffer.origins, sequence, 1, {
      transport: "tcp",
      stream: buffer.streamOf(key.logGroup, key.logStream),
    });
    batcher.afterAppend(buffer);
  };
  put("10.0.0.1", 1);
  put("10.0.0.2", 2);
  batcher.flushAll();
  const handedBack = flushed.pop()!;
  put("10.0.0.2", 3);
  batcher.requeue(handedBack);
  batcher.flushAll();
  const batch = flushed.pop()!;
  assertEquals(messages(batch), ["10.0.0.1", "10.0.0.2", "10.0.0.2"]);
  const streamOfEach = batch.origins.filter((_, i) => i % 4 === 3).map((n) => batch.streams[n]!.logStream);
  assertEquals(streamOfEach, ["10.0.0.1", "10.0.0.2", "10.0.0.2"]);
});

Deno.test("Batcher counts a shared buffer's table of sources toward its memory bound, and flushes it past the bound", () => {
  const flushed: [Batch, FlushReason][] = [];
  const maxBufferedBytes = 64 * 1_024;
  const batcher = new Batcher({
    onFlush: (b, reason) => flushed.push([b, reason]),
    sharedSinks: [true],
    maxBufferedBytes,
  });
  // A fleet of sources, one byte each: what the chunks hold stays small, the table does not.
  for (let i = 0; i < 1_000; i++) {
    const key = testKey("/k/syslog/514", `10.0.${i >> 8}.${i & 255}`);
    const buffer = batcher.buffer(key);
    buffer.append(enc.encode("x"), 0);
    addEventRun(buffer.origins, i, 1, { transport: "udp", stream: buffer.streamOf(key.logGroup, key.logStream) });
    batcher.afterAppend(buffer);
    assertEquals(batcher.allocatedBytes <= maxBufferedBytes, true, `${batcher.allocatedBytes} bytes held`);
  }
  assertEquals(flushed.length > 0 && flushed.every(([, reason]) => reason === "memory"), true);
  // Every event either flushed or still held (one byte each).
  assertEquals(flushed.reduce((n, [b]) => n + b.count, 0) + batcher.bufferedBytes, 1_000);
});

Deno.test("Batcher.resetSink flushes that sink's buffers alone (reason reload) and keys its next ones anew", () => {
  const { batcher, flushed, reasons } = setup();
  const put = (sink: number, stream: string, message: string) => {
    const buffer = batcher.buffer(testKey("/k/syslog/514", stream, { sink, sinkName: `s${sink}` }));
    buffer.append(enc.encode(message), 1_000);
    batcher.afterAppend(buffer);
  };
  put(0, "10.0.0.1", "a");
  put(1, "10.0.0.1", "b");
  put(1, "10.0.0.2", "c");
  batcher.resetSink(1, true);
  assertEquals([flushed.map((b) => [b.sink, messages(b)]), reasons], [[[1, ["b"]], [1, ["c"]]], ["reload", "reload"]]);
  assertEquals(batcher.openBuffers, 1, "sink 0's buffer stays");
  // Shared from now on: two sources of sink 1 in one buffer.
  put(1, "10.0.0.1", "d");
  put(1, "10.0.0.2", "e");
  assertEquals(batcher.openBuffers, 2);
  batcher.resetSink(1, false);
  put(1, "10.0.0.1", "f");
  put(1, "10.0.0.2", "g");
  assertEquals(batcher.openBuffers, 3, "one per source again");
});
