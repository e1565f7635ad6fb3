import { assertEquals } from "../../tests/assert.ts";
import { type Batch, Batcher } from "./batcher.ts";
import { forEachEvent } from "./event_buffer.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function setup(options: { flushBytes?: number; flushIntervalMs?: number; maxBufferedBytes?: number } = {}) {
  let now = 1_000;
  const flushed: Batch[] = [];
  const batcher = new Batcher({ onFlush: (b) => flushed.push(b), now: () => now, ...options });
  const add = (group: string, stream: string, ...messages: string[]) => {
    const buffer = batcher.buffer(group, stream);
    for (const m of messages) buffer.append(enc.encode(m), now);
    batcher.afterAppend(buffer);
  };
  return { batcher, flushed, add, advance: (ms: number) => (now += ms) };
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

Deno.test("Batcher flushes the largest buffer when all together exceed their bound", () => {
  const { batcher, flushed, add } = setup({ maxBufferedBytes: 20 });
  add("g", "small", "1234");
  add("g", "large", "1234567890");
  assertEquals(flushed.length, 0);
  add("g", "medium", "12345678");
  assertEquals(flushed.map((b) => b.logStream), ["large"]);
  assertEquals(batcher.bufferedBytes, 12);
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

Deno.test("Batcher flushes at the raw size that fills about one record, never above --flush-size", () => {
  const { batcher, flushed, add } = setup({ flushBytes: 4_194_304 });
  assertEquals(batcher.flushBytes, 4_194_304);
  // Records come out at 1/4 of the raw size: 93% of 1,024,000 bytes needs 3,809,280 raw bytes.
  batcher.observeCompression(0.25);
  assertEquals(batcher.flushBytes, 3_809_280);
  add("g", "s", "x".repeat(3_809_279));
  assertEquals(flushed.length, 0);
  add("g", "s", "y");
  assertEquals(flushed.length, 1);
  // Text that compresses 100 times over would need 95 MB: the configured bound wins.
  for (let i = 0; i < 20; i++) batcher.observeCompression(0.01);
  assertEquals(batcher.flushBytes, 4_194_304);
  // Nonsense reports change nothing.
  batcher.observeCompression(0);
  batcher.observeCompression(Number.NaN);
  assertEquals(batcher.flushBytes, 4_194_304);
});
