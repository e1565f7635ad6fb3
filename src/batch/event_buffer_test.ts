import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { CHUNK_BYTES, EventBuffer, EventIndex, forEachEvent, type PackedEvents } from "./event_buffer.ts";

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
  // Two messages of half a chunk each cannot share one chunk.
  const big = "x".repeat(CHUNK_BYTES / 2);
  const events = packed(["a", big, big + "y", "bc"], 100);
  assertEquals(events.chunks.length, 2);
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
