import { assertEquals } from "../../tests/assert.ts";
import { GELF_CHUNK_HEADER_BYTES, isGelfChunk, MAX_GELF_CHUNKS, parseGelfChunk } from "./gelf_chunk.ts";

/** A chunk datagram with id bytes 1..8, the given sequence and count, and `data`. */
function chunkBytes(sequence: number, count: number, data: number[] = [0x7b], id = [1, 2, 3, 4, 5, 6, 7, 8]) {
  return new Uint8Array([0x1e, 0x0f, ...id, sequence, count, ...data]);
}

Deno.test("parseGelfChunk() reads the header and refuses what GELF 1.1 forbids", async (t) => {
  await t.step("a valid chunk", () => {
    const chunk = parseGelfChunk(chunkBytes(2, 3, [0x61, 0x62]));
    if (typeof chunk === "string") throw new Error(chunk);
    assertEquals([chunk.sequence, chunk.count, [...chunk.data]], [2, 3, [0x61, 0x62]]);
    assertEquals(chunk.id, "\x01\x02\x03\x04\x05\x06\x07\x08");
  });
  const table: [string, Uint8Array, string][] = [
    ["shorter than the header", chunkBytes(0, 1, []).subarray(0, GELF_CHUNK_HEADER_BYTES - 1), "bad_chunk_header"],
    ["no magic", new Uint8Array(20), "bad_chunk_header"],
    [`a count of ${MAX_GELF_CHUNKS + 1}`, chunkBytes(0, MAX_GELF_CHUNKS + 1), "too_many_chunks"],
    ["a count of 255", chunkBytes(0, 255), "too_many_chunks"],
    ["a count of 0", chunkBytes(0, 0), "bad_sequence"],
    ["a sequence number equal to the count", chunkBytes(3, 3), "bad_sequence"],
    ["a sequence number above the count", chunkBytes(9, 2), "bad_sequence"],
  ];
  for (const [name, bytes, expected] of table) {
    await t.step(name, () => assertEquals(parseGelfChunk(bytes), expected));
  }
  await t.step("a chunk without data (gelf-pro's last chunk when the payload fills the others exactly)", () => {
    const chunk = parseGelfChunk(chunkBytes(1, 2, []));
    assertEquals(typeof chunk === "object" && chunk.data.length, 0);
  });
  await t.step(`${MAX_GELF_CHUNKS} chunks are allowed`, () => {
    assertEquals(typeof parseGelfChunk(chunkBytes(MAX_GELF_CHUNKS - 1, MAX_GELF_CHUNKS)), "object");
  });
});

Deno.test("isGelfChunk() looks at the magic bytes only", () => {
  assertEquals(isGelfChunk(new Uint8Array([0x1e, 0x0f])), true);
  assertEquals(isGelfChunk(new Uint8Array([0x1e])), false);
  assertEquals(isGelfChunk(new TextEncoder().encode('{"short_message":"x"}')), false);
  assertEquals(isGelfChunk(new Uint8Array([0x78, 0x9c, 1, 2])), false);
});
