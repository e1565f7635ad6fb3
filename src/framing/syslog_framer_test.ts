import fc from "fast-check";
import { assertEquals } from "../../tests/assert.ts";
import { SyslogFramer } from "./syslog_framer.ts";
import { SyslogFrameStream } from "./syslog_frame_stream.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Frames `input` fed in the given chunk sizes (cycled), as strings. */
function frame(input: Uint8Array | string, chunkSizes: number[] = [input.length || 1], max = 65_536, gelf = false) {
  const bytes = typeof input === "string" ? enc.encode(input) : input;
  const truncated: number[] = [];
  const framer = new SyslogFramer({ maxMessageBytes: max, onTruncated: (n) => truncated.push(n), gelf });
  const out: Uint8Array[] = [];
  let at = 0;
  let i = 0;
  while (at < bytes.length) {
    const size = Math.max(1, chunkSizes[i++ % chunkSizes.length]!);
    framer.push(bytes.slice(at, at + size), out);
    at += size;
  }
  framer.finish(out);
  return { frames: out.map((f) => dec.decode(f)), truncated };
}

Deno.test("SyslogFramer splits frames by the rule of each frame", async (t) => {
  const table: [string, string, string[]][] = [
    ["LF-delimited", "<13>a\n<13>b\n", ["<13>a", "<13>b"]],
    ["CRLF-delimited, CR stripped", "<13>a\r\n<13>b\r\n", ["<13>a", "<13>b"]],
    ["NUL-delimited", "<13>a\0<13>b\0", ["<13>a", "<13>b"]],
    ["octet-counted", "5 <13>a5 <13>b", ["<13>a", "<13>b"]],
    ["octet count including a trailing LF (rsyslog)", "6 <13>a\n6 <13>b\n", ["<13>a", "<13>b"]],
    ["octet-counted and LF frames mixed", "5 <13>a<13>b\n5 <13>c", ["<13>a", "<13>b", "<13>c"]],
    ["blank lines and stray delimiters skipped", "\n\n\0<13>a\n\r\n\n<13>b\n\0\0", ["<13>a", "<13>b"]],
    ["final frame without delimiter delivered at close", "<13>a\n<13>b", ["<13>a", "<13>b"]],
    ["PRI-less line starting with digits and a space", "404 not found\n<13>x\n", ["404 not found", "<13>x"]],
    ["digits then a space then no <", "12 ab\n", ["12 ab"]],
    ["digits with no space", "12345\n", ["12345"]],
    ["leading zero is not a count", "05 <13>ab\n", ["05 <13>ab"]],
    ["digits at close", "123", ["123"]],
    ["digits and a space at close", "123 ", ["123 "]],
    ["announced count longer than what came", "10 <13>ab", ["<13>ab"]],
    ["LF inside an octet-counted frame is kept", "9 <13>a\nb\nc\n", ["<13>a\nb\nc"]],
    ["UTF-8 and a BOM kept verbatim", "<13>1 - - - - - - \uFEFFh\u00e9llo \u2603\n", [
      "<13>1 - - - - - - \uFEFFh\u00e9llo \u2603",
    ]],
  ];
  for (const [name, input, expected] of table) {
    await t.step(name, () => {
      assertEquals(frame(input).frames, expected);
      // Every split of the input gives the same frames.
      for (let size = 1; size <= 4; size++) assertEquals(frame(input, [size]).frames, expected, `chunks of ${size}`);
    });
  }
});

Deno.test("SyslogFramer truncates oversize frames and keeps sync", async (t) => {
  await t.step("octet-counted frame over the limit keeps its head and skips the rest", () => {
    const big = "<13>" + "x".repeat(96);
    const { frames, truncated } = frame(`${big.length} ${big}5 <13>a`, [7], 64);
    assertEquals(frames, [big.slice(0, 64), "<13>a"]);
    assertEquals(truncated, [100]);
  });
  await t.step("delimited frame over the limit keeps its head and resyncs at LF", () => {
    const big = "<13>" + "y".repeat(200);
    const { frames, truncated } = frame(`${big}\n<13>b\n`, [3, 50], 64);
    assertEquals(frames, [big.slice(0, 64), "<13>b"]);
    assertEquals(truncated, [204]);
  });
  await t.step("a frame of exactly the limit is not truncated", () => {
    const exact = "<13>" + "z".repeat(60);
    const { frames, truncated } = frame(`${exact}\n`, [1], 64);
    assertEquals(frames, [exact]);
    assertEquals(truncated, []);
  });
});

Deno.test("SyslogFramer yields the same frames however the bytes are chunked", () => {
  const message = fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 })
    .map((s) => "<13>" + s.replace(/[\n\0\r]/g, "_"));
  const framed = fc.tuple(message, fc.constantFrom("lf", "crlf", "nul", "octet")).map(([m, how]) => {
    const bytes = enc.encode(m);
    switch (how) {
      case "lf":
        return m + "\n";
      case "crlf":
        return m + "\r\n";
      case "nul":
        return m + "\0";
      default:
        return `${bytes.length} ${m}`;
    }
  });
  fc.assert(
    fc.property(
      fc.array(framed, { minLength: 1, maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 10 }),
      (frames, sizes) => {
        const input = enc.encode(frames.join(""));
        const whole = frame(input).frames;
        assertEquals(frame(input, sizes).frames, whole);
        assertEquals(whole.length, frames.length);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("SyslogFramer never throws and bounds frames on random bytes", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 400 }),
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }),
      (bytes, sizes) => {
        const { frames } = frame(bytes, sizes, 32);
        for (const f of frames) if (enc.encode(f).length > 32 * 3) throw new Error("frame over bound");
        assertEquals(frame(bytes, sizes, 32).frames, frame(bytes, [bytes.length || 1], 32).frames);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("SyslogFramer in GELF mode splits at NUL only", async (t) => {
  const table: [string, string, string[]][] = [
    ["NUL-delimited JSON", '{"a":1}\0{"b":2}\0', ['{"a":1}', '{"b":2}']],
    ["a trailing LF after the NUL is skipped", '{"a":1}\0\n{"b":2}\0\n', ['{"a":1}', '{"b":2}']],
    ["a trailing CRLF before the NUL is stripped", '{"a":1}\r\n\0{"b":2}\0', ['{"a":1}', '{"b":2}']],
    ["raw LFs between tokens stay inside the frame", '{"a":\n1}\0', ['{"a":\n1}']],
    ["white space between frames skipped", ' \t\r\n\0\0{"a":1}\0  ', ['{"a":1}']],
    ["digits are not an octet count", '12 <13>x\0{"a":1}', ["12 <13>x", '{"a":1}']],
    ["final frame without NUL delivered at close", '{"a":1}\0{"b":2}', ['{"a":1}', '{"b":2}']],
  ];
  for (const [name, input, expected] of table) {
    await t.step(name, () => {
      for (let size = 1; size <= 4; size++) {
        assertEquals(frame(input, [size], 65_536, true).frames, expected, `chunks of ${size}`);
      }
    });
  }
  await t.step("an oversize frame is dropped, counted, and the next frame kept", () => {
    const big = `{"short_message":"${"x".repeat(100)}"}`;
    const { frames, truncated } = frame(`${big}\0{"a":1}\0`, [7], 64, true);
    assertEquals(frames, ['{"a":1}']);
    assertEquals(truncated, [big.length]);
  });
});

Deno.test("SyslogFrameStream frames every syslog and GELF stream capture of real clients into its messages", async (t) => {
  const wire = new URL("../../tests/fixtures/wire/", import.meta.url);
  let captures = 0;
  for await (const dir of Deno.readDir(wire)) {
    const stream = new URL(`${dir.name}/stream.bin`, wire);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(stream);
    } catch {
      continue;
    }
    const gelf = dir.name.startsWith("graypy");
    captures++;
    await t.step(dir.name, async () => {
      for (const size of [bytes.length, 1, 7, 100]) {
        const chunks: Uint8Array[] = [];
        for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.slice(at, at + size));
        const frames: string[] = [];
        await ReadableStream.from(chunks).pipeThrough(new SyslogFrameStream({ gelf })).pipeTo(
          new WritableStream({ write: (batch) => void frames.push(...batch.map((f) => dec.decode(f))) }),
        );
        assertEquals(frames.length, 3, `${dir.name} in chunks of ${size}`);
        frames.forEach((f, i) => {
          if (gelf) JSON.parse(f);
          else if (!f.startsWith("<")) throw new Error(`frame ${i} does not start with a PRI: ${f.slice(0, 20)}`);
          if (/[\r\n\0]$/.test(f)) throw new Error(`frame ${i} keeps a trailing delimiter`);
        });
        const seq = frames.map((f) => /(?:HSEQ:\w+:|seq: 0*)(\d+)/.exec(f)?.[1]);
        if (seq.some((s) => s === undefined)) throw new Error(`a frame has no sequence marker: ${frames}`);
      }
    });
  }
  assertEquals(captures >= 14, true, "the stream captures in tests/fixtures were not found");
});

Deno.test("SyslogFramer in GELF mode yields the same documents however the bytes are chunked", () => {
  const doc = fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ unit: "grapheme" }), fc.double()))
    .map((o) => JSON.stringify({ short_message: "m", ...o }));
  const framed = fc.tuple(doc, fc.constantFrom("\0", "\0\n", "\n\0")).map(([d, end]) => d + end);
  fc.assert(
    fc.property(
      fc.array(framed, { minLength: 1, maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 10 }),
      (frames, sizes) => {
        const input = enc.encode(frames.join(""));
        const whole = frame(input, undefined, 65_536, true).frames;
        assertEquals(frame(input, sizes, 65_536, true).frames, whole);
        assertEquals(whole, frames.map((f) => f.replace(/[\0\n]+$/, "")));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("SyslogFramer keeps an unfinished frame in storage of its own, not in the read buffers", async (t) => {
  for (const [name, prefix] of [["a line", ""], ["an octet-counted frame", "1000 "]] as const) {
    await t.step(name, () => {
      const framer = new SyslogFramer();
      const out: Uint8Array[] = [];
      const line = prefix + "<13>" + "x".repeat(996) + (prefix === "" ? "\n" : "");
      const bytes = enc.encode(line);
      const views: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i++) {
        // Each byte arrives as a view into a 64 KiB read buffer, as Deno's `conn.readable` gives them.
        const readBuffer = new Uint8Array(65_536);
        readBuffer[0] = bytes[i]!;
        const view = readBuffer.subarray(0, 1);
        views.push(view);
        framer.push(view, out);
        if (i < bytes.length - 1) {
          // Held storage grows by doubling: never more than twice the bytes of the frame so far.
          assertEquals(framer.heldBytes <= Math.max(256, 2 * (i + 1)), true, `held ${framer.heldBytes} at byte ${i}`);
          // ...and holds every byte of the frame so far, so the read buffers can go.
          if (i >= prefix.length) assertEquals(framer.heldBytes >= i + 1 - prefix.length, true, `byte ${i}`);
        }
      }
      framer.finish(out);
      assertEquals(out.map((f) => dec.decode(f)), [line.replace(/^1000 /, "").replace(/\n$/, "")]);
      assertEquals(out.some((f) => views.some((v) => v.buffer === f.buffer)), false);
      assertEquals(framer.heldBytes, 0);
    });
  }
});

Deno.test("SyslogFramer.discard() forgets an unfinished frame and ignores what follows", () => {
  const framer = new SyslogFramer();
  const out: Uint8Array[] = [];
  framer.push(enc.encode("<13>done\n<13>never fin"), out);
  assertEquals(framer.discard(), true);
  framer.push(enc.encode("ished\n<13>later\n"), out);
  framer.finish(out);
  assertEquals(out.map((f) => dec.decode(f)), ["<13>done"]);
  assertEquals(framer.discard(), false);
  const idle = new SyslogFramer();
  idle.push(enc.encode("<13>whole\n"), []);
  assertEquals(idle.discard(), false);
});
