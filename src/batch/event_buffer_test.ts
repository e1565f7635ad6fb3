import { assertEquals, assertThrows } from "../../tests/assert.ts";
import {
  CHUNK_BYTES,
  ENTRY_HEADER_BYTES,
  EventBuffer,
  EventIndex,
  forEachEvent,
  type PackedEvents,
} from "./event_buffer.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function packed(messages: string[], at = 0): PackedEvents {
  const buffer = new EventBuffer();
  messages.forEach((m, i) => buffer.append(enc.encode(m), at + i));
  return buffer.take();
}

function all(events: PackedEvents): [string, number][] {
  const out: [string, number][] = [];
  forEachEvent(events, (m, t) => out.push([dec.decode(m), t]));
  return out;
}

Deno.test("EventIndex reads any event, sums message bytes and copies a range, across chunks", () => {
  // A small first chunk; then two messages of half a chunk each cannot share one chunk.
  const big = "x".repeat(CHUNK_BYTES / 2);
  const events = packed(["a", big, big + "y", "bc"], 100);
  assertEquals(events.chunks.length, 3);
  const index = new EventIndex(events);
  assertEquals(index.count, 4);
  assertEquals(dec.decode(index.message(3)), "bc");
  assertEquals(index.message(2).length, CHUNK_BYTES / 2 + 1);
  assertEquals(index.time(2), 102);
  assertEquals(index.messageBytes(0, 4), events.messageBytes);
  assertEquals(index.messageBytes(3, 4), 2);
  const tail = index.copy(1, 4);
  assertEquals([tail.count, tail.messageBytes, tail.chunks.length], [3, CHUNK_BYTES + 3, 1]);
  assertEquals(all(tail), [[big, 101], [big + "y", 102], ["bc", 103]]);
  assertEquals(index.copy(4, 4), { chunks: [], lengths: [], count: 0, messageBytes: 0 });
});

Deno.test("EventIndex refuses packed events whose count or entries do not add up", () => {
  const events = packed(["one", "two"]);
  assertThrows(() => new EventIndex({ ...events, count: 3 }), RangeError, "2 entries, not 3");
  assertThrows(() => new EventIndex({ ...events, lengths: [events.lengths[0]! - 1] }), RangeError, "runs past");
});

Deno.test("EventBuffer.prepend() puts events back before those held, without copying them", () => {
  const buffer = new EventBuffer();
  buffer.append(enc.encode("new"), 5);
  const back = packed(["old1", "old2"], 1);
  const chunk = back.chunks[0]!;
  buffer.prepend(back);
  assertEquals([buffer.count, buffer.messageBytes], [3, 11]);
  const taken = buffer.take();
  assertEquals(taken.chunks[0], chunk);
  assertEquals(all(taken), [["old1", 1], ["old2", 2], ["new", 5]]);
});

Deno.test("EventBuffer allocates about what it holds: a small first chunk, then doubling up to CHUNK_BYTES", () => {
  const buffer = new EventBuffer();
  assertEquals(buffer.allocatedBytes, 0);
  const message = enc.encode("<13>" + "m".repeat(196));
  buffer.append(message, 1);
  // One 200-byte message from a quiet sender costs one small chunk, not CHUNK_BYTES.
  assertEquals(buffer.allocatedBytes <= 1_024, true, `allocated ${buffer.allocatedBytes}`);
  let held = message.length + ENTRY_HEADER_BYTES;
  while (held < 8 * CHUNK_BYTES) {
    buffer.append(message, 1);
    held += message.length + ENTRY_HEADER_BYTES;
    // Never more than about twice what it holds (each chunk may leave less than an entry free).
    assertEquals(buffer.allocatedBytes <= 2 * (held + 1_024), true, `${buffer.allocatedBytes} for ${held}`);
  }
  const taken = buffer.take();
  assertEquals(taken.chunks.every((c) => c.byteLength <= CHUNK_BYTES), true);
  assertEquals(buffer.allocatedBytes, 0);
  const back = packed(["x", "y"]);
  buffer.prepend(back);
  assertEquals(buffer.allocatedBytes, back.chunks[0]!.byteLength);
});

Deno.test("EventBuffer.appendEntries() packs runs as append() packs each event, across chunk boundaries", () => {
  // Messages of 1 to 3,000 bytes, handed over in runs of 1 to 400 entries.
  const messages = Array.from({ length: 2_000 }, (_, i) => enc.encode("m".repeat((i * 7_919) % 3_000 + 1)));
  const one = new EventBuffer();
  for (const [i, m] of messages.entries()) one.append(m, i);
  const runs = new EventBuffer();
  for (let i = 0; i < messages.length;) {
    const n = Math.min(messages.length - i, (i * 31) % 400 + 1);
    const run = new EventBuffer();
    for (let j = i; j < i + n; j++) run.append(messages[j]!, j);
    const packed = run.take();
    let bytes = 0;
    for (let j = i; j < i + n; j++) bytes += messages[j]!.length;
    // A run of whole entries as one array, as a TCP intake worker hands it over.
    const entries = new Uint8Array(packed.lengths.reduce((a, b) => a + b, 0));
    let at = 0;
    for (const [c, chunk] of packed.chunks.entries()) {
      entries.set(new Uint8Array(chunk, 0, packed.lengths[c]), at);
      at += packed.lengths[c]!;
    }
    runs.appendEntries(entries, n, bytes);
    i += n;
  }
  assertEquals([runs.count, runs.messageBytes, runs.allocatedBytes], [one.count, one.messageBytes, one.allocatedBytes]);
  const a = one.take();
  const b = runs.take();
  assertEquals(b.lengths, a.lengths);
  assertEquals(
    b.chunks.map((c, i) => [...new Uint8Array(c, 0, b.lengths[i])]),
    a.chunks.map((c, i) => [...new Uint8Array(c, 0, a.lengths[i])]),
  );
});
