import fc from "fast-check";
import { gzipSync } from "node:zlib";
import { assert, assertEquals } from "../../tests/assert.ts";
import { gelfDatagrams, randomText } from "../../tests/gelf_sender.ts";
import { Batcher } from "../batch/batcher.ts";
import { forEachEvent } from "../batch/event_buffer.ts";
import { Logger } from "../log.ts";
import { Metrics } from "../metrics/metrics.ts";
import { GelfDatagrams } from "./gelf_datagrams.ts";
import { Ingest, type ListenerInfo } from "./ingest.ts";
import { Pressure } from "./pressure.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const info: ListenerInfo = {
  label: "gelf-udp/12201",
  name: "test",
  port: 12201,
  timeZone: undefined,
  format: "gelf",
  transport: "udp",
};

/** A GELF UDP pipeline into a real batcher, with what it delivered, dropped and logged. */
function pipeline(maxMessageBytes = 65_536, reassembly = {}) {
  const delivered: { message: string; time: number; source: string }[] = [];
  const batcher = new Batcher({
    onFlush: (batch) =>
      forEachEvent(
        batch,
        (bytes, time) => delivered.push({ message: dec.decode(bytes), time, source: batch.logStream }),
      ),
  });
  const metrics = new Metrics();
  const lines: string[] = [];
  const pressure = new Pressure({ spoolBytes: () => 0, spoolMaxBytes: 1, backlogBytes: () => 0, maxBacklogBytes: 1 });
  const ingest = new Ingest(batcher, pressure, metrics, new Logger({ write: (line) => lines.push(line) }));
  // As the UDP listener takes what the receive worker made of the datagrams.
  const gelf = new GelfDatagrams({
    sink: {
      // Every datagram here arrived at time 5 (the worker stamps a pack with its first arrival).
      message: (source, json) => ingest.acceptDatagrams(info, source, [json], 5),
      refused: (source, reason) => ingest.dropped(info, source, reason),
      duplicate: () => metrics.gelfDuplicateChunks.inc({ listener: info.label }),
    },
    maxMessageBytes,
    reassembly,
  });
  const drops = async () => {
    const metric = await metrics.registry.getSingleMetric("kinesyslog_messages_dropped_total")!.get();
    return Object.fromEntries(metric.values.map((v) => [String(v.labels.reason), v.value])) as Record<string, number>;
  };
  const flush = () => {
    batcher.flushAll();
    return delivered;
  };
  // deno-lint-ignore require-await
  const pending = async () => ({ sets: gelf.pendingSets, bytes: gelf.pendingBytes });
  return { gelf, flush, drops, lines, pending };
}

/** A message of about `bytes` bytes that compresses poorly. */
function gelfMessage(n: number, bytes: number): string {
  return JSON.stringify({
    version: "1.1",
    host: "h",
    short_message: `m${n}`,
    full_message: randomText(bytes),
    timestamp: 1e9 + n,
  });
}

/** The datagrams of `json`, compressed by `compress`, in chunks of `chunkBytes`. */
function datagrams(json: string, compress: "zlib" | "gzip" | "none", chunkBytes: number): Uint8Array[] {
  return gelfDatagrams(json, { compress, chunkBytes });
}

Deno.test("GelfDatagrams delivers every GELF UDP capture of real clients and refuses the malformed one", async () => {
  const wire = new URL("../../tests/fixtures/wire/", import.meta.url);
  const { gelf, flush, drops } = pipeline();
  let sent = 0;
  for await (const dir of Deno.readDir(wire)) {
    if (!/gelf.*udp|graypy-udp/.test(dir.name)) continue;
    const files = [...Deno.readDirSync(new URL(`${dir.name}/`, wire))].map((f) => f.name).sort();
    for (const file of files) gelf.handle(await Deno.readFile(new URL(`${dir.name}/${file}`, wire)), "10.9.8.7");
    sent++;
  }
  assert(sent >= 8, "the GELF UDP captures in tests/fixtures were not found");
  const delivered = flush();
  // 3 messages per capture, 2 in the hand-made gzip one (a chunked message and a datagram).
  assertEquals(delivered.length, 3 * 6 + 2);
  for (const event of delivered) {
    const parsed = JSON.parse(event.message);
    assert(typeof parsed.short_message === "string" && event.source === "10.9.8.7");
    assertEquals(event.time, typeof parsed.timestamp === "number" ? Math.floor(parsed.timestamp * 1000) : 5);
  }
  // npm gelf 2.0 writes a short chunk header: its 3 datagrams are refused (never delivered).
  const refused = await drops();
  assertEquals(Object.values(refused).reduce((a, b) => a + b, 0), 3);
});

Deno.test("GelfDatagrams reassembles large zlib, gzip and plain messages from interleaved senders", () => {
  const { gelf, flush } = pipeline();
  const expected: string[] = [];
  const queues: Uint8Array[][] = [];
  const hows = ["zlib", "gzip", "none"] as const;
  for (let i = 0; i < 9; i++) {
    const json = gelfMessage(i, 9_000);
    expected.push(json);
    queues.push(datagrams(json, hows[i % 3]!, 1_420));
  }
  // Round-robin over messages, so chunks of different messages interleave, last chunk first.
  for (const q of queues) q.reverse();
  while (queues.some((q) => q.length > 0)) {
    queues.forEach((q, i) => {
      const d = q.shift();
      if (d !== undefined) gelf.handle(d, `10.0.0.${i % 2}`);
    });
  }
  assertEquals(flush().map((e) => e.message).sort(), expected.sort());
});

Deno.test("GelfDatagrams counts each refusal by reason and logs it with the sender", async () => {
  const { gelf, flush, drops, lines } = pipeline(1_000);
  const good = enc.encode('{"short_message":"ok"}');
  const cases: Uint8Array[] = [
    new Uint8Array([0x1e, 0x0f, 1, 2, 3]), // bad_chunk_header
    new Uint8Array([0x1e, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 129, 0x7b]), // too_many_chunks
    new Uint8Array([0x1e, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 5, 2, 0x7b]), // bad_sequence
    new Uint8Array([0x78, 0x9c, 1, 2, 3]), // decompress_error
    gzipSync(new Uint8Array(100_000)), // decompressed_too_large
    enc.encode(`{"short_message":"${"x".repeat(2_000)}"}`), // oversize
    enc.encode("<13>syslog sent to a GELF port"), // invalid_json
    enc.encode("[1,2]"), // not_object
    enc.encode('{"host":"h"}'), // missing_message
  ];
  for (const d of cases) {
    gelf.handle(d, "10.6.6.6");
    gelf.handle(good, "10.1.1.1");
  }
  assertEquals(await drops(), {
    bad_chunk_header: 1,
    too_many_chunks: 1,
    bad_sequence: 1,
    decompress_error: 1,
    decompressed_too_large: 1,
    oversize: 1,
    invalid_json: 1,
    not_object: 1,
    missing_message: 1,
  });
  assertEquals(flush().filter((e) => e.source === "10.1.1.1").length, cases.length);
  assert(lines.every((l) => l.includes("source=10.6.6.6")) && lines.length === cases.length);
});

Deno.test("GelfDatagrams expires incomplete messages on tick() and counts the ones left at close", async () => {
  let now = 0;
  const { gelf, drops } = pipeline(65_536, { now: () => now });
  const [first] = datagrams(gelfMessage(1, 5_000), "none", 1_000);
  const [other] = datagrams(gelfMessage(2, 5_000), "none", 1_000);
  gelf.handle(first!, "10.0.0.1");
  now = 4_000;
  gelf.handle(other!, "10.0.0.1");
  now = 5_000;
  gelf.tick();
  assertEquals(await drops(), { chunks_expired: 1 });
  gelf.close();
  assertEquals(await drops(), { chunks_expired: 1, chunks_incomplete: 1 });
});

Deno.test("GelfDatagrams never throws and keeps its bounds on random and mutated datagrams", async () => {
  const seeds = [
    ...datagrams(gelfMessage(1, 3_000), "zlib", 500),
    ...datagrams(gelfMessage(2, 3_000), "gzip", 500),
    ...datagrams(gelfMessage(3, 300), "none", 500),
  ];
  const mutated = fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 600 }))
    .map(([seed, at, byte, cut]) => {
      const copy = seed.slice(0, cut || undefined);
      if (copy.length > 0) copy[at % copy.length] = byte;
      return copy;
    });
  const chunkLike = fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array([0x1e, 0x0f, ...b]));
  const { gelf, pending } = pipeline(4_096, {
    maxPendingSets: 16,
    maxPendingBytesPerSender: 8_192,
    maxPendingBytes: 16_384,
  });
  let peak = { sets: 0, bytes: 0 };
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.oneof(fc.uint8Array({ maxLength: 600 }), mutated, chunkLike), fc.nat({ max: 3 }))),
      async (list) => {
        for (const [datagram, sender] of list) gelf.handle(datagram, `10.0.0.${sender}`);
        gelf.tick();
        const now = await pending();
        assert(now.sets <= 16 && now.bytes <= 16_384, `over the bounds: ${JSON.stringify(now)}`);
        peak = { sets: Math.max(peak.sets, now.sets), bytes: Math.max(peak.bytes, now.bytes) };
      },
    ),
    { numRuns: 2_000 },
  );
  assert(peak.sets > 0, "the generated chunks never left a message pending");
});
