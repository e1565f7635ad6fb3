import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import type { GelfChunk } from "./gelf_chunk.ts";
import { GELF_CHUNK_TIMEOUT_MS, type GelfDiscardReason, GelfReassembler } from "./gelf_reassembler.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The chunks of `text` cut into `count` pieces, for message `id`. */
function chunksOf(text: string, count: number, id = "AAAAAAAA"): GelfChunk[] {
  const bytes = enc.encode(text);
  const size = Math.ceil(bytes.length / count);
  return Array.from({ length: count }, (_, i) => ({
    id,
    sequence: i,
    count,
    data: bytes.subarray(i * size, (i + 1) * size),
  }));
}

function setup(options: Partial<ConstructorParameters<typeof GelfReassembler>[0]> = {}) {
  let now = 0;
  const discarded: [string, GelfDiscardReason][] = [];
  const reassembler = new GelfReassembler({
    maxPayloadBytes: 1_000,
    onDiscard: (source, reason) => discarded.push([source, reason]),
    now: () => now,
    ...options,
  });
  return { reassembler, discarded, advance: (ms: number) => (now += ms) };
}

function text(result: unknown): string {
  if (!(result instanceof Uint8Array)) throw new Error(`expected a payload, got ${String(result)}`);
  return dec.decode(result);
}

Deno.test("GelfReassembler joins chunks in any order and ignores duplicates", async (t) => {
  const message = '{"short_message":"' + "abcdefghij".repeat(20) + '"}';
  const orders: [string, number[]][] = [
    ["in order", [0, 1, 2, 3]],
    ["reversed", [3, 2, 1, 0]],
    ["shuffled", [2, 0, 3, 1]],
    ["with duplicates", [1, 1, 0, 2, 0, 3]],
  ];
  for (const [name, order] of orders) {
    await t.step(name, () => {
      const { reassembler, discarded } = setup();
      const chunks = chunksOf(message, 4);
      const results = order.map((i) => reassembler.add("10.0.0.1", chunks[i]!));
      assertEquals(text(results.pop()), message);
      assert(results.every((r) => r === "pending" || r === "duplicate"));
      assertEquals(results.filter((r) => r === "duplicate").length, order.length - 4);
      assertEquals([reassembler.pendingSets, reassembler.pendingBytes, discarded], [0, 0, []]);
    });
  }
  await t.step("a late copy of a chunk of a completed message is a duplicate, not a new message", () => {
    const { reassembler, discarded, advance } = setup();
    const chunks = chunksOf(message, 2);
    reassembler.add("10.0.0.1", chunks[0]!);
    text(reassembler.add("10.0.0.1", chunks[1]!));
    assertEquals(reassembler.add("10.0.0.1", chunks[1]!), "duplicate");
    advance(GELF_CHUNK_TIMEOUT_MS * 2);
    reassembler.expire();
    assertEquals([reassembler.pendingSets, discarded], [0, []]);
  });
  await t.step("a message of one chunk is returned at once", () => {
    const { reassembler } = setup();
    assertEquals(text(reassembler.add("10.0.0.1", chunksOf(message, 1)[0]!)), message);
    assertEquals(reassembler.pendingSets, 0);
  });
  await t.step("128 chunks", () => {
    const { reassembler } = setup({ maxPayloadBytes: 10_000 });
    const long = "x".repeat(128 * 3);
    const results = chunksOf(long, 128).reverse().map((c) => reassembler.add("10.0.0.1", c));
    assertEquals(text(results.at(-1)), long);
  });
});

Deno.test("GelfReassembler keeps senders and message ids apart", () => {
  const { reassembler } = setup();
  const a = chunksOf("from-a-with-id-1", 2, "11111111");
  const b = chunksOf("from-b-with-id-1", 2, "11111111");
  const c = chunksOf("from-a-with-id-2", 2, "22222222");
  reassembler.add("10.0.0.1", a[0]!);
  reassembler.add("10.0.0.2", b[1]!);
  reassembler.add("10.0.0.1", c[1]!);
  assertEquals(reassembler.pendingSets, 3);
  assertEquals(text(reassembler.add("10.0.0.2", b[0]!)), "from-b-with-id-1");
  assertEquals(text(reassembler.add("10.0.0.1", c[0]!)), "from-a-with-id-2");
  assertEquals(text(reassembler.add("10.0.0.1", a[1]!)), "from-a-with-id-1");
});

Deno.test("GelfReassembler expires incomplete messages after 5 s, by an injectable clock", () => {
  const { reassembler, discarded, advance } = setup();
  const old = chunksOf("old message here", 2, "OLDOLDOL");
  const young = chunksOf("young message", 2, "YOUNGYOU");
  reassembler.add("10.0.0.1", old[0]!);
  advance(3_000);
  reassembler.add("10.0.0.2", young[0]!);
  advance(GELF_CHUNK_TIMEOUT_MS - 3_000 - 1);
  reassembler.expire();
  assertEquals(discarded, []);
  advance(1);
  reassembler.expire();
  assertEquals(discarded, [["10.0.0.1", "chunks_expired"]]);
  assertEquals(reassembler.pendingSets, 1);
  // The expired message's last chunk arrives too late: ignored, not reported twice.
  assertEquals(reassembler.add("10.0.0.1", old[1]!), "duplicate");
  assertEquals(text(reassembler.add("10.0.0.2", young[1]!)), "young message");
  assertEquals(discarded.length, 1);
});

Deno.test("GelfReassembler refuses chunks that disagree and messages over the size bound", async (t) => {
  await t.step("a chunk whose count differs from its message's is ignored", () => {
    const { reassembler } = setup();
    const chunks = chunksOf("abcdef", 2);
    reassembler.add("10.0.0.1", chunks[0]!);
    assertEquals(reassembler.add("10.0.0.1", { ...chunks[1]!, count: 3 }), "bad_sequence");
    assertEquals(text(reassembler.add("10.0.0.1", chunks[1]!)), "abcdef");
  });
  await t.step("a message whose chunks exceed maxPayloadBytes is given up once", () => {
    const { reassembler, discarded, advance } = setup({ maxPayloadBytes: 100 });
    const chunks = chunksOf("y".repeat(160), 3);
    assertEquals(reassembler.add("10.0.0.1", chunks[0]!), "pending");
    assertEquals(reassembler.add("10.0.0.1", chunks[1]!), "oversize");
    assertEquals([reassembler.pendingSets, reassembler.pendingBytes], [0, 0]);
    assertEquals(reassembler.add("10.0.0.1", chunks[2]!), "duplicate");
    advance(GELF_CHUNK_TIMEOUT_MS);
    reassembler.expire();
    assertEquals(discarded, []);
  });
  await t.step("a single chunk over maxPayloadBytes", () => {
    const { reassembler } = setup({ maxPayloadBytes: 10 });
    assertEquals(reassembler.add("10.0.0.1", chunksOf("z".repeat(11), 1)[0]!), "oversize");
  });
});

Deno.test("GelfReassembler bounds pending messages: a flooding sender evicts its own first", async (t) => {
  await t.step("per-sender bytes", () => {
    const { reassembler, discarded } = setup({
      maxPayloadBytes: 100,
      maxPendingBytesPerSender: 300,
      maxPendingBytes: 10_000,
    });
    const good = chunksOf("g".repeat(100), 2, "GOODGOOD");
    reassembler.add("10.0.0.9", good[0]!);
    for (let i = 0; i < 20; i++) reassembler.add("10.0.0.1", chunksOf("f".repeat(200), 2, `FLOOD${i}`.padEnd(8))[0]!);
    assertEquals(discarded.length, 17);
    assert(discarded.every(([source, reason]) => source === "10.0.0.1" && reason === "chunks_evicted"));
    assert(reassembler.pendingBytes <= 300 + 50);
    assertEquals(text(reassembler.add("10.0.0.9", good[1]!)), "g".repeat(100));
  });
  await t.step("total sets and bytes", () => {
    const { reassembler, discarded } = setup({ maxPendingSets: 4 });
    for (let i = 0; i < 10; i++) reassembler.add(`10.0.0.${i}`, chunksOf("abcd", 2, `ID${i}`.padEnd(8))[0]!);
    assertEquals(reassembler.pendingSets, 4);
    assertEquals(discarded.map(([s]) => s), ["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]);
    const bytes = setup({ maxPayloadBytes: 100, maxPendingBytesPerSender: 100, maxPendingBytes: 250 });
    for (let i = 0; i < 10; i++) {
      bytes.reassembler.add(`10.0.0.${i}`, chunksOf("b".repeat(200), 4, `ID${i}`.padEnd(8))[0]!);
    }
    assert(bytes.reassembler.pendingBytes <= 250);
    assertEquals(bytes.discarded.length, 10 - bytes.reassembler.pendingSets);
  });
  await t.step("discardAll() reports every incomplete message", () => {
    const { reassembler, discarded } = setup();
    reassembler.add("10.0.0.1", chunksOf("abcd", 2, "AAAAAAAA")[0]!);
    reassembler.add("10.0.0.2", chunksOf("abcd", 2, "BBBBBBBB")[0]!);
    reassembler.discardAll();
    assertEquals(discarded, [["10.0.0.1", "chunks_incomplete"], ["10.0.0.2", "chunks_incomplete"]]);
    assertEquals([reassembler.pendingSets, reassembler.pendingBytes], [0, 0]);
  });
  await t.step("bounds that cannot hold one message are refused", () => {
    let threw = false;
    try {
      setup({ maxPayloadBytes: 100, maxPendingBytesPerSender: 50 });
    } catch (error) {
      threw = error instanceof RangeError;
    }
    assert(threw);
  });
});

Deno.test("GelfReassembler never throws and stays within its bounds on random chunks", () => {
  const chunk = fc.record({
    source: fc.constantFrom("10.0.0.1", "10.0.0.2", "::1"),
    id: fc.constantFrom("AAAAAAAA", "BBBBBBBB", "CCCCCCCC"),
    count: fc.integer({ min: 1, max: 128 }),
    sequence: fc.integer({ min: 0, max: 127 }),
    data: fc.uint8Array({ maxLength: 300 }),
    wait: fc.integer({ min: 0, max: 2_000 }),
  }).filter((c) => c.sequence < c.count);
  fc.assert(
    fc.property(fc.array(chunk, { maxLength: 200 }), (chunks) => {
      const { reassembler, advance } = setup({
        maxPayloadBytes: 1_000,
        maxPendingBytesPerSender: 2_000,
        maxPendingBytes: 3_000,
        maxPendingSets: 5,
      });
      for (const c of chunks) {
        advance(c.wait);
        const result = reassembler.add(c.source, c);
        if (result instanceof Uint8Array) assert(result.length <= 1_000);
        assert(reassembler.pendingBytes <= 3_000 && reassembler.pendingSets <= 5);
      }
    }),
    { numRuns: 300 },
  );
});
