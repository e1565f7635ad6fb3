import fc from "fast-check";
import { deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { assert, assertEquals } from "../../tests/assert.ts";
import { decodeGelfPayload, detectGelfEncoding } from "./gelf_payload.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const json = '{"version":"1.1","host":"h","short_message":"' + "payload ".repeat(40) + '"}';

Deno.test("detectGelfEncoding() tells zlib, gzip and plain JSON apart by the first bytes", async (t) => {
  const table: [string, Uint8Array, string][] = [
    ["zlib, default level (78 9c)", deflateSync(enc.encode(json)), "zlib"],
    ["zlib, level 1 (78 01)", deflateSync(enc.encode(json), { level: 1 }), "zlib"],
    ["zlib, level 9 (78 da)", deflateSync(enc.encode(json), { level: 9 }), "zlib"],
    ["zlib, small window (28 ..)", deflateSync(enc.encode(json), { windowBits: 10 }), "zlib"],
    ["gzip", gzipSync(enc.encode(json)), "gzip"],
    ["plain JSON", enc.encode(json), "plain"],
    ["plain JSON after white space", enc.encode(" \n" + json), "plain"],
    ["one byte", new Uint8Array([0x78]), "plain"],
    ["78 00 is not a zlib header (check bits)", new Uint8Array([0x78, 0x00, 1]), "plain"],
  ];
  for (const [name, bytes, expected] of table) {
    await t.step(name, () => assertEquals(detectGelfEncoding(bytes), expected));
  }
});

Deno.test("decodeGelfPayload() decompresses within the bound and refuses the rest", async (t) => {
  for (
    const [name, bytes] of [["zlib", deflateSync(enc.encode(json))], ["gzip", gzipSync(enc.encode(json))]] as const
  ) {
    await t.step(`${name} payload`, () => {
      const out = decodeGelfPayload(bytes, 65_536);
      assert(out instanceof Uint8Array);
      assertEquals(dec.decode(out), json);
    });
  }
  await t.step("plain payload is returned as is", () => {
    const bytes = enc.encode(json);
    assertEquals(decodeGelfPayload(bytes, 65_536) === bytes, true);
    assertEquals(decodeGelfPayload(bytes, bytes.length - 1), "oversize");
  });
  await t.step("output of exactly the bound is kept, one byte more is refused", () => {
    const bytes = deflateSync(enc.encode(json));
    assert(decodeGelfPayload(bytes, json.length) instanceof Uint8Array);
    assertEquals(decodeGelfPayload(bytes, json.length - 1), "decompressed_too_large");
  });
  await t.step("a decompression bomb (64 MiB of zeros in 64 KB) is refused without allocating it", () => {
    const zeros = new Uint8Array(64 * 1_048_576);
    const bomb = gzipSync(zeros);
    const before = Deno.memoryUsage().rss;
    const started = performance.now();
    assertEquals(decodeGelfPayload(bomb, 65_536), "decompressed_too_large");
    assert(performance.now() - started < 1_000, "stops at the bound, not at the end");
    assert(Deno.memoryUsage().rss - before < 32 * 1_048_576, "did not allocate the output");
  });
  const table: [string, Uint8Array][] = [
    ["zlib header, garbage after", new Uint8Array([0x78, 0x9c, 1, 2, 3, 4, 5])],
    ["truncated zlib", deflateSync(enc.encode(json)).subarray(0, 20)],
    ["truncated gzip", gzipSync(enc.encode(json)).subarray(0, 30)],
    ["gzip magic only", new Uint8Array([0x1f, 0x8b])],
    ["raw deflate behind a zlib header", new Uint8Array([0x78, 0x9c, ...deflateRawSync(enc.encode("x")).subarray(1)])],
  ];
  for (const [name, bytes] of table) {
    await t.step(name, () => assertEquals(decodeGelfPayload(bytes, 65_536), "decompress_error"));
  }
});

Deno.test("decodeGelfPayload() never throws and never returns more than the bound on random input", () => {
  const compressed = fc.uint8Array({ maxLength: 2_000 }).chain((raw) =>
    fc.tuple(fc.constantFrom("zlib", "gzip"), fc.nat({ max: 2_100 }), fc.uint8Array({ maxLength: 8 })).map(
      ([how, cut, noise]) => {
        const full = how === "zlib" ? deflateSync(raw) : gzipSync(raw);
        const mutated = new Uint8Array([...full.subarray(0, cut), ...noise]);
        return mutated;
      },
    )
  );
  fc.assert(
    fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 2_000 }), compressed),
      fc.integer({ min: 1, max: 3_000 }),
      (b, max) => {
        const out = decodeGelfPayload(b, max);
        if (out instanceof Uint8Array) assert(out.length <= max);
        else assert(["decompress_error", "decompressed_too_large", "oversize"].includes(out));
      },
    ),
    { numRuns: 1_000 },
  );
});

Deno.test("decodeGelfPayload() returns the whole message whatever it inflates to (output buffers sized by the payload)", async (t) => {
  // From a few times the payload (one output buffer) to hundreds of times (many, joined).
  for (const size of [300, 5_000, 60_000]) {
    const text = '{"version":"1.1","host":"h","short_message":"' + "x".repeat(size) + '"}';
    const bytes = new TextEncoder().encode(text);
    for (const [name, compress] of [["zlib", deflateSync], ["gzip", gzipSync]] as const) {
      await t.step(`${name}, ${size} bytes`, () => {
        const out = decodeGelfPayload(compress(bytes), 65_536);
        assert(typeof out !== "string", String(out));
        assertEquals(new TextDecoder().decode(out), text);
      });
    }
  }
});
