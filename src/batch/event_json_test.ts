import fc from "fast-check";
import { assertEquals } from "../../tests/assert.ts";
import { EventJsonWriter, utf8SequenceLength } from "./event_json.ts";
import { eventId } from "./event_id.ts";

const dec = new TextDecoder();
const standard = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** What the writer must produce for one message: JSON.stringify of the decoded text. */
function expected(id: string, timestamp: number, message: Uint8Array): string {
  return `,{"id":"${id}","timestamp":${timestamp},"message":${JSON.stringify(standard.decode(message))}}`;
}

function written(message: Uint8Array): string {
  const writer = new EventJsonWriter(16);
  writer.add("id-1", 1700000000123, message);
  return dec.decode(writer.bytes());
}

Deno.test("EventJsonWriter writes exactly what JSON.stringify gives", async (t) => {
  const table: [string, number[] | string][] = [
    ["plain ASCII", "<13>hello world"],
    ["quotes and backslashes", '<13>say "hi" C:\\path'],
    ["control bytes and DEL", "\x00\x01\x08\x09\x0a\x0b\x0c\x0d\x1f\x7f"],
    ["UTF-8 BOM and accents", "\uFEFFh\u00e9llo \u2603 \u{1F600}"],
    ["U+2028 and U+2029", "a\u2028b\u2029c"],
    ["invalid: lone continuation", [0x3c, 0x80, 0x41]],
    ["invalid: truncated sequence at end", [0x41, 0xe2, 0x82]],
    ["invalid: overlong", [0xc0, 0xaf]],
    ["invalid: surrogate", [0xed, 0xa0, 0x80]],
    ["invalid: above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ];
  for (const [name, input] of table) {
    await t.step(name, () => {
      const bytes = typeof input === "string" ? new TextEncoder().encode(input) : new Uint8Array(input);
      assertEquals(written(bytes), expected("id-1", 1700000000123, bytes));
    });
  }
});

Deno.test("EventJsonWriter matches JSON.stringify on random bytes and random text", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      assertEquals(written(bytes), expected("id-1", 1700000000123, bytes));
    }),
    { numRuns: 2_000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 64 }), (text) => {
      const bytes = new TextEncoder().encode(text);
      assertEquals(written(bytes), expected("id-1", 1700000000123, bytes));
    }),
    { numRuns: 2_000 },
  );
});

Deno.test("EventJsonWriter keeps event boundaries as its buffer grows, and starts over after reset()", () => {
  const writer = new EventJsonWriter(8);
  const messages = ["<13>a", "<13>\u00e9", "<13>" + "x".repeat(5_000)];
  messages.forEach((m, i) => writer.add("i", 1, new TextEncoder().encode(m), i > 0));
  const each = JSON.parse(`[${dec.decode(writer.bytes())}]`).map((e: { message: string }) => e.message);
  assertEquals(each, messages);
  writer.reset();
  assertEquals([writer.length, writer.bytes().length], [0, 0]);
});

Deno.test("utf8SequenceLength() accepts exactly the well-formed sequences", () => {
  // Every 1- and 2-byte prefix against TextDecoder in fatal mode.
  const fatal = new TextDecoder("utf-8", { fatal: true });
  for (let a = 0; a < 256; a++) {
    for (let b = 0; b < 256; b++) {
      const bytes = new Uint8Array([a, b, 0x80, 0x80]);
      const n = utf8SequenceLength(bytes, 0);
      if (n > 0) fatal.decode(bytes.subarray(0, n)); // throws when not well-formed
      else if (a >= 0x80) {
        let ok = false;
        for (const len of [2, 3, 4]) {
          try {
            fatal.decode(bytes.subarray(0, len));
            ok = true;
          } catch { /* expected */ }
        }
        assertEquals(ok, false, `bytes ${a.toString(16)} ${b.toString(16)} are well-formed`);
      }
    }
  }
});

Deno.test("EventJsonWriter.addNumbered() writes what add() writes with the id eventId() makes", () => {
  const instance = "07350112847565103211";
  for (
    const [sequence, timestamp] of [[0, 0], [7, 1_700_000_000_123], [Number.MAX_SAFE_INTEGER, 9], [4_294_967_296, -5]]
  ) {
    const message = new TextEncoder().encode('<13>1 - h a - - - "quoted"\n');
    const a = new EventJsonWriter(16);
    a.add(eventId(instance, sequence!), timestamp!, message, false);
    const b = new EventJsonWriter(16);
    b.addNumbered(new TextEncoder().encode(instance), sequence!, timestamp!, message, false);
    assertEquals(new TextDecoder().decode(b.bytes()), new TextDecoder().decode(a.bytes()));
    assertEquals(JSON.parse(new TextDecoder().decode(b.bytes())).id, eventId(instance, sequence!));
  }
});

Deno.test("EventJsonWriter.addNumbered() writes each id as eventId() does, in runs that count up, carry and jump", () => {
  const instance = "07350112847565103211";
  const message = new TextEncoder().encode("<13>1 - h a - - - m");
  // Runs of consecutive numbers from starts just below a carry (…0999 -> …1000), and jumps
  // back and forth between them, as a record's events and a replayed journal give them.
  const start = fc.oneof(
    fc.constantFrom(0, 9, 99, 999_999, 10 ** 15 - 3, Number.MAX_SAFE_INTEGER - 12),
    fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 20 }),
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(start, fc.integer({ min: 1, max: 12 })), { minLength: 1, maxLength: 6 }), (runs) => {
      const writer = new EventJsonWriter(16);
      const ids: string[] = [];
      for (const [first, length] of runs) {
        for (let sequence = first; sequence < first + length; sequence++) {
          writer.addNumbered(new TextEncoder().encode(instance), sequence, 5, message, ids.length > 0);
          ids.push(eventId(instance, sequence));
        }
      }
      const events = JSON.parse(`[${new TextDecoder().decode(writer.bytes())}]`) as { id: string }[];
      assertEquals(events.map((e) => e.id), ids);
    }),
    { numRuns: 2_000 },
  );
});
