/**
 * A fleet of relays on one stream, for the tests and the benchmark: several relay processes
 * (`main.ts` as subprocesses, the real AWS SDK) delivering to one delivery stream of the
 * local endpoint, whose quota they share as the service meters it (one set of token buckets
 * per stream, whoever calls). Each relay has its own access key, so the endpoint tells their
 * records apart.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { SpoolDir } from "../src/spool/spool_dir.ts";
import { type Accepted, cwlRecord, FirehoseEndpoint } from "./firehose_endpoint.ts";
import { awsTestEnv, freePort, type RelayProcess, scrape, startFirehoseRelay } from "./harness.ts";

export const MiB = 1_048_576;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One relay of the fleet: its process, ports and access key. */
export interface Member {
  relay: RelayProcess;
  tcp: number;
  metricsPort: number;
  key: string;
}

/** Waits until no member holds anything: no record spooled, no byte buffered. */
async function drained(members: Member[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (const m of members) {
    while (
      await scrape(m.metricsPort, "kinesyslog_spool_files") > 0 ||
      await scrape(m.metricsPort, "kinesyslog_buffered_bytes") > 0
    ) {
      if (performance.now() > deadline) throw new Error("timed out waiting for the fleet to drain");
      await sleep(250);
    }
  }
}

/** Bytes accepted per caller in [from, to). */
function acceptedBy(accepted: Accepted[], callers: string[], from: number, to: number): number[] {
  return callers.map((c) => {
    let bytes = 0;
    for (const a of accepted) if (a.caller === c && a.at >= from && a.at < to) bytes += a.bytes;
    return bytes;
  });
}

/** MiB accepted in each second from `from` to `to`, in all and per caller: the table a reader checks. */
function perSecondTable(accepted: Accepted[], callers: string[], from: number, to: number): string {
  const rows: string[] = [];
  for (let t = from; t < to; t += 1000) {
    const each = acceptedBy(accepted, callers, t, t + 1000).map((b) => b / MiB);
    const total = each.reduce((x, y) => x + y, 0);
    const second = ((t - from) / 1000).toFixed(0).padStart(3);
    rows.push(`${second} s  ${total.toFixed(2)} = ${each.map((b) => b.toFixed(2)).join(" + ")}`);
  }
  return rows.join("\n");
}

/** What a fleet did with its stream: the share of the quota used and each relay's share. */
export interface FleetResult {
  /** Accepted bytes over the window, per quota-second of it (1 is the whole quota). */
  use: number;
  /**
   * Each relay's share of the bytes accepted while every relay had a backlog: from the
   * window's start until the first relay's last record.
   */
  shares: number[];
  /** The window's length, in s. */
  seconds: number;
  table: string;
}

/**
 * Starts `n` relays on the stream `logs` of `endpoint` (spools in `<dir>/spool-<i>`; `prepare`
 * may fill one before its relay starts), runs `load` against them, waits until every spool
 * is empty, and measures from 5 s after the first accepted record until the last.
 */
export async function runFleet(
  n: number,
  endpoint: FirehoseEndpoint,
  dir: string,
  load: (members: Member[]) => Promise<void>,
  prepare?: (spool: string, index: number) => Promise<void>,
): Promise<FleetResult> {
  const members: Member[] = [];
  try {
    for (let i = 0; i < n; i++) await prepare?.(`${dir}/spool-${i}`, i);
    // Started together, as a fleet behind a load balancer is.
    await Promise.all(Array.from({ length: n }, async (_, i) => {
      const [tcp, metricsPort] = [freePort(), freePort()];
      const key = `AKIDFLEET${i}`;
      const args = ["--tcp-port", String(tcp), "--tls-port", "0", "--prometheus-port", String(metricsPort)];
      const env = { ...awsTestEnv(endpoint.url), AWS_ACCESS_KEY_ID: key };
      const spool = `${dir}/spool-${i}`;
      const relay = await startFirehoseRelay(dir, endpoint.url, spool, [...args, "--flush-interval", "1"], env);
      members[i] = { relay, tcp, metricsPort, key };
    }));
    await load(members);
    await drained(members, 300_000);
  } finally {
    await Promise.all(members.map((m) => m.relay.stop()));
  }
  const accepted = endpoint.accepted;
  const [first, to] = [accepted[0]!.at, accepted.at(-1)!.at];
  const from = first + 5_000;
  const callers = members.map((m) => m.key);
  const total = acceptedBy(accepted, callers, from, to).reduce((x, y) => x + y, 0);
  const quota = endpoint.quotaOf("logs").bytesPerSecond;
  const lastOf = callers.map((c) => accepted.findLast((a) => a.caller === c)?.at ?? first);
  const shared = acceptedBy(accepted, callers, from, Math.min(...lastOf));
  const sharedTotal = shared.reduce((x, y) => x + y, 0);
  return {
    use: total / ((to - from) / 1000) / quota,
    shares: shared.map((b) => b / sharedTotal),
    seconds: (to - from) / 1000,
    table: perSecondTable(accepted, callers, first, to),
  };
}

/**
 * Fills a spool with `records` CWL records of about 200 KB (incompressible text), as a relay
 * that could not deliver for a while leaves it; each event is `relay=<index> record=<r>`.
 */
export async function leaveBacklog(spoolDir: string, index: number, records: number): Promise<void> {
  const spool = new SpoolDir(spoolDir);
  await spool.prepare();
  for (let r = 0; r < records; r++) {
    const logEvents = Array.from({ length: 100 }, (_, e) => ({
      id: `${r}-${e}`,
      timestamp: 0,
      message: `relay=${index} record=${r} ${randomBytes(1_500).toString("base64")}`,
    }));
    await spool.write([cwlRecord(logEvents)]);
  }
}
