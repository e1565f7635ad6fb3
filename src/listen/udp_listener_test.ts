import { assert, assertEquals } from "../../tests/assert.ts";
import { Batcher } from "../batch/batcher.ts";
import { forEachEvent } from "../batch/event_buffer.ts";
import { Logger } from "../log.ts";
import { Metrics } from "../metrics/metrics.ts";
import { Ingest, type ListenerInfo } from "./ingest.ts";
import { Pressure } from "./pressure.ts";
import { bySource, RUN_BYTES, UdpListener } from "./udp_listener.ts";
import { UdpReceiver } from "./udp_receiver.ts";
import fc from "fast-check";

const enc = new TextEncoder();
const dec = new TextDecoder();
/** The listener info of a test's UDP listener on `port`. */
function udpInfo(port: number): ListenerInfo {
  return {
    label: `udp/${port}`,
    name: "test",
    port: 1,
    timeZone: undefined,
    format: "syslog",
    transport: "udp",
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("UdpListener holds datagrams while the workers are behind and drops them only on a full spool", async () => {
  const delivered: string[] = [];
  const batcher = new Batcher({
    onFlush: (batch) => forEachEvent(batch, (bytes) => delivered.push(dec.decode(bytes))),
  });
  const metrics = new Metrics();
  const state = { backlog: 0, spool: 0 };
  const pressure = new Pressure({
    spoolBytes: () => state.spool,
    spoolMaxBytes: 100,
    backlogBytes: () => state.backlog,
    maxBacklogBytes: 100,
  });
  const ingest = new Ingest(batcher, pressure, metrics, new Logger({ write: () => {} }));
  // A receive buffer large enough that the kernel drops none of the burst (the default did, at times).
  const receiver = await UdpReceiver.bind("127.0.0.1", 0, { receiveBuffer: 4 * 1_048_576 });
  const info = udpInfo(receiver.port);
  const listener = new UdpListener({
    receiver,
    info,
    ingest,
    maxMessageBytes: 1_024,
  });
  listener.serve();
  const drops = async () => {
    const metric = await metrics.registry.getSingleMetric("kinesyslog_messages_dropped_total")!.get();
    return Object.fromEntries(metric.values.filter((v) => v.value > 0).map((v) => [String(v.labels.reason), v.value]));
  };
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const send = async (from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      await socket.send(enc.encode(`<13>m ${i}`), { transport: "udp", hostname: "127.0.0.1", port: receiver.port });
      if (i % 64 === 63) await sleep(1);
    }
  };
  try {
    // The spool workers are behind: a burst waits in the receive worker's packs, none dropped.
    state.backlog = 100;
    await send(0, 2_000);
    await sleep(200);
    batcher.flushAll();
    assertEquals(delivered.length, 0);
    assertEquals(await drops(), {});
    state.backlog = 0;
    await sleep(200);
    batcher.flushAll();
    assertEquals(delivered, Array.from({ length: 2_000 }, (_, i) => `<13>m ${i}`));
    // A full spool lasts: datagrams are dropped as they come, counted by that reason.
    state.spool = 100;
    await send(2_000, 100);
    await sleep(200);
    assertEquals(await drops(), { spool_full: 100 });
    // Held datagrams are taken in at close once the relay releases the pressure.
    state.spool = 0;
    state.backlog = 100;
    await send(3_000, 10);
    await sleep(100);
    pressure.release();
    await listener.close();
    batcher.flushAll();
    assertEquals(delivered.slice(2_000), Array.from({ length: 10 }, (_, i) => `<13>m ${3_000 + i}`));
  } finally {
    socket.close();
    await listener.close();
  }
});

Deno.test("UdpListener passes the workers' bound by less than a run of RUN_BYTES and one datagram", async () => {
  const batcher = new Batcher({ onFlush: () => {}, flushBytes: 64 * 1_048_576 });
  const bound = 100_000;
  const metrics = new Metrics();
  const pressure = new Pressure({
    spoolBytes: () => 0,
    spoolMaxBytes: 1e12,
    backlogBytes: () => batcher.bufferedBytes,
    maxBacklogBytes: bound,
  });
  const ingest = new Ingest(batcher, pressure, metrics, new Logger({ write: () => {} }));
  const receiver = await UdpReceiver.bind("127.0.0.1", 0, { receiveBuffer: 8 * 1_048_576 });
  const listener = new UdpListener({
    receiver,
    info: udpInfo(receiver.port),
    ingest,
    maxMessageBytes: 2_048,
  });
  listener.serve();
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    // 2 MB from one source: a pack of them (256 KiB) is more than the bound and a run.
    const datagram = enc.encode("<13>".padEnd(1_000, "x"));
    for (let i = 0; i < 2_000; i++) {
      await socket.send(datagram, { transport: "udp", hostname: "127.0.0.1", port: receiver.port });
      if (i % 64 === 63) await sleep(1);
    }
    // Each time the workers catch up (the buffers flushed), the listener takes in runs until
    // it is past the bound again; the rest waits in the worker's packs, none dropped.
    const received = async () => {
      const metric = await metrics.registry.getSingleMetric("kinesyslog_messages_received_total")!.get();
      return metric.values.reduce((sum, v) => sum + v.value, 0);
    };
    let rounds = 0;
    for (; rounds < 200 && await received() < 2_000; rounds++) {
      await sleep(60);
      const held = batcher.bufferedBytes;
      assert(held < bound + RUN_BYTES + datagram.length, `${held} bytes taken in`);
      batcher.flushAll();
    }
    assertEquals(await received(), 2_000);
    assert(rounds >= 2_000_000 / (bound + RUN_BYTES + datagram.length), `${rounds} rounds`);
    assertEquals(
      (await metrics.registry.getSingleMetric("kinesyslog_messages_dropped_total")!.get()).values.filter((v) =>
        v.value > 0
      ),
      [],
    );
  } finally {
    socket.close();
    pressure.release();
    await listener.close();
  }
});

Deno.test("bySource() groups a pack's datagrams by source, sources in order of first appearance, each in arrival order", async (t) => {
  const cases: [number[], number, number[]][] = [
    [[], 0, []],
    [[0, 0, 0], 1, [0, 1, 2]],
    [[0, 1, 0, 2, 1], 3, [0, 2, 1, 4, 3]],
    [[0, 1, 2, 3], 4, [0, 1, 2, 3]],
  ];
  for (const [from, sources, expected] of cases) {
    await t.step(`${JSON.stringify(from)}`, () => {
      assertEquals([...bySource(Uint32Array.from(from), sources)], expected);
    });
  }
  await t.step("any pack: a permutation, grouped by source in first-appearance order, stable", () => {
    fc.assert(fc.property(fc.array(fc.nat(20), { maxLength: 512 }), (raw) => {
      // Sources are numbered by first appearance, as the receive worker numbers them.
      const seen = new Map<number, number>();
      const from = raw.map((s) => seen.get(s) ?? (seen.set(s, seen.size), seen.size - 1));
      const order = [...bySource(Uint32Array.from(from), seen.size)];
      const expected = from.map((s, i) => [s, i]).sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!).map(([, i]) => i);
      assertEquals(order, expected);
    }));
  });
});
