import { assert, assertEquals } from "../../tests/assert.ts";
import { forEachEvent } from "../batch/event_buffer.ts";
import { Logger } from "../log.ts";
import { Metrics } from "../metrics/metrics.ts";
import type { ListenerInfo } from "./ingest.ts";
import { MAX_IN_FLIGHT_BYTES, PACK_BYTES } from "./intake_forwarder.ts";
import { MAX_READ_BYTES } from "./conn_input.ts";
import { type IntakeTarget, limitsOf, shareOf, TcpIntake } from "./tcp_intake.ts";

const INFO: ListenerInfo = {
  label: "tcp/0",
  name: "test",
  port: 0,
  timeZone: undefined,
  format: "syslog",
  transport: "tcp",
};
const LIMITS = { maxConnections: 100, idleTimeoutMs: 0, handshakeTimeoutMs: 10_000, maxConnectionsPerSource: 0 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A port bound by "the main thread" with reusePort, and `workers` intake workers on it. */
async function intakes(workers: number, log = new Logger({ level: "error" })) {
  const main = Deno.listen({ transport: "tcp", hostname: "127.0.0.1", port: 0, reusePort: true });
  const port = main.addr.port;
  const started: TcpIntake[] = [];
  for (let i = 0; i < workers; i++) {
    started.push(
      await TcpIntake.start({
        hostname: "127.0.0.1",
        port,
        info: INFO,
        proxy: false,
        maxMessageBytes: 65_536,
        limits: limitsOf(LIMITS, workers, i),
        allowFrom: [],
        log: { level: "error", format: "text" },
      }, log),
    );
  }
  // Every connection goes to a worker: the main thread's socket leaves the port's group.
  main.close();
  return { port, started };
}

/** Collects what the workers hand over; `held` holds intake back as a full spool would. */
function target() {
  const lines: string[] = [];
  let bytes = 0;
  let release: (() => void) | undefined;
  let held: Promise<void> | undefined;
  const metrics = new Metrics();
  const t: IntakeTarget & {
    lines: string[];
    bytes: () => number;
    registry: Metrics["registry"];
    hold(): void;
    release(): void;
  } = {
    lines,
    bytes: () => bytes,
    metrics,
    registry: metrics.registry,
    pressure: { ready: () => held },
    acceptEntries(info, source, entries) {
      assertEquals(info, INFO);
      assertEquals(source, "127.0.0.1");
      forEachEvent({ chunks: [entries.slice().buffer], lengths: [entries.length] }, (message) => {
        lines.push(decoder.decode(message));
        bytes += message.length;
      });
    },
    hold() {
      held = new Promise((resolve) => (release = resolve));
    },
    release() {
      held = undefined;
      release?.();
    },
  };
  return t;
}

async function until(ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

Deno.test("shareOf() and limitsOf() split a listener's limits over its acceptors", () => {
  assertEquals([0, 1, 2].map((i) => shareOf(1_000, 3, i)), [334, 333, 333]);
  assertEquals([0, 1, 2].map((i) => shareOf(2, 3, i)), [1, 1, 0]);
  assertEquals(shareOf(0, 3, 0), 0);
  assertEquals(limitsOf({ ...LIMITS, maxConnectionsPerSource: 10 }, 3, 2), {
    ...LIMITS,
    maxConnections: 33,
    maxConnectionsPerSource: 4,
  });
});

Deno.test("TCP intake workers on one port hand over every line of every connection, in order, and count them", async () => {
  const { port, started } = await intakes(2);
  const t = target();
  for (const intake of started) intake.serve(t);
  const connections = 20;
  const lines = 500;
  await Promise.all(Array.from({ length: connections }, async (_, c) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    let text = "";
    for (let i = 0; i < lines; i++) text += `<13>connection ${c} line ${i}\n`;
    const bytes = encoder.encode(text);
    for (let at = 0; at < bytes.length; at += await conn.write(bytes.subarray(at)));
    conn.close();
  }));
  await until(() => t.lines.length >= connections * lines);
  await Promise.all(started.map((i) => i.close(1_000)));
  assertEquals(t.lines.length, connections * lines);
  for (let c = 0; c < connections; c++) {
    const mine = t.lines.filter((l) => l.startsWith(`<13>connection ${c} `));
    assertEquals(mine, Array.from({ length: lines }, (_, i) => `<13>connection ${c} line ${i}`));
  }
  const text = await t.registry.metrics();
  assert(text.includes(`kinesyslog_connections_total{listener="tcp/0"} ${connections}`), text);
  assert(text.includes(`kinesyslog_connections_open{listener="tcp/0"} 0`), text);
});

Deno.test("TCP intake workers: while the relay holds intake back their readers wait; nothing is lost", async () => {
  const { port, started } = await intakes(2);
  const t = target();
  t.hold();
  for (const intake of started) intake.serve(t);
  const connections = 4;
  const chunks = 8; // of 1,000 lines of 1,000 bytes: 8 MB a connection
  const line = encoder.encode(`<13>${"x".repeat(995)}\n`);
  const chunk = new Uint8Array(1_000 * line.length);
  for (let i = 0; i < 1_000; i++) chunk.set(line, i * line.length);
  const sending = Promise.all(Array.from({ length: connections }, async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    for (let n = 0; n < chunks; n++) {
      for (let at = 0; at < chunk.length; at += await conn.write(chunk.subarray(at)));
    }
    conn.close();
  }));
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const taken = t.bytes();
  // Per worker: what is in flight, a pack being filled, and a read or two per connection.
  const bound = started.length * (MAX_IN_FLIGHT_BYTES + PACK_BYTES) + connections * 2 * MAX_READ_BYTES;
  assert(taken <= bound, `${taken} bytes taken in while held, bound ${bound}`);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assertEquals(t.bytes(), taken, "nothing more taken in while held");
  t.release();
  await sending;
  await until(() => t.lines.length >= connections * chunks * 1_000);
  await Promise.all(started.map((i) => i.close(1_000)));
  assertEquals(t.lines.length, connections * chunks * 1_000);
});

Deno.test("TCP intake workers: closing delivers the unterminated last frame of an open connection", async () => {
  const { port, started } = await intakes(1);
  const t = target();
  started[0]!.serve(t);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode("<13>first\n<13>last, unterminated"));
  await until(() => t.lines.length >= 1);
  await started[0]!.close(100);
  assertEquals(t.lines, ["<13>first", "<13>last, unterminated"]);
  conn.close();
});
