/**
 * `deno task bench`: end-to-end throughput of the relay, from the socket to delivered
 * records. Starts `main.ts listen` as a subprocess (the same permissions as in production),
 * drives it over loopback, and reports per case: messages/s counted in delivered records,
 * MB/s, CPU seconds per million messages, peak RSS, UDP loss and record fill.
 *
 * Usage: deno task bench [--quick] [--sink dir|firehose|kinesis] [--only TEXT] [--out BENCHMARKS.md]
 * (`--sink kinesis`: a Kinesis data stream of 4 shards at the local endpoint, without quotas;
 * its cases include KPL aggregated records.)
 * (`--only` picks the cases whose name holds TEXT; texts separated by `|` pick either; a text
 * ending in `$` picks the case of exactly that name.)
 * (BENCH_TRACE=1 prints the timeline of spooled events per case.)
 *
 * `deno task bench --edge` runs the cases at the limits of the edge instead (`bench_edge.ts`);
 * `deno task bench --quota`, delivery at the Firehose quota (`bench_quota.ts`);
 * `deno task bench --fleet`, several relays sharing one stream's quota (`bench_fleet.ts`);
 * `deno task bench --idle`, the CPU an idle relay uses (`bench_idle.ts`);
 * `deno task bench --bytes`, record bytes per message beside `gzip -6` alone (`bench_bytes.ts`);
 * `deno task bench --peer rsyslog`, the TCP case beside rsyslog on the same load (`bench_peer.ts`).
 *
 * `deno task bench --soak MINUTES` runs the soak instead: sustained TCP load for that long
 * against the local Firehose endpoint with faults (10% record failures, 503s, periods of
 * throttling, one outage), RSS and the relay's buffers sampled every 10 s; every message
 * sent must be delivered at the end.
 *
 * @module
 */
import { decodeRecord, FirehoseEndpoint } from "../tests/firehose_endpoint.ts";
import { benchEdge } from "./bench_edge.ts";
import { generator, message } from "./bench_messages.ts";
import { rsyslogInstalled, type RsyslogTemplate, runRsyslog } from "./bench_peer.ts";
import { benchQuota } from "./bench_quota.ts";
import { benchFleet } from "./bench_fleet.ts";
import { benchIdle } from "./bench_idle.ts";
import { benchBytes } from "./bench_bytes.ts";
import { SHARED_RECORD_BYTES } from "../src/firehose/record_sink.ts";
import { MAX_RECORD_BYTES } from "../src/batch/record_builder.ts";
import { sendRelp } from "./relp_sender.ts";
import type { Load } from "./udp_load.ts";
import { fetchMetrics } from "../tests/prometheus.ts";
import { awsTestEnv, freePort, makeCertificate, RelayProcess, scrape, startFirehoseRelay } from "../tests/harness.ts";

interface Case {
  name: string;
  protocol: "tcp" | "tls" | "udp" | "relp";
  format: "rfc5424" | "rfc3164" | "gelf";
  bytes: number;
  connections: number;
  /** Messages to send (TCP/TLS), or the offered rate per second (UDP). */
  messages: number;
  /** UDP only: seconds at the offered rate. */
  seconds?: number;
  /** Options added to the relay's command line. */
  args?: string[];
  /** RELP only: commands a connection keeps unanswered at most (omrelp's default is 128). */
  window?: number;
  /**
   * UDP only: each socket starts with this many seconds' worth of its rate at once, as
   * syslog-ng's `loggen` does (0.9 s), then keeps the rate.
   */
  burstSeconds?: number;
  /** A configuration file (`--config`) for the relay, YAML. */
  config?: string;
}

interface Result {
  case: Case;
  sent: number;
  /** UDP: how long sending took, in seconds (the generator shares the cores: it may not keep the rate). */
  sendSeconds: number;
  delivered: number;
  /** Wall time from the first byte sent to the last record delivered. */
  seconds: number;
  /** Messages per second: steady rate (10% to 90% delivered), or delivered / offered time for UDP. */
  rate: number;
  cpuSeconds: number;
  /** Of which the main thread's (reading and framing TCP without --tcp-workers, journal, batches). */
  mainCpuSeconds: number;
  /** Of which the Web Workers' threads (spool workers; UDP receive). */
  workerCpuSeconds: number;
  peakRssMb: number;
  records: number;
  recordBytes: number;
  /** UDP: datagrams the kernel dropped (the socket's counter). */
  kernelDrops: number;
  /** Spool workers running at the end (more start while all are busy). */
  spoolWorkers: number;
  /** Messages the relay dropped, and why (`reason=count` pairs). */
  relayDrops: number;
  relayDropReasons: string;
}

const args = new Set(Deno.args);
const quick = args.has("--quick");
const sinkArg = Deno.args[Deno.args.indexOf("--sink") + 1];
const sink = args.has("--sink") && (sinkArg === "firehose" || sinkArg === "kinesis") ? sinkArg : "dir";
const outFile = args.has("--out") ? Deno.args[Deno.args.indexOf("--out") + 1]! : undefined;
const scale = quick ? 0.2 : 1;
const only = args.has("--only") ? Deno.args[Deno.args.indexOf("--only") + 1]! : "";
/** Whether `--only` picks the case `name`. */
function picked(name: string): boolean {
  return only.split("|").some((text) => text.endsWith("$") ? name === text.slice(0, -1) : name.includes(text));
}

const CASES: Case[] = [
  {
    name: "TCP, 1 connection, RFC 5424, 200 B",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 1,
    messages: 1_000_000,
  },
  {
    name: "TCP, 4 connections, RFC 5424, 200 B",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
  },
  {
    name: "TCP, 4 connections, RFC 5424, 200 B, --spool-workers 2",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
    args: ["--spool-workers", "2"],
  },
  {
    name: "TCP, 4 connections, RFC 5424, 200 B, --tcp-workers 1",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
    args: ["--tcp-workers", "1"],
  },
  {
    name: "TCP, 4 connections, RFC 5424, 200 B, --tcp-workers 2",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
    args: ["--tcp-workers", "2"],
  },
  {
    name: "TCP, 16 connections, RFC 5424, 200 B",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 16,
    messages: 1_000_000,
  },
  {
    name: "TCP, 16 connections, RFC 5424, 200 B, --tcp-workers 3",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 16,
    messages: 1_000_000,
    args: ["--tcp-workers", "3"],
  },
  {
    name: "TCP, 4 connections, RFC 5424, 200 B, five routes that read every field",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
    // Four routes that match no message, then one that matches every message by its text: every
    // route is tried on every message, and the fields each reads are parsed.
    config: `routes:
  - { name: r1, match: { severity: emerg }, sinks: [default] }
  - { name: r2, match: { facility: [local7] }, sinks: [default] }
  - { name: r3, match: { app_name: [nope] }, sinks: [default] }
  - { name: r4, match: { hostname: [nohost] }, sinks: [default] }
  - { name: r5, match: { source: 127.0.0.0/8, message: "seq" }, sinks: [default] }
`,
  },
  {
    name: "TCP, 4 connections, RFC 5424, 200 B, --no-journal",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
    args: ["--no-journal"],
  },
  {
    name: "TCP, 4 connections, RFC 5424, 200 B, --compression-level 4",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
    args: ["--compression-level", "4"],
  },
  {
    name: "TCP, 4 connections, RFC 5424, 200 B, --record-format ndjson",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
    args: ["--record-format", "ndjson"],
  },
  {
    name: "TCP, 4 connections, RFC 5424, 200 B, --record-format ndjson --flush-size 6M",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
    args: ["--record-format", "ndjson", "--flush-size", "6M"],
  },
  {
    name: "TCP, 4 connections, RFC 5424, 200 B, --record-format ndjson --record-compression none",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
    args: ["--record-format", "ndjson", "--record-compression", "none"],
  },
  {
    name: "TCP, 4 connections, RFC 5424, 200 B, --record-format kpl",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
    args: ["--record-format", "kpl"],
  },
  {
    name: "TCP, 4 connections, RFC 3164, 200 B",
    protocol: "tcp",
    format: "rfc3164",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
  },
  {
    name: "TCP, 4 connections, RFC 5424, 1000 B",
    protocol: "tcp",
    format: "rfc5424",
    bytes: 1000,
    connections: 4,
    messages: 300_000,
  },
  {
    name: "TCP, 4 connections, RFC 3164, 1000 B",
    protocol: "tcp",
    format: "rfc3164",
    bytes: 1000,
    connections: 4,
    messages: 300_000,
  },
  {
    name: "TLS, 4 connections, RFC 5424, 200 B",
    protocol: "tls",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 500_000,
  },
  {
    name: "RELP, 4 connections, window 128, RFC 5424, 200 B",
    protocol: "relp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
    window: 128,
  },
  {
    name: "RELP, 4 connections, window 1024, RFC 5424, 200 B",
    protocol: "relp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 1_000_000,
    window: 1024,
  },
  {
    name: "RELP, 4 connections, window 1024, RFC 5424, 200 B, --relp-ack fsync",
    protocol: "relp",
    format: "rfc5424",
    bytes: 200,
    connections: 4,
    messages: 300_000,
    window: 1024,
    args: ["--relp-ack", "fsync"],
  },
  {
    name: "GELF TCP, 4 connections, 300 B",
    protocol: "tcp",
    format: "gelf",
    bytes: 300,
    connections: 4,
    messages: 500_000,
  },
  {
    name: "GELF UDP zlib, 20,000/s offered, 300 B",
    protocol: "udp",
    format: "gelf",
    bytes: 300,
    connections: 1,
    messages: 20_000,
    seconds: 5,
  },
  {
    name: "UDP, 20,000/s offered, RFC 5424, 200 B",
    protocol: "udp",
    format: "rfc5424",
    bytes: 200,
    connections: 1,
    messages: 20_000,
    seconds: 5,
  },
  {
    name: "UDP, 50,000/s offered, RFC 5424, 200 B",
    protocol: "udp",
    format: "rfc5424",
    bytes: 200,
    connections: 1,
    messages: 50_000,
    seconds: 5,
  },
  {
    name: "UDP, 100,000/s offered, RFC 5424, 200 B",
    protocol: "udp",
    format: "rfc5424",
    bytes: 200,
    connections: 1,
    messages: 100_000,
    seconds: 5,
  },
];

const enc = new TextEncoder();

/** About 1 MB of messages, sent again and again. */
function block(c: Case): { bytes: Uint8Array; count: number } {
  const count = Math.max(1, Math.floor(1_048_576 / c.bytes));
  const random = generator(7);
  let text = "";
  for (let i = 0; i < count; i++) text += message(c.format, c.bytes, i, random);
  return { bytes: enc.encode(text), count };
}

function procStats(
  pid: number,
): { cpuSeconds: number; mainCpuSeconds: number; workerCpuSeconds: number; peakRssMb: number } {
  const ticks = (path: string) => {
    const stat = Deno.readTextFileSync(path);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime, stime
  };
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  // Web Workers' threads are named worker-<n> (the spool workers, and the UDP receive worker).
  let workerTicks = 0;
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      if (Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/comm`).startsWith("worker-")) {
        workerTicks += ticks(`/proc/${pid}/task/${task.name}/stat`);
      }
    } catch { /* the thread ended */ }
  }
  return {
    workerCpuSeconds: workerTicks / 100,
    cpuSeconds: ticks(`/proc/${pid}/stat`) / 100, // all threads
    mainCpuSeconds: ticks(`/proc/${pid}/task/${pid}/stat`) / 100, // the main thread (its id is the process's)
    peakRssMb: hwm / 1024,
  };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) written += await conn.write(data.subarray(written));
}

async function run(c: Case, dir: string, tls: { cert: string; key: string; ca: string }): Promise<Result> {
  const port = freePort();
  const metricsPort = freePort();
  const endpoint = sink === "dir" ? undefined : new FirehoseEndpoint(sink === "firehose" ? "bench" : []).start();
  if (endpoint !== undefined) endpoint.retain = false;
  endpoint?.kinesis.addStream("bench", { shards: 4, quota: { bytesPerSecond: Infinity, recordsPerSecond: Infinity } });
  const caseDir = await Deno.makeTempDir({ dir, prefix: "case-" });
  if (c.config !== undefined) await Deno.writeTextFile(`${caseDir}/kinesyslog.yaml`, c.config);
  const relay = await RelayProcess.start([
    "listen",
    ...(c.config === undefined ? [] : ["--config", `${caseDir}/kinesyslog.yaml`]),
    ...(endpoint
      ? [sink === "kinesis" ? "--kinesis-stream" : "--stream", "bench", "--endpoint-url", endpoint.url]
      : ["--output-dir", `${caseDir}/out`]),
    "--spool-dir",
    `${caseDir}/spool`,
    "--address",
    "127.0.0.1",
    "--prometheus-port",
    String(metricsPort),
    `--${c.format === "gelf" ? "gelf-" : ""}${c.protocol}-port`,
    String(port),
    ...(c.protocol === "tls" ? ["--cert", tls.cert, "--key", tls.key] : ["--tls-port", "0"]),
    "--flush-interval",
    "1",
    ...(c.args ?? []),
  ], { dirs: [caseDir, dir], env: awsTestEnv(endpoint?.url) });
  const pid = relay.pid;
  const before = procStats(pid);
  const start = performance.now();
  // Samples of (time, spooled events), taken from the first byte sent, give the steady rate
  // between 10% and 90% of the total.
  const samples: [number, number][] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push([performance.now(), await scrape(metricsPort, "kinesyslog_events_spooled_total")]);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  let sent = 0;
  let sendSeconds = 0;
  if (c.protocol === "udp") {
    ({ sent, seconds: sendSeconds } = await sendUdpAtRate(port, c));
  } else if (c.protocol === "relp") {
    const random = generator(7);
    const messages = Array.from({ length: 5_000 }, (_, i) => message(c.format, c.bytes, i, random).replace(/\n$/, ""));
    const perConnection = Math.ceil(Math.round(c.messages * scale) / c.connections);
    await Promise.all(Array.from({ length: c.connections }, async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await sendRelp(conn, messages, perConnection, c.window ?? 128);
      conn.close();
    }));
    sent = perConnection * c.connections;
  } else {
    const { bytes, count } = block(c);
    const total = Math.round(c.messages * scale);
    const perConnection = Math.ceil(total / count / c.connections);
    await Promise.all(Array.from({ length: c.connections }, async () => {
      const conn = c.protocol === "tls"
        ? await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [tls.ca] })
        : await Deno.connect({ hostname: "127.0.0.1", port });
      for (let i = 0; i < perConnection; i++) await writeAll(conn, bytes);
      conn.close();
    }));
    sent = perConnection * count * c.connections;
  }
  // Delivered = spooled events whose records have all left the spool.
  let delivered = 0;
  let stable = 0;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const spooled = await scrape(metricsPort, "kinesyslog_events_spooled_total");
    const waiting = await scrape(metricsPort, "kinesyslog_spool_files");
    const buffered = await scrape(metricsPort, "kinesyslog_buffered_bytes");
    if (spooled >= sent && waiting === 0) {
      delivered = spooled;
      break;
    }
    // UDP loses messages: stop once nothing moves and nothing is left in memory.
    stable = spooled === delivered && buffered === 0 && waiting === 0 ? stable + 1 : 0;
    delivered = spooled;
    if (c.protocol === "udp" && stable >= 30) break;
  }
  sampling = false;
  await sampler;
  if (Deno.env.get("BENCH_TRACE")) {
    console.error(samples.map(([t, n]) => `${((t - start) / 1000).toFixed(1)}s:${n}`).join(" "));
  }
  const total = (performance.now() - start) / 1000;
  const at = (share: number) => samples.find(([, n]) => n >= share * delivered) ?? samples[samples.length - 1]!;
  const [t10, n10] = at(0.1), [t90, n90] = at(0.9);
  const steady = t90 > t10 ? (n90 - n10) / ((t90 - t10) / 1000) : delivered / total;
  const after = procStats(pid);
  if (Deno.env.get("BENCH_TRACE")) {
    const reasons: string[] = [];
    for (const reason of ["size", "age", "memory", "open_buffers", "journal", "acknowledge", "shutdown"]) {
      reasons.push(`${reason}=${await scrape(metricsPort, "kinesyslog_batches_flushed_total", { reason })}`);
    }
    console.error(`flushes: ${reasons.join(" ")}`);
  }
  const records = await scrape(metricsPort, "kinesyslog_records_delivered_total");
  const recordBytes = await scrape(metricsPort, "kinesyslog_delivered_bytes_total");
  const kernelDrops = await scrape(metricsPort, "kinesyslog_udp_kernel_drops_total");
  const spoolWorkers = await scrape(metricsPort, "kinesyslog_spool_workers");
  const drops = (await fetchMetrics(metricsPort)).get("kinesyslog_messages_dropped_total")?.samples ?? [];
  const relayDrops = drops.reduce((sum, s) => sum + s.value, 0);
  const relayDropReasons = drops.filter((s) => s.value > 0).map((s) => `${s.labels.reason}=${s.value}`).join(" ");
  await relay.stop();
  await endpoint?.stop();
  await Deno.remove(caseDir, { recursive: true });
  return {
    case: c,
    sent,
    sendSeconds,
    delivered,
    seconds: total,
    rate: c.protocol === "udp" ? delivered / c.seconds! : steady,
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
    mainCpuSeconds: after.mainCpuSeconds - before.mainCpuSeconds,
    workerCpuSeconds: after.workerCpuSeconds - before.workerCpuSeconds,
    peakRssMb: after.peakRssMb,
    records,
    recordBytes,
    kernelDrops,
    spoolWorkers,
    relayDrops,
    relayDropReasons,
  };
}

/**
 * Offers `c.messages` datagrams a second for `c.seconds` from `c.connections` sockets, the
 * first `c.burstSeconds` seconds' worth at once, from a process of its own (`udp_load.ts`);
 * resolves with what was sent and how long it took (longer than `c.seconds` where the
 * generator cannot keep the rate).
 */
async function sendUdpAtRate(port: number, c: Case): Promise<{ sent: number; seconds: number }> {
  const load: Load = {
    port,
    rate: c.messages,
    seconds: c.seconds!,
    burst: c.burstSeconds ?? 0,
    sockets: c.connections,
    format: c.format,
    bytes: c.bytes,
  };
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", new URL("./udp_load.ts", import.meta.url).pathname, JSON.stringify(load)],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`udp_load.ts failed (exit code ${out.code})`);
  return JSON.parse(new TextDecoder().decode(out.stdout)) as { sent: number; seconds: number };
}

function row(r: Result): string {
  const rate = r.rate;
  const loss = r.sent === 0 ? 0 : (1 - r.delivered / r.sent) * 100;
  // Of the largest record the sink is sent: Firehose's are a quarter of its record limit.
  const largest = sink === "dir" ? MAX_RECORD_BYTES : SHARED_RECORD_BYTES;
  const fill = r.records === 0 ? 0 : (r.recordBytes / r.records / largest) * 100;
  const overall = r.case.protocol === "udp" ? "" : ` | ${Math.round(r.delivered / r.seconds).toLocaleString("en-US")}`;
  return `| ${r.case.name} | ${Math.round(rate).toLocaleString("en-US")}${overall || " | "} | ${
    (rate * r.case.bytes / 1e6).toFixed(1)
  } | ${(r.cpuSeconds / (r.delivered / 1e6)).toFixed(1)} (${(r.mainCpuSeconds / (r.delivered / 1e6)).toFixed(1)}) | ${
    r.peakRssMb.toFixed(0)
  } | ${loss.toFixed(2)}% | ${fill.toFixed(0)}% (${r.records}) | ${
    r.delivered === 0 ? "" : (r.recordBytes / r.delivered).toFixed(1)
  } |`;
}

/** Resident memory of a process now, in MB. */
function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/**
 * The soak: `minutes` of about 21,000 messages/s (4 TCP connections, 200 B RFC 5424) into a
 * relay that delivers to the local Firehose endpoint through the SDK, while the endpoint
 * fails 10% of records and 2% of calls, throttles to 1 record/s for 20 s of every 2 minutes,
 * and is down for 30 s once, in the middle. Prints a sample every 10 s and a summary.
 */
async function soak(minutes: number, dir: string): Promise<void> {
  const endpoint = new FirehoseEndpoint("logs").start();
  endpoint.faults.recordFailureRate = 0.1;
  endpoint.faults.callFailureRate = 0.02;
  const [port, metricsPort] = [freePort(), freePort()];
  const caseDir = await Deno.makeTempDir({ dir, prefix: "soak-" });
  const relay = await startFirehoseRelay(caseDir, endpoint.url, `${caseDir}/spool`, [
    "--prometheus-port",
    String(metricsPort),
    "--tcp-port",
    String(port),
    "--tls-port",
    "0",
  ]);
  const end = performance.now() + minutes * 60_000;
  // Every message is unique (its seq), so delivery is checked message by message.
  const perSecond = 5_000;
  const maxMessages = (minutes * 60 + 10) * perSecond * 4;
  const seen = new Uint8Array(Math.ceil(maxMessages / 8));
  let sent = 0;
  let distinct = 0;
  const collect = () => {
    for (const record of endpoint.records.splice(0)) {
      for (const e of decodeRecord(record)) {
        const seq = Number(/seq=(\d+)/.exec(e.message)?.[1]);
        const bit = 1 << (seq & 7);
        if (!(seen[seq >> 3]! & bit)) distinct++;
        seen[seq >> 3]! |= bit;
      }
    }
  };
  const senders = Array.from({ length: 4 }, async (_, connection) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const random = generator(connection + 1);
    // 5,000 messages per connection per second.
    for (let round = 0, next = performance.now(); performance.now() < end; round++, next += 1_000) {
      let text = "";
      const first = (round * 4 + connection) * perSecond;
      for (let i = 0; i < perSecond; i++) text += message("rfc5424", 200, first + i, random);
      await writeAll(conn, enc.encode(text));
      sent += perSecond;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next + 1_000 - performance.now())));
    }
    conn.close();
  });
  const started = performance.now();
  const samples: { minute: number; rss: number; spool: number; journal: number; buffered: number }[] = [];
  let records = 0;
  console.log("| time | RSS MB | spool MB | journal MB | buffered MB | sent | delivered | fault |");
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  let fault = "";
  let down = false;
  const sampling = (async () => {
    for (let tick = 1; performance.now() < end; tick++) {
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      const minute = (performance.now() - started) / 60_000;
      // Throttling for 20 s of every 2 minutes; the endpoint down for 30 s in the middle.
      const phase = (tick * 10) % 120;
      endpoint.setQuota(endpoint.stream, phase >= 60 && phase < 80 ? { recordsPerSecond: 1 } : {});
      const middle = Math.floor(minutes * 6 / 2);
      if (tick === middle) await endpoint.stop();
      if (tick === middle + 3) endpoint.start();
      down = tick >= middle && tick < middle + 3;
      fault = tick >= middle && tick < middle + 3 ? "down" : phase >= 60 && phase < 80 ? "throttled" : "";
      const sample = {
        minute,
        rss: rssMb(relay.pid),
        spool: await scrape(metricsPort, "kinesyslog_spool_bytes").catch(() => NaN) / 1_048_576,
        journal: await scrape(metricsPort, "kinesyslog_journal_bytes").catch(() => NaN) / 1_048_576,
        buffered: await scrape(metricsPort, "kinesyslog_buffered_bytes").catch(() => NaN) / 1_048_576,
      };
      samples.push(sample);
      records += endpoint.records.length;
      collect();
      console.log(
        `| ${sample.minute.toFixed(1)} min | ${sample.rss.toFixed(0)} | ${sample.spool.toFixed(1)} | ${
          sample.journal.toFixed(1)
        } | ${sample.buffered.toFixed(1)} | ${sent} | ${distinct} | ${fault} |`,
      );
    }
  })();
  await Promise.all([...senders, sampling]);
  endpoint.setQuota(endpoint.stream, {});
  if (down) endpoint.start();
  const deadline = performance.now() + 300_000;
  while (performance.now() < deadline) {
    records += endpoint.records.length;
    collect();
    if (distinct >= sent) break;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  const delivered = distinct;
  const peak = procStats(relay.pid).peakRssMb;
  await relay.stop();
  await endpoint.stop();
  await Deno.remove(caseDir, { recursive: true });
  const rss = samples.map((s) => s.rss);
  console.log(
    `\nsoak: ${minutes} min, ${sent.toLocaleString("en-US")} messages sent, ${
      delivered.toLocaleString("en-US")
    } distinct delivered; RSS first ${rss[0]?.toFixed(0)} MB, last ${rss.at(-1)?.toFixed(0)} MB, max ${
      Math.max(...rss).toFixed(0)
    } MB (peak ${peak.toFixed(0)} MB); max journal ${Math.max(...samples.map((s) => s.journal)).toFixed(1)} MB; ` +
      `${records} records accepted; calls ${JSON.stringify(endpoint.calls)}`,
  );
  if (delivered < sent) {
    console.log(`soak: ${sent - delivered} messages NOT delivered`);
    Deno.exitCode = 1;
  }
}

/** Sends case `c` over TCP to `port` (its connections at once); resolves with the messages sent. */
async function sendTcpCase(c: Case, port: number): Promise<number> {
  const { bytes, count } = block(c);
  const perConnection = Math.ceil(Math.round(c.messages * scale) / count / c.connections);
  await Promise.all(Array.from({ length: c.connections }, async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    for (let i = 0; i < perConnection; i++) await writeAll(conn, bytes);
    conn.close();
  }));
  return perConnection * count * c.connections;
}

/**
 * The UDP cases beside rsyslog: 4 sockets, each starting with a burst of 0.9 s of its rate, as
 * syslog-ng's `loggen` sends (issue 17), for 10 s. 200,000/s is more than either side takes on
 * 2 cores: the case where every queue is full, for the memory bound.
 */
const PEER_UDP_CASES: Case[] = [50_000, 100_000, 200_000].map((rate) => ({
  name: `UDP, 4 sockets, ${rate.toLocaleString("en-US")}/s offered with loggen's bursts, RFC 5424, 200 B`,
  protocol: "udp",
  format: "rfc5424",
  bytes: 200,
  connections: 4,
  messages: rate,
  seconds: 10,
  burstSeconds: 0.9,
}));

/**
 * `--peer rsyslog`: the TCP case of issue 17 (4 connections, 200-byte RFC 5424) and the UDP
 * cases of {@linkcode PEER_UDP_CASES} into rsyslog and into the relay, one after the other in
 * one run, and the ratios (`bench_peer.ts`). `--only TEXT` picks cases by name.
 */
async function peer(name: string, dir: string): Promise<void> {
  if (name !== "rsyslog") {
    console.log(`--peer: only rsyslog is supported, not '${name}'`);
    Deno.exitCode = 2;
    return;
  }
  if (!rsyslogInstalled()) {
    console.log("--peer rsyslog: skipped, rsyslogd is not installed (Debian: apt-get install rsyslog)");
    return;
  }
  const tls = await makeCertificate(dir);
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  console.log(
    `Command: \`deno task bench --peer rsyslog\`; ${
      new Date().toISOString().slice(0, 10)
    }; ${navigator.hardwareConcurrency} cores, ` +
      `Deno ${Deno.version.deno}; the load generator shares the cores.`,
  );
  const c = CASES.find((c) => c.name === "TCP, 4 connections, RFC 5424, 200 B")!;
  if (c.name.includes(only)) {
    const rsyslog = (template: RsyslogTemplate) =>
      Deno.makeTempDir({ dir, prefix: "rsyslog-" }).then((d) =>
        runRsyslog(d, (port) => sendTcpCase(c, port), { template })
      );
    const uuid = await rsyslog("uuid");
    const best = await rsyslog("best");
    const r = await run(c, dir, tls);
    const perMillion = (seconds: number) => seconds / (r.delivered / 1e6);
    const ours = {
      delivered: r.delivered,
      rate: r.rate,
      overall: r.delivered / r.seconds,
      cpuPerMillion: perMillion(r.cpuSeconds),
      peakRssMb: r.peakRssMb,
    };
    console.log(
      `\n${c.name}, ${n(Math.round(c.messages * scale))} messages (kinesyslog's spool workers: ${r.spoolWorkers}; ` +
        `CPU s per 1M msgs on its main thread ${perMillion(r.mainCpuSeconds).toFixed(1)}, in its workers ` +
        `${perMillion(r.workerCpuSeconds).toFixed(1)}):\n`,
    );
    console.log(
      "| | delivered | messages/s (10-90%) | overall | msgs per CPU-second | CPU s per 1M msgs | peak RSS MB |",
    );
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    const rows = [
      ["rsyslog, CWL fields with a uuid (imtcp, omfile zipLevel 6)", uuid],
      ["rsyslog at its best (jsonf of 8 parsed fields, no uuid)", best],
      ["kinesyslog", ours],
    ] as const;
    for (const [who, x] of rows) {
      console.log(
        `| ${who} | ${n(x.delivered)} | ${n(x.rate)} | ${n(x.overall)} | ${n(1e6 / x.cpuPerMillion)} | ${
          x.cpuPerMillion.toFixed(1)
        } | ${x.peakRssMb.toFixed(0)} |`,
      );
    }
    for (const [who, theirs] of [["rsyslog with a uuid", uuid], ["rsyslog at its best", best]] as const) {
      console.log(
        `| ratio (kinesyslog / ${who}) | | x${(ours.rate / theirs.rate).toFixed(2)} | x${
          (ours.overall / theirs.overall).toFixed(2)
        } | x${(theirs.cpuPerMillion / ours.cpuPerMillion).toFixed(2)} | | |`,
      );
    }
  }
  const udp = PEER_UDP_CASES.filter((c) => c.name.includes(only));
  if (udp.length === 0) return;
  console.log('\nUDP (rsyslog: imudp with rcvbufSize="8m"; kinesyslog: its defaults):\n');
  console.log(
    "| case | sent | sent/s, to rsyslog, to kinesyslog | rsyslog delivered | rsyslog loss | kinesyslog delivered | kinesyslog loss | of which kernel, relay | kinesyslog peak RSS MB | spool workers |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const u of udp) {
    let sent = 0;
    let seconds = 0;
    const theirs = await runRsyslog(
      await Deno.makeTempDir({ dir, prefix: "rsyslog-" }),
      async (port) => ({ sent, seconds } = await sendUdpAtRate(port, u)).sent,
      { settleMs: 3_000 },
    );
    const r = await run(u, dir, tls);
    const loss = (delivered: number, of: number) => `${((1 - delivered / of) * 100).toFixed(2)}%`;
    console.log(
      `| ${u.name} | ${n(sent)} | ${n(sent / seconds)}, ${n(r.sent / r.sendSeconds)} | ${n(theirs.delivered)} | ${
        loss(theirs.delivered, sent)
      } | ${n(r.delivered)} | ${loss(r.delivered, r.sent)} | ${n(r.kernelDrops)}, ${n(r.relayDrops)}${
        r.relayDropReasons && ` (${r.relayDropReasons})`
      } | ${r.peakRssMb.toFixed(0)} | ${r.spoolWorkers} |`,
    );
  }
}

/**
 * Removes the benchmark's directory, trying again twice: seen once after the fleet case,
 * `Directory not empty` from a recursive remove of a spool that held 50,000 records.
 */
async function removeDir(path: string): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      return await Deno.remove(path, { recursive: true });
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

const dir = await Deno.makeTempDir({ prefix: "kinesyslog-bench-" });
/** The other benchmarks, by flag: each runs alone, then the program exits. */
const modes: [string, () => Promise<unknown>][] = [
  ["--quota", () => benchQuota(dir)],
  ["--idle", () => benchIdle(dir)],
  ["--bytes", () => benchBytes(dir)],
  ["--fleet", () => benchFleet(dir)],
  ["--edge", () => benchEdge(dir, only)],
  ["--peer", () => peer(Deno.args[Deno.args.indexOf("--peer") + 1] ?? "", dir)],
  ["--soak", () => soak(Number(Deno.args[Deno.args.indexOf("--soak") + 1]), dir)],
];
for (const [flag, run] of modes) {
  if (!args.has(flag)) continue;
  try {
    await run();
  } finally {
    await removeDir(dir);
  }
  Deno.exit();
}
try {
  const tls = await makeCertificate(dir);
  const header = [
    `Command: \`deno task bench${quick ? " --quick" : ""}${sink === "dir" ? "" : ` --sink ${sink}`}\`; sink: ${
      sink === "firehose"
        ? "local Firehose endpoint through the AWS SDK"
        : sink === "kinesis"
        ? "a 4-shard Kinesis data stream at the local endpoint through the AWS SDK"
        : "--output-dir"
    }; ${
      new Date().toISOString().slice(0, 10)
    }; ${Deno.build.target}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}.`,
    "The load generator runs on the same machine and shares its cores.",
    "",
    "Messages/s is the steady rate while 10% to 90% of the messages were delivered (UDP: delivered",
    "over the offered time); overall is all messages over the whole run, start-up and the last",
    "flush included. MB/s, CPU and fill are of the steady rate and the whole run.",
    "",
    "| case | messages/s | overall | MB/s | CPU s per 1M msgs (main thread) | peak RSS MB | loss | record fill (records) | record B/msg |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  console.log(header.join("\n"));
  const rows: string[] = [];
  for (const c of CASES.filter((c) => picked(c.name) && (sink === "kinesis" || !c.args?.includes("kpl")))) {
    const r = await run(c, dir, tls);
    const line = row(r);
    rows.push(line);
    console.log(line);
  }
  if (outFile !== undefined) {
    await Deno.writeTextFile(outFile, `# Benchmarks\n\n${header.join("\n")}\n${rows.join("\n")}\n`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
