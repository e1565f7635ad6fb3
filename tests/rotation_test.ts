/**
 * End-to-end tests of a failing stream taken out of rotation: `main.ts` as a subprocess with
 * two streams of the local endpoint, one of which accepts nothing (every record failing, every
 * call failing, the stream gone, a quota of zero), while the endpoint answers every call in
 * 800 ms. Eight TCP senders send 250 msgs/s each for 10 s: every message arrives, the slowest
 * within 10 s of being sent, the failing stream is logged out of rotation and shown so by its
 * gauge, and it is logged back once it accepts again.
 */
import { assert, assertEquals } from "./assert.ts";
import { FirehoseEndpoint } from "./firehose_endpoint.ts";
import { eventually, freePort, scrape, startFirehoseRelay, writeAll } from "./harness.ts";

const enc = new TextEncoder();

/**
 * Sends `perSecond` lines a second on each of `connections` TCP connections for `seconds`,
 * in 100 ms steps; each line carries `seq=` and `t=` (when it was sent, `performance.now()`).
 */
async function sendTimed(port: number, connections: number, perSecond: number, seconds: number): Promise<number> {
  const conns = await Promise.all(
    Array.from({ length: connections }, () => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  const start = performance.now();
  let seq = 0;
  for (let step = 0; step < seconds * 10; step++) {
    await Promise.all(conns.map((conn) => {
      let text = "";
      for (let i = 0; i < perSecond / 10; i++) {
        text += `<13>1 2026-12-06T00:00:00Z host app - - - seq=${seq++} t=${Math.round(performance.now())}\n`;
      }
      return writeAll(conn, enc.encode(text));
    }));
    const due = start + (step + 1) * 100;
    if (due > performance.now()) await new Promise((resolve) => setTimeout(resolve, due - performance.now()));
  }
  for (const c of conns) c.close();
  return seq;
}

/**
 * Runs the load with `fail` applied to stream `logs` (the first, tried first) and `logs-b`
 * healthy, then `heal`:
 * every message once at least, the slowest within 10 s, `logs` out of rotation while
 * failing and back once healed.
 */
async function failingStream(
  fail: (endpoint: FirehoseEndpoint) => void,
  heal: (endpoint: FirehoseEndpoint) => void,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-rotation-" });
  const endpoint = new FirehoseEndpoint(["logs", "logs-b"]).start();
  const [tcp, metricsPort] = [freePort(), freePort()];
  const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
    ...["--stream", "logs-b", "--tcp-port", String(tcp), "--tls-port", "0"],
    ...["--prometheus-port", String(metricsPort), "--flush-interval", "1"],
  ]);
  try {
    fail(endpoint);
    endpoint.faults.latencyMs = 800;
    const sent = await sendTimed(tcp, 8, 250, 10);
    await eventually("every message delivered", () => endpoint.records.length > 0 && delivered().size === sent, 60_000);
    const out = await scrape(metricsPort, "kinesyslog_stream_in_rotation", { stream: "logs" });
    // Latency: from the message's send to the acceptance of its record.
    let slowest = 0;
    endpoint.records.forEach((_, i) => {
      const at = endpoint.accepted[i]!.at;
      for (const e of endpoint.recordEvents(i)) {
        slowest = Math.max(slowest, at - Number(/ t=(\d+)/.exec(e.message)![1]));
      }
    });
    console.log(`slowest message: ${(slowest / 1000).toFixed(1)} s after it was sent`);
    assert(slowest <= 10_000, `the slowest message took ${(slowest / 1000).toFixed(1)} s`);
    assertEquals(out, 0, "the failing stream is out of rotation");
    await relay.waitFor(/taken out of rotation.*logs/);
    assertEquals(await scrape(metricsPort, "kinesyslog_stream_in_rotation", { stream: "logs-b" }), 1);
    // Healed, it is probed (with records: more are sent) and put back.
    heal(endpoint);
    endpoint.faults.latencyMs = 0;
    const back = relay.waitFor(/back in rotation.*logs/, 30_000);
    let more = true;
    back.finally(() => (more = false)).catch(() => {});
    while (more) await sendTimed(tcp, 1, 10, 1);
    await back;
    assertEquals(await scrape(metricsPort, "kinesyslog_stream_in_rotation", { stream: "logs" }), 1);
  } finally {
    await relay.stop();
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }

  /** The `seq=` numbers delivered. */
  function delivered(): Set<number> {
    const seen = new Set<number>();
    for (const e of endpoint.events()) seen.add(Number(/seq=(\d+)/.exec(e.message)![1]));
    return seen;
  }
}

Deno.test("a stream failing every record (InternalFailure) leaves rotation: nothing lost, nothing late", async () => {
  await failingStream(
    (e) => (e.faults.rejectStream = "logs"),
    (e) => (e.faults.rejectStream = undefined),
  );
});

Deno.test("a stream failing every call (HTTP 500) leaves rotation: nothing lost, nothing late", async () => {
  await failingStream(
    (e) => (e.faults.failStream = "logs"),
    (e) => (e.faults.failStream = undefined),
  );
});

Deno.test("a stream that is gone (ResourceNotFoundException) leaves rotation: nothing lost, nothing late", async () => {
  await failingStream(
    (e) => e.faults.missingStreams.add("logs"),
    (e) => e.faults.missingStreams.clear(),
  );
});

Deno.test("a stream with a quota of zero leaves rotation: nothing lost, nothing late", async () => {
  await failingStream(
    (e) => e.setQuota("logs", { bytesPerSecond: 0 }),
    (e) => e.setQuota("logs", { bytesPerSecond: Infinity }),
  );
});
