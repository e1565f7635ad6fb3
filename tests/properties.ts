/**
 * Property checks over the input edge, shared by `property_test.ts` (a fast subset in
 * `deno task test`) and `scripts/fuzz.ts` (`deno task fuzz`, a million frames and more).
 * Each feeds random and mutated inputs, cut at random chunk boundaries, through the real
 * modules, and checks that nothing throws, that damage does not spread past the rule the
 * module documents, and that what is held stays within its bound. Each returns the number
 * of frames (messages, headers, datagrams) it pushed through.
 *
 * @module
 */
import fc from "fast-check";
import { deflateSync } from "node:zlib";
import { assert, assertEquals } from "./assert.ts";
import { SyslogFramer } from "../src/framing/syslog_framer.ts";
import { buildProxyV2, parseProxyHeader } from "../src/framing/proxy_header.ts";
import { parseGelfChunk } from "../src/framing/gelf_chunk.ts";
import { GelfReassembler } from "../src/framing/gelf_reassembler.ts";
import { decodeGelfPayload } from "../src/parse/gelf_payload.ts";
import { parseGelfMessage } from "../src/parse/gelf_message.ts";
import { parseSyslogTimestamp } from "../src/parse/syslog_timestamp.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One property: its name, and a run of `numRuns` cases that returns the frames checked. */
export interface Property {
  name: string;
  run: (numRuns: number, seed?: number) => number;
}

/** Cuts `bytes` at the given sizes (cycled) and feeds every piece to `push`. */
function chunked(bytes: Uint8Array, sizes: number[], push: (piece: Uint8Array) => void): void {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    push(bytes.slice(at, at + size));
    at += size;
  }
}

function frame(bytes: Uint8Array, sizes: number[], options: { max?: number; gelf?: boolean } = {}): string[] {
  const framer = new SyslogFramer({ maxMessageBytes: options.max ?? 65_536, gelf: options.gelf ?? false });
  const out: Uint8Array[] = [];
  chunked(bytes, sizes, (piece) => framer.push(piece, out));
  framer.finish(out);
  for (const f of out) assert(f.length <= (options.max ?? 65_536), `a frame of ${f.length} bytes`);
  return out.map((f) => dec.decode(f));
}

const sizes = fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 8 });
/** Message text without delimiters, as a syslog line is. */
const lineText = fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 60 })
  .map((s) => s.replace(/[\n\r\0]/g, "_"));

const properties: Property[] = [
  {
    name: "syslog LF framing: one damaged byte spoils at most the frame it hits and the next",
    run(numRuns, seed) {
      let frames = 0;
      fc.assert(
        fc.property(fc.array(lineText, { minLength: 2, maxLength: 30 }), fc.nat(), fc.nat(255), sizes, (
          texts,
          where,
          value,
          chunks,
        ) => {
          const messages = texts.map((t) => `<13>${t}`);
          const bytes = enc.encode(messages.map((m) => m + "\n").join(""));
          const at = where % bytes.length;
          // The message the damaged byte belongs to (the LFs before it).
          const hit = bytes.subarray(0, at).filter((b) => b === 0x0a).length;
          bytes[at] = value;
          const out = frame(bytes, chunks);
          frames += messages.length;
          // Every other frame arrives, whole and in order: damage splits the message it hits
          // (a new LF or NUL) or merges it with the next (its LF overwritten), no more.
          const spared = messages.filter((_, i) => i !== hit && i !== hit + 1);
          let j = 0;
          for (const f of out) if (j < spared.length && f === spared[j]) j++;
          assertEquals(j, spared.length, `frames lost around byte ${at}: ${JSON.stringify(out)}`);
          assert(out.length <= messages.length + 2);
        }),
        { numRuns, ...(seed === undefined ? {} : { seed }) },
      );
      return frames;
    },
  },
  {
    name: "octet counting: damage inside a message never desynchronises the frames after it",
    run(numRuns, seed) {
      let frames = 0;
      const message = fc.uint8Array({ minLength: 1, maxLength: 80 }).map((b) => new Uint8Array([0x3c, ...b]));
      fc.assert(
        fc.property(fc.array(message, { minLength: 1, maxLength: 30 }), fc.nat(), fc.nat(), fc.nat(255), sizes, (
          messages,
          which,
          where,
          value,
          chunks,
        ) => {
          const k = which % messages.length;
          // Damage anywhere but the first byte: a count must be followed by "<" (the rule
          // that keeps "404 not found" a line), so a damaged "<" makes that frame a line.
          const damaged = messages.map((m, i) => {
            if (i !== k) return m;
            const copy = m.slice();
            copy[1 + (where % (copy.length - 1))] = value;
            return copy;
          });
          const parts = damaged.flatMap((m) => [enc.encode(`${m.length} `), m]);
          const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let at = 0;
          for (const p of parts) {
            bytes.set(p, at);
            at += p.length;
          }
          const out = frame(bytes, chunks);
          frames += messages.length;
          // Every message is read verbatim, each exactly its count (trailing delimiters trimmed).
          const expected = damaged.map((m) => dec.decode(m).replace(/[\n\r\0]+$/, ""));
          assertEquals(out, expected);
        }),
        { numRuns, ...(seed === undefined ? {} : { seed }) },
      );
      return frames;
    },
  },
  {
    name: "any bytes, any chunking: the framer never throws, keeps frames within the bound, ignores chunking",
    run(numRuns, seed) {
      let frames = 0;
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), sizes, fc.boolean(), (bytes, chunks, gelf) => {
          const whole = frame(bytes, [bytes.length || 1], { max: 64, gelf });
          const pieces = frame(bytes, chunks, { max: 64, gelf });
          assertEquals(pieces, whole);
          for (const f of whole) parseSyslogTimestamp(f, 0);
          frames += whole.length;
        }),
        { numRuns, ...(seed === undefined ? {} : { seed }) },
      );
      return frames;
    },
  },
  {
    name: "PROXY headers: damaged or cut headers never throw, and an answer never changes as bytes arrive",
    run(numRuns, seed) {
      const v1 = enc.encode("PROXY TCP4 192.0.2.1 198.51.100.2 40000 514\r\n");
      const v2 = buildProxyV2({ address: "2001:db8::1", port: 1 }, { address: "::1", port: 2 }, [
        { type: 1, value: enc.encode("h2") },
      ]);
      let frames = 0;
      fc.assert(
        fc.property(
          fc.constantFrom(v1, v2),
          fc.array(fc.tuple(fc.nat(200), fc.nat(255)), { maxLength: 3 }),
          fc.uint8Array({ maxLength: 40 }),
          (base, edits, rest) => {
            const header = base.slice();
            for (const [at, value] of edits) header[at % header.length] = value;
            const bytes = new Uint8Array([...header, ...rest]);
            const final = parseProxyHeader(bytes);
            // A prefix is "incomplete" or already the final answer (a decided answer is stable).
            for (let n = 0; n <= bytes.length; n++) {
              const partial = parseProxyHeader(bytes.subarray(0, n));
              if (partial === "incomplete") continue;
              if (typeof partial === "string") assertEquals(partial, final);
              else assertEquals(typeof final === "string" ? final : final.length, partial.length);
              break;
            }
            frames++;
          },
        ),
        { numRuns, ...(seed === undefined ? {} : { seed }) },
      );
      return frames;
    },
  },
  {
    name: "chunked GELF: shuffled, duplicated and stray chunks give each whole message once, within the bounds",
    run(numRuns, seed) {
      let frames = 0;
      const doc = fc.record({ short_message: lineText.map((t) => `m ${t}`), host: fc.constantFrom("a", "b") });
      fc.assert(
        fc.property(
          fc.array(fc.tuple(doc, fc.integer({ min: 8, max: 64 })), { minLength: 1, maxLength: 6 }),
          fc.array(fc.uint8Array({ maxLength: 30 }), { maxLength: 5 }),
          fc.nat(),
          (docs, strays, shuffle) => {
            const completed: string[] = [];
            const reassembler = new GelfReassembler({
              maxPayloadBytes: 4_096,
              maxPendingBytes: 8_192,
              maxPendingBytesPerSender: 8_192,
              onDiscard: () => {},
            });
            const datagrams: Uint8Array[] = [];
            const single = new Set<number>();
            docs.forEach(([d, size], n) => {
              const payload = deflateSync(enc.encode(JSON.stringify({ ...d, version: "1.1", n })));
              const count = Math.ceil(payload.length / size);
              if (count === 1) single.add(n);
              for (let i = 0; i < count; i++) {
                const chunk = new Uint8Array([0x1e, 0x0f, 0, 0, 0, 0, 0, 0, 0, n, i, count]);
                datagrams.push(new Uint8Array([...chunk, ...payload.subarray(i * size, (i + 1) * size)]));
                if ((shuffle >> i) & 1) datagrams.push(datagrams.at(-1)!); // a duplicate
              }
            });
            // Strays: anything after the magic, with an id none of the messages has.
            for (const s of strays) {
              const stray = new Uint8Array([0x1e, 0x0f, ...s]);
              if (stray.length > 9) stray[9] = 0xff;
              datagrams.push(stray);
            }
            // A deterministic shuffle.
            let x = shuffle | 1;
            for (let i = datagrams.length - 1; i > 0; i--) {
              x = (x * 1103515245 + 12345) & 0x7fffffff;
              const j = x % (i + 1);
              [datagrams[i], datagrams[j]] = [datagrams[j]!, datagrams[i]!];
            }
            for (const datagram of datagrams) {
              frames++;
              const chunk = parseGelfChunk(datagram);
              if (typeof chunk === "string") continue;
              const result = reassembler.add("10.0.0.1", chunk);
              assert(reassembler.pendingBytes <= 8_192);
              if (typeof result === "string") continue;
              const json = decodeGelfPayload(result, 65_536);
              if (typeof json === "string") continue;
              const parsed = parseGelfMessage(json);
              if (typeof parsed !== "string") completed.push(dec.decode(json));
            }
            // Every message whose chunks all came arrives, a chunked one exactly once (a
            // message of one chunk, like an unchunked datagram, passes each time it comes).
            const ns = completed.map((j) => JSON.parse(j).n as number).filter((n) => !single.has(n));
            assertEquals(new Set(ns).size, ns.length, "no chunked message twice");
            const all = new Set(completed.map((j) => JSON.parse(j).n as number));
            for (let n = 0; n < docs.length; n++) assert(all.has(n), `message ${n} lost`);
          },
        ),
        { numRuns, ...(seed === undefined ? {} : { seed }) },
      );
      return frames;
    },
  },
  {
    name: "GELF payloads and documents: random or damaged bytes are refused with a reason, never thrown",
    run(numRuns, seed) {
      let frames = 0;
      const good = deflateSync(enc.encode('{"version":"1.1","host":"h","short_message":"m","timestamp":1.5}'));
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 200 }),
            fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }).map((edits) => {
              const copy = good.slice();
              for (const [at, v] of edits) copy[at % copy.length] = v;
              return copy;
            }),
          ),
          (bytes) => {
            const json = decodeGelfPayload(bytes, 4_096);
            if (typeof json !== "string") {
              assert(json.length <= 4_096);
              parseGelfMessage(json);
            }
            parseGelfMessage(bytes);
            frames++;
          },
        ),
        { numRuns, ...(seed === undefined ? {} : { seed }) },
      );
      return frames;
    },
  },
];

export default properties;
