/**
 * End-to-end tests of delivery at the Firehose quota: `main.ts` as a subprocess, the real AWS
 * SDK, and the local endpoint metering each stream's quota as the service does (token buckets
 * of bytes, records and calls per second with a one-second burst). Each test overloads the
 * quota, checks that every message sent arrives, and measures the share of the quota used
 * from 5 s after the first accepted record until the spool is empty.
 */
import { assert, assertEquals } from "./assert.ts";
import { SpoolDir } from "../src/spool/spool_dir.ts";
import { type Accepted, cwlRecord, FirehoseEndpoint, type StreamQuota } from "./firehose_endpoint.ts";
import { eventually, freePort, noisyLines, scrape, sendLinesAtRate, startFirehoseRelay, TcpFlood } from "./harness.ts";

const MiB = 1_048_576;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The `seq=` numbers delivered, each with how often. */
function delivered(endpoint: FirehoseEndpoint): Map<number, number> {
  const seen = new Map<number, number>();
  for (const e of endpoint.events()) {
    const m = /seq=(\d+)/.exec(e.message);
    if (m !== null) seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
  }
  return seen;
}

/** Waits until the relay holds nothing: no record in the spool, no byte buffered. Returns when (performance.now()). */
async function drained(metricsPort: number, timeoutMs: number): Promise<void> {
  // Four looks a second: scraping costs the relay's main thread, which the pacing runs on.
  const deadline = performance.now() + timeoutMs;
  while (
    await scrape(metricsPort, "kinesyslog_spool_files") > 0 ||
    await scrape(metricsPort, "kinesyslog_buffered_bytes") > 0
  ) {
    if (performance.now() > deadline) throw new Error("timed out waiting for the spool to drain");
    await sleep(250);
  }
}

/** When `endpoint` accepted its first and its last record (the backlog's span). */
function span(endpoint: FirehoseEndpoint): { first: number; last: number } {
  return { first: endpoint.accepted[0]!.at, last: endpoint.accepted.at(-1)!.at };
}

/** Sum of `pick` over accepted records of `streams` in [from, to). */
function sum(accepted: Accepted[], streams: string[], from: number, to: number, pick: (a: Accepted) => number): number {
  let total = 0;
  for (const a of accepted) if (streams.includes(a.stream) && a.at >= from && a.at < to) total += pick(a);
  return total;
}

/** A relay delivering to `streams` on a local endpoint metering each at `quota`. */
interface QuotaRig {
  dir: string;
  endpoint: FirehoseEndpoint;
  tcp: number;
  metricsPort: number;
}

/**
 * Runs `body` against a relay (TCP listener, metrics, `args` added) that delivers to `streams`,
 * each metered at `quota`; `prepare` runs before the relay starts (to leave records in its
 * spool). Stops and removes everything after.
 */
async function withQuotaRelay(
  streams: string[],
  quota: Partial<StreamQuota>,
  options: { args?: string[]; prepare?: (dir: string) => Promise<void> },
  body: (rig: QuotaRig) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-quota-" });
  const endpoint = new FirehoseEndpoint(streams).start();
  for (const s of streams) endpoint.setQuota(s, quota);
  try {
    await options.prepare?.(dir);
    const [tcp, metricsPort] = [freePort(), freePort()];
    const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      ...streams.slice(1).flatMap((s) => ["--stream", s]),
      ...["--tcp-port", String(tcp), "--tls-port", "0", "--prometheus-port", String(metricsPort)],
      ...(options.args ?? []),
    ]);
    try {
      await body({ dir, endpoint, tcp, metricsPort });
    } finally {
      await relay.stop();
    }
  } finally {
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function overload(
  streams: string[],
  quota: Partial<StreamQuota>,
  load: { perSecond: number; seconds: number; args?: string[] } | { flood: number },
  check: (endpoint: FirehoseEndpoint, from: number, to: number) => void,
): Promise<void> {
  const args = ["--flush-interval", "1", ...("args" in load ? load.args ?? [] : [])];
  await withQuotaRelay(streams, quota, { args }, async ({ endpoint, tcp, metricsPort }) => {
    let total: number;
    if ("flood" in load) {
      // As fast as the relay takes them: a backlog far above the quota, at once.
      await (await TcpFlood.start(tcp, noisyLines(load.flood, 13))).done;
      total = load.flood;
    } else {
      total = await sendLinesAtRate(tcp, load.perSecond, load.seconds);
    }
    await drained(metricsPort, 180_000);
    // The spool is empty once its last record is accepted.
    const { first, last } = span(endpoint);
    check(endpoint, first + 5_000, last);
    const seen = delivered(endpoint);
    assertEquals(seen.size, total, "every message sent arrives");
    for (const s of streams) {
      assert(await scrape(metricsPort, "kinesyslog_records_delivered_total", { stream: s }) > 0, `${s} delivered`);
    }
    assert(await scrape(metricsPort, "kinesyslog_throttles_total") > 0, "the quota was reached");
  });
}

Deno.test("one stream overloaded at 1 MiB/s: at least 90% of the quota used until the backlog is gone, every message arrives", async () => {
  await overload(["logs"], { bytesPerSecond: MiB }, { perSecond: 30_000, seconds: 10 }, (endpoint, from, to) => {
    const use = sum(endpoint.accepted, ["logs"], from, to, (a) => a.bytes) / ((to - from) / 1000) / MiB;
    console.log(`one stream: ${(use * 100).toFixed(1)}% of 1 MiB/s over ${((to - from) / 1000).toFixed(1)} s`);
    assert(use >= 0.9, `used ${(use * 100).toFixed(1)}% of the quota`);
  });
});

Deno.test("two streams overloaded at 1 MiB/s each: at least 90% of the sum used, each stream at least 40%", async () => {
  const streams = ["logs", "logs-b"];
  // About 45 MB of records: 20 s at the two quotas.
  await overload(streams, { bytesPerSecond: MiB }, { flood: 800_000 }, (endpoint, from, to) => {
    const seconds = (to - from) / 1000;
    const each = streams.map((s) => sum(endpoint.accepted, [s], from, to, (a) => a.bytes) / seconds);
    const use = (each[0]! + each[1]!) / (2 * MiB);
    console.log(
      `two streams: ${(use * 100).toFixed(1)}% of 2 MiB/s over ${seconds.toFixed(1)} s; ` +
        each.map((b) => `${(100 * b / (each[0]! + each[1]!)).toFixed(0)}%`).join(" / "),
    );
    assert(use >= 0.9, `used ${(use * 100).toFixed(1)}% of the quota`);
    for (const b of each) assert(b >= 0.4 * (each[0]! + each[1]!), "each stream takes at least 40%");
  });
});

Deno.test("a records/s quota (1,000 records/s): a backlog of small records goes at 90% of it or more, every one arrives", async () => {
  const total = 15_000;
  // 15,000 small records left in the spool (as by a run that could not deliver them): more
  // than the relay makes in a second on this machine, so the backlog is in place at once.
  const prepare = async (dir: string) => {
    const spool = new SpoolDir(`${dir}/spool`);
    await spool.prepare();
    for (let at = 0; at < total; at += 500) {
      await spool.write(Array.from({ length: 500 }, (_, i) => {
        return cwlRecord([{ id: String(at + i), timestamp: 0, message: `<13>1 - host app - - - seq=${at + i}` }]);
      }));
    }
  };
  await withQuotaRelay(["logs"], { recordsPerSecond: 1_000 }, { prepare }, async ({ endpoint, metricsPort }) => {
    await drained(metricsPort, 120_000);
    const { first, last: end } = span(endpoint);
    const from = first + 5_000;
    const use = sum(endpoint.accepted, ["logs"], from, end, () => 1) / ((end - from) / 1000) / 1_000;
    console.log(
      `records quota: ${(use * 100).toFixed(1)}% of 1,000 records/s over ${((end - from) / 1000).toFixed(1)} s`,
    );
    assert(use >= 0.9, `used ${(use * 100).toFixed(1)}% of the records quota`);
    assertEquals(delivered(endpoint).size, total, "every record arrives");
    assert(await scrape(metricsPort, "kinesyslog_throttles_total") > 0, "the quota was reached");
  });
});

Deno.test("a stream whose quota is raised from 1 to 3 MiB/s: the relay follows the new quota within 10 s", async () => {
  const args = ["--flush-interval", "1"];
  await withQuotaRelay(["logs"], { bytesPerSecond: MiB }, { args }, async ({ endpoint, tcp, metricsPort }) => {
    // About 34 MB of records, sent as fast as the relay takes them: a backlog of half a minute.
    const total = 600_000;
    const flood = await TcpFlood.start(tcp, noisyLines(total, 11));
    await flood.done;
    await eventually("throttled", () => endpoint.calls.throttledRecords > 0);
    await sleep(10_000);
    const raised = performance.now();
    endpoint.setQuota("logs", { bytesPerSecond: 3 * MiB });
    // The first two seconds after the raise in which the stream takes 90% of its new quota.
    let reached: number | undefined;
    await eventually("the new quota used", () => {
      const now = performance.now();
      if (endpoint.acceptedRate("logs", now - 2_000, now) >= 0.9 * 3 * MiB) reached = now - raised;
      return reached !== undefined;
    }, 30_000);
    console.log(`raised quota: 90% of the new 3 MiB/s over 2 s, ${(reached! / 1000).toFixed(1)} s after the raise`);
    assert(reached! <= 10_000, `${(reached! / 1000).toFixed(1)} s to follow the raise`);
    const learned = await scrape(metricsPort, "kinesyslog_stream_rate_bytes_per_second", { stream: "logs" });
    assert(learned > 2 * MiB, `learned ${learned} bytes/s`);
    await drained(metricsPort, 120_000);
    assertEquals(delivered(endpoint).size, total);
  });
});
