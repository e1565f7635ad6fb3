import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import { type RelpFrame, RelpFramer } from "./relp_framer.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Framed {
  frames: string[];
  error: string | undefined;
}

/** Frames `input` fed in chunks of the given sizes (cycled); frames as `txnr command len data`. */
function frame(input: Uint8Array | string, chunkSizes: number[] = [input.length || 1], max = 65_536): Framed {
  const bytes = typeof input === "string" ? enc.encode(input) : input;
  const framer = new RelpFramer({ maxDataBytes: max });
  const out: RelpFrame[] = [];
  const frames: string[] = [];
  let at = 0;
  let i = 0;
  while (at < bytes.length) {
    const size = Math.max(1, chunkSizes[i++ % chunkSizes.length]!);
    const chunk = bytes.slice(at, at + size);
    framer.push(chunk, out);
    // Frames are read before the next chunk (views into a chunk are valid only until then).
    for (const f of out.splice(0)) frames.push(`${f.txnr} ${f.command} ${f.dataBytes} ${dec.decode(f.data)}`);
    // A chunk handed over may be reused by the reader: the framer must not keep views of it.
    chunk.fill(0x21);
    at += size;
  }
  return { frames, error: framer.error };
}

const OFFERS = "relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog";
const OPEN = `1 open ${OFFERS.length} ${OFFERS}\n`;

Deno.test("RelpFramer reads the frames rsyslog's omrelp sends", async (t) => {
  const table: [string, string, string[]][] = [
    ["open with offers", OPEN, [`1 open ${OFFERS.length} ${OFFERS}`]],
    ["syslog messages", "2 syslog 5 <13>a\n3 syslog 5 <13>b\n", ["2 syslog 5 <13>a", "3 syslog 5 <13>b"]],
    ["close has no data and no space", "4 close 0\n", ["4 close 0 "]],
    ["LF and spaces inside data are data", "5 syslog 6 a\nb c\n\n", ["5 syslog 6 a\nb c\n"]],
    ["a hint on txnr 0", "0 serverclose 0\n", ["0 serverclose 0 "]],
    ["nine-digit numbers", "999999999 syslog 1 x\n", ["999999999 syslog 1 x"]],
  ];
  for (const [name, input, expected] of table) {
    await t.step(name, () => {
      assertEquals(frame(input), { frames: expected, error: undefined });
      for (let size = 1; size <= 5; size++) {
        assertEquals(frame(input, [size]), { frames: expected, error: undefined }, `chunks of ${size}`);
      }
    });
  }
});

Deno.test("RelpFramer stops at the first byte that breaks the grammar", async (t) => {
  const table: [string, string, string[], string][] = [
    ["plain syslog on a RELP port", "<13>hello\n", [], "bad_txnr"],
    ["a txnr of ten digits", "1234567890 syslog 1 x\n", [], "bad_txnr"],
    ["no command", "1  5 hello\n", [], "bad_command"],
    ["a command of 33 letters", `1 ${"a".repeat(33)} 0\n`, [], "bad_command"],
    ["a digit in the command", "1 sys1og 1 x\n", [], "bad_command"],
    ["no data length", "1 syslog x\n", [], "bad_datalen"],
    ["a data length of ten digits", "1 syslog 1234567890 x\n", [], "bad_datalen"],
    ["data shorter than announced, then another frame", "1 syslog 9 abc\n2 syslog 1 x\n", [], "missing_trailer"],
    ["a space after a zero length", "1 close 0 \n", [], "missing_trailer"],
    ["good frames before the damage are kept", "1 syslog 1 a\n2 syslog 1 bc\n", ["1 syslog 1 a"], "missing_trailer"],
  ];
  for (const [name, input, frames, error] of table) {
    await t.step(name, () => {
      assertEquals(frame(input), { frames, error });
      assertEquals(frame(input, [1]), { frames, error }, "byte by byte");
    });
  }
});

Deno.test("RelpFramer keeps maxDataBytes of longer data and reports its full length", () => {
  const data = "<13>" + "x".repeat(96);
  const input = `1 syslog ${data.length} ${data}\n2 syslog 3 abc\n`;
  const expected = [`1 syslog 100 ${data.slice(0, 10)}`, "2 syslog 3 abc"];
  for (const size of [1, 3, 7, 50, 1000]) {
    assertEquals(frame(input, [size], 10), { frames: expected, error: undefined }, `chunks of ${size}`);
  }
});

Deno.test("RelpFramer holds about the bytes of a frame trickled byte by byte, not the read buffers", () => {
  const framer = new RelpFramer();
  const out: RelpFrame[] = [];
  const head = enc.encode("1 syslog 1000 ");
  for (const b of head) framer.push(Uint8Array.of(b), out);
  for (let i = 0; i < 500; i++) {
    const chunk = new Uint8Array(65_536).subarray(0, 1);
    chunk[0] = 0x61;
    framer.push(chunk, out);
  }
  assert(framer.inFrame);
  assert(framer.heldBytes <= 1024, `held ${framer.heldBytes}`);
  assertEquals(out.length, 0);
});

Deno.test("RelpFramer: any re-chunking of the same bytes gives the same frames (property)", () => {
  const frameArb = fc.record({
    txnr: fc.integer({ min: 0, max: 999_999_999 }),
    command: fc.constantFrom("open", "syslog", "close", "rsp", "abcdefghijklmnopqrstuvwxyzABCDEF"),
    data: fc.uint8Array({ maxLength: 40 }),
  });
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1 }), (
      frames,
      sizes,
    ) => {
      const parts: Uint8Array[] = [];
      for (const f of frames) {
        parts.push(enc.encode(`${f.txnr} ${f.command} ${f.data.length}${f.data.length > 0 ? " " : ""}`));
        parts.push(f.data, enc.encode("\n"));
      }
      const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) (bytes.set(p, at), at += p.length);
      const whole = frame(bytes, [bytes.length || 1], 25);
      assertEquals(whole.error, undefined);
      assertEquals(whole.frames.length, frames.length);
      assertEquals(frame(bytes, sizes, 25), whole);
    }),
  );
});
