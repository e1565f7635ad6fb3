import { EventBuffer, forEachEvent } from "../batch/event_buffer.ts";
import { key } from "../../tests/keys.ts";
import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import {
  BlockWriter,
  decodeSegment,
  forEachBlockEvent,
  type JournalBlock,
  SEGMENT_MAGIC,
  WRITER_CHUNK_BYTES,
} from "./journal_format.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Written {
  format: "syslog" | "gelf";
  logGroup: string;
  logStream: string;
  messages: [string, number][];
}

function segment(blocks: Written[]): Uint8Array {
  const writer = new BlockWriter();
  for (const b of blocks) {
    writer.begin(key(b.logGroup, b.logStream, { format: b.format }));
    for (const [m, t] of b.messages) writer.add(enc.encode(m), t);
    writer.end();
  }
  return new Uint8Array([...SEGMENT_MAGIC, ...writer.take().flatMap((part) => [...part])]);
}

function read(block: JournalBlock): Written {
  const messages: [string, number][] = [];
  forEachBlockEvent(block, (m, t) => messages.push([dec.decode(m), t]));
  assertEquals(block.count, messages.length);
  return { format: block.format, logGroup: block.logGroup, logStream: block.logStream, messages };
}

const blocks: Written[] = [
  { format: "syslog", logGroup: "/k/syslog/514", logStream: "10.0.0.1", messages: [["<13>a", 1.5], ["<13>b", 2]] },
  { format: "gelf", logGroup: "/k/gelf/12201", logStream: "::1", messages: [['{"message":"é"}', 3]] },
];

Deno.test("journal blocks decode to the messages, names and times written", () => {
  const decoded = decodeSegment(segment(blocks));
  assertEquals(decoded.damage, undefined);
  assertEquals(decoded.blocks.map(read), blocks);
});

Deno.test("an empty block is taken back, and take() leaves an open block in place", () => {
  const writer = new BlockWriter();
  writer.begin(key("g", "s"));
  assertEquals(writer.end(), 0);
  assertEquals(writer.length, 0);
  writer.begin(key("g", "s"));
  writer.add(enc.encode("one"), 1);
  writer.end();
  writer.begin(key("g", "s2"));
  writer.add(enc.encode("two"), 2);
  const first = writer.take();
  assertEquals(writer.end(), 1);
  const second = writer.take();
  const whole = new Uint8Array([...SEGMENT_MAGIC, ...[...first, ...second].flatMap((part) => [...part])]);
  assertEquals(decodeSegment(whole).blocks.map(read).map((b) => b.messages), [[["one", 1]], [["two", 2]]]);
});

Deno.test("a segment without the magic is refused whole", () => {
  const decoded = decodeSegment(enc.encode("hello world, not a journal"));
  assertEquals(decoded.blocks.length, 0);
  assert(decoded.damage?.includes("magic"));
});

Deno.test("a segment cut anywhere decodes to the blocks before the cut, never throwing", () => {
  const whole = segment(blocks);
  assertEquals(decodeSegment(whole).goodBytes, whole.length);
  for (let cut = SEGMENT_MAGIC.length; cut < whole.length; cut++) {
    const decoded = decodeSegment(whole.subarray(0, cut));
    assert(decoded.blocks.length < blocks.length, `cut at ${cut}`);
    assertEquals(decoded.blocks.map(read), blocks.slice(0, decoded.blocks.length));
    const atBoundary = decoded.goodBytes === cut;
    assertEquals(decoded.damage === undefined, atBoundary, `cut at ${cut}: ${decoded.damage}`);
  }
});

Deno.test("property: any damage to a segment is found at or before the damaged block", () => {
  const message = fc.tuple(fc.string({ maxLength: 40 }), fc.double({ noNaN: true }));
  const block = fc.record({
    format: fc.constantFrom("syslog" as const, "gelf" as const),
    logGroup: fc.string({ maxLength: 20 }),
    logStream: fc.string({ maxLength: 20 }),
    messages: fc.array(message, { minLength: 1, maxLength: 5 }),
  });
  fc.assert(
    fc.property(fc.array(block, { minLength: 1, maxLength: 6 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (
      written,
      position,
      flip,
    ) => {
      // Strings round-trip through UTF-8 only when well formed.
      const expected = written.map((b) => ({
        ...b,
        logGroup: dec.decode(enc.encode(b.logGroup)),
        logStream: dec.decode(enc.encode(b.logStream)),
        messages: b.messages.map(([m, t]): [string, number] => [dec.decode(enc.encode(m)), t]),
      }));
      const bytes = segment(written);
      const at = SEGMENT_MAGIC.length + (position % (bytes.length - SEGMENT_MAGIC.length));
      bytes[at]! ^= flip;
      const decoded = decodeSegment(bytes);
      // Every block returned is one that was written, in order; the damaged one is not returned.
      assertEquals(decoded.blocks.map(read), expected.slice(0, decoded.blocks.length));
      assert(decoded.damage !== undefined);
      assert(decoded.goodBytes <= at);
    }),
    { numRuns: 300 },
  );
});

Deno.test("a block keeps the transport its messages came by; a block written without one reads as unknown", () => {
  const writer = new BlockWriter();
  for (const transport of ["udp", "tcp", "tls", "relp"] as const) {
    writer.begin(key("/k/gelf/12201", "10.0.0.1", { format: "gelf", transport }));
    writer.add(enc.encode("{}"), 1);
    writer.end();
  }
  writer.begin(key("/k/syslog/514", "10.0.0.1"));
  writer.add(enc.encode("<13>a"), 1);
  writer.end();
  const bytes = new Uint8Array([...SEGMENT_MAGIC, ...writer.take().flatMap((part) => [...part])]);
  const decoded = decodeSegment(bytes);
  assertEquals(decoded.damage, undefined);
  assertEquals(decoded.blocks.map((b) => `${b.format}/${b.transport}`), [
    "gelf/udp",
    "gelf/tcp",
    "gelf/tls",
    "gelf/relp",
    "syslog/unknown",
  ]);
});

Deno.test("blocks across chunk boundaries, one larger than a chunk, and takes between them decode whole", () => {
  const writer = new BlockWriter();
  const written: Written[] = [];
  const parts: Uint8Array[] = [];
  let seed = 7;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
  for (let b = 0; b < 400; b++) {
    const sizes = b === 200
      ? [WRITER_CHUNK_BYTES + 1_000]
      : Array.from({ length: 1 + (next() % 5) }, () => next() % 9_000);
    const messages = sizes.map((size, i): [string, number] => [String.fromCharCode(97 + (b + i) % 26).repeat(size), b]);
    writer.begin(key("/k/syslog/514", `10.0.0.${b % 7}`));
    for (const [m, t] of messages) writer.add(enc.encode(m), t);
    writer.end();
    written.push({ format: "syslog", logGroup: "/k/syslog/514", logStream: `10.0.0.${b % 7}`, messages });
    if (next() % 10 === 0) {
      // A take with a block open leaves it for the next take; what was taken is recycled.
      writer.begin(key("/k/syslog/514", "open"));
      const taken = writer.take();
      parts.push(...taken.map((part) => part.slice()));
      writer.recycle(taken);
      assertEquals(writer.end(), 0);
    }
  }
  parts.push(...writer.take());
  const whole = new Uint8Array([...SEGMENT_MAGIC, ...parts.flatMap((part) => [...part])]);
  const decoded = decodeSegment(whole);
  assertEquals(decoded.damage, undefined);
  assertEquals(decoded.blocks.map(read), written);
});

Deno.test("addEntries() writes the same block as add() of each message (a TCP intake worker's runs)", () => {
  const messages: [string, number][] = Array.from(
    { length: 3_000 },
    (_, i) => [`<13>message ${i} `.repeat(i % 7 + 1), i],
  );
  const one = new BlockWriter();
  const runs = new BlockWriter();
  const entries = new EventBuffer();
  for (const [m, t] of messages) entries.append(enc.encode(m), t);
  const packed = entries.take();
  for (const writer of [one, runs]) writer.begin(key("/k/syslog/514", "10.0.0.1", { transport: "tcp" }));
  for (const [m, t] of messages) one.add(enc.encode(m), t);
  for (const [c, chunk] of packed.chunks.entries()) {
    const run = new Uint8Array(chunk, 0, packed.lengths[c]);
    let count = 0;
    forEachEvent({ chunks: [chunk], lengths: [packed.lengths[c]!] }, () => count++);
    runs.addEntries(run, count);
  }
  assertEquals(runs.end(), one.end());
  const bytes = (w: BlockWriter) => w.take().flatMap((part) => [...part]);
  assertEquals(bytes(runs), bytes(one));
});

Deno.test("a block keeps its sink and time zone; a block written without them is the default sink's, in UTC", () => {
  const writer = new BlockWriter();
  writer.begin(key("/k/syslog/514", "10.0.0.1", { sink: 2, sinkName: "security", timeZone: "Europe/Berlin" }));
  writer.add(enc.encode("<13>a"), 1);
  writer.end();
  writer.begin(key("/k/syslog/514", "10.0.0.1", { sinkName: "default", timeZone: "Asia/Tokyo" }));
  writer.add(enc.encode("<13>b"), 1);
  writer.end();
  writer.begin(key("/k/syslog/514", "10.0.0.2", { sinkName: "apps", transport: "relp" }));
  writer.add(enc.encode("<13>c"), 1);
  writer.end();
  writer.begin(key("/k/syslog/514", "10.0.0.3"));
  writer.add(enc.encode("<13>d"), 1);
  writer.end();
  const bytes = new Uint8Array([...SEGMENT_MAGIC, ...writer.take().flatMap((part) => [...part])]);
  const decoded = decodeSegment(bytes);
  assertEquals(decoded.damage, undefined);
  assertEquals(decoded.blocks.map((b) => [b.sinkName, b.timeZone, b.transport, b.logStream, b.count]), [
    ["security", "Europe/Berlin", "unknown", "10.0.0.1", 1],
    ["default", "Asia/Tokyo", "unknown", "10.0.0.1", 1],
    ["apps", undefined, "relp", "10.0.0.2", 1],
    ["default", undefined, "unknown", "10.0.0.3", 1],
  ]);
  // A block without a destination is byte for byte what journals before routes wrote.
  // Its format byte: before the log group (2 + 13 bytes), the log stream (2 + 8) and the entry (12 + 5).
  assertEquals(bytes.at(-(17 + 10 + 15 + 1)), 0x00);
});

Deno.test("a block keeps the sequence number of its first message; one written without reads as none", () => {
  const writer = new BlockWriter();
  writer.begin(key("/k/syslog/514", "10.0.0.1", { transport: "tcp", sequence: 2 ** 40 + 7 }));
  writer.add(enc.encode("<13>numbered"), 1);
  writer.end();
  writer.begin(key("/k/syslog/514", "10.0.0.1", { transport: "udp", sinkName: "apps", sequence: 0 }));
  writer.add(enc.encode("<13>first of all"), 2);
  writer.end();
  writer.begin(key("/k/syslog/514", "10.0.0.2"));
  writer.add(enc.encode("<13>from an older journal"), 3);
  writer.end();
  const whole = new Uint8Array([...SEGMENT_MAGIC, ...writer.take().flatMap((part) => [...part])]);
  const decoded = decodeSegment(whole);
  assertEquals(decoded.damage, undefined);
  assertEquals(
    decoded.blocks.map((b) => [b.sequence, b.transport, b.sinkName]),
    [[2 ** 40 + 7, "tcp", "default"], [0, "udp", "apps"], [undefined, "unknown", "default"]],
  );
});
