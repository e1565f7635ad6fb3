/**
 * `deno task bench --edge`: the relay at the limits of its edge (issue 16), each case run
 * against `main.ts listen` as a subprocess with the compile task's V8 flags:
 *
 * - 50,000 UDP sources (distinct 127.x.y.z), one message each at 3,000/s, `--flush-interval 10`:
 *   peak RSS and the share delivered;
 * - the same to the local Firehose endpoint through the SDK, with a TCP sender at 1,000
 *   messages/s beside it (issue 29's shape): peak RSS, UDP delivered, TCP exactly once, the
 *   records made;
 * - one TCP connection trickling 200 bytes/s of a line that never ends, for 30 s: RSS growth;
 * - 3,000 connections from 3,000 addresses, each trickling a byte a second, and a legitimate
 *   sender at 500 messages/s for 30 s: legitimate messages delivered, peak RSS;
 * - 6,000 connections to the metrics port at a descriptor limit of 2,048: still running, and
 *   `/metrics` answers afterwards.
 *
 * @module
 */
import { connectUntilKept, DripFlood, fleetAddress } from "../tests/edge_senders.ts";
import { freePort, readOutputDir, RelayProcess, scrape, startFirehoseRelay, writeAll } from "../tests/harness.ts";
import { FirehoseEndpoint } from "../tests/firehose_endpoint.ts";
import { readUdpDrops } from "../src/listen/udp_drops.ts";
import { commandLine } from "./bench_header.ts";

const enc = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rssMb(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

async function start(dir: string, args: string[]): Promise<{ relay: RelayProcess; metrics: number }> {
  const metrics = freePort();
  const relay = await RelayProcess.start([
    "listen",
    ...["--output-dir", `${dir}/out`, "--spool-dir", `${dir}/spool`, "--address", "127.0.0.1"],
    ...["--tls-port", "0", "--prometheus-port", String(metrics), ...args],
  ], { dirs: [dir] });
  return { relay, metrics };
}

/** Waits until `sent` events are spooled and the spool is empty (delivered), or `ms` pass. */
async function delivered(metrics: number, sent: number, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let events = 0;
  while (Date.now() < deadline) {
    events = await scrape(metrics, "kinesyslog_events_spooled_total");
    const waiting = await scrape(metrics, "kinesyslog_spool_files") +
      await scrape(metrics, "kinesyslog_buffered_bytes");
    if (events >= sent && waiting === 0) break;
    await sleep(250);
  }
  return events;
}

/** Sends one message from each of `sources` addresses (distinct 127.x.y.z) to `port`, 3,000 a second. */
async function sendFromFleet(port: number, sources: number): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < sources; i++) {
    const socket = Deno.listenDatagram({ hostname: fleetAddress(i), port: 0, transport: "udp" });
    const text = `<13>1 2026-11-30T15:00:00Z host${i} app - - - fleet message ${i} ${"x".repeat(150)}`;
    await socket.send(enc.encode(text), { transport: "udp", hostname: "127.0.0.1", port });
    socket.close();
    const wait = t0 + (i + 1) / 3 - performance.now();
    if (wait > 1) await sleep(wait);
  }
}

/**
 * Issue 29's shape: 50,000 UDP sources as in {@linkcode udpFleet}, and a TCP sender at 1,000
 * messages/s for as long, into a relay delivering to the local Firehose endpoint through the
 * SDK: peak RSS, the UDP messages delivered, each TCP message exactly once, the records made.
 */
async function udpFleetFirehose(dir: string): Promise<string> {
  const endpoint = new FirehoseEndpoint(["logs"]).start();
  const [udp, tcp, metrics] = [freePort(), freePort(), freePort()];
  const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
    ...["--udp-port", String(udp), "--tcp-port", String(tcp), "--tls-port", "0"],
    ...["--prometheus-port", String(metrics), "--flush-interval", "10"],
  ]);
  try {
    const sources = 50_000;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
    let tcpSent = 0;
    let sending = true;
    const tcpSender = (async () => {
      const t0 = performance.now();
      for (let step = 1; sending; step++) {
        let text = "";
        for (let i = 0; i < 100; i++) text += `<13>1 2026-11-30T15:00:00Z tcphost app - - - tcp seq=${tcpSent++}\n`;
        await writeAll(conn, text);
        const wait = t0 + step * 100 - performance.now();
        if (wait > 0) await sleep(wait);
      }
      conn.close();
    })();
    await sendFromFleet(udp, sources);
    sending = false;
    await tcpSender;
    const events = await delivered(metrics, sources + tcpSent, 180_000);
    const { peak } = rssMb(relay.pid);
    let udpSeen = 0;
    const tcpSeen = new Map<number, number>();
    for (const e of endpoint.events()) {
      const seq = / tcp seq=(\d+)/.exec(e.message);
      if (seq === null) udpSeen++;
      else tcpSeen.set(Number(seq[1]), (tcpSeen.get(Number(seq[1])) ?? 0) + 1);
    }
    const once = [...tcpSeen.values()].filter((n) => n === 1).length;
    return `| 50,000 UDP sources, 1 message each, 3,000/s, and TCP at 1,000/s, to the local Firehose endpoint, \`--flush-interval 10\` | ${
      (100 * udpSeen / sources).toFixed(2)
    }% of UDP delivered; TCP ${once} of ${tcpSent} exactly once (${tcpSeen.size} seen); ${endpoint.records.length} records (${events} events spooled) | ${
      peak.toFixed(0)
    } | ${rssMb(relay.pid).rss.toFixed(0)} |`;
  } finally {
    await relay.stop();
    await endpoint.stop();
  }
}

async function udpFleet(dir: string): Promise<string> {
  const port = freePort();
  const { relay, metrics } = await start(dir, ["--udp-port", String(port), "--flush-interval", "10"]);
  const sources = 50_000;
  await sendFromFleet(port, sources);
  const sentAt = performance.now();
  const events = await delivered(metrics, sources, 180_000).catch(async (error) => {
    // Say whether the relay is still there, and what it said last.
    const exited = await Promise.race([relay.status.then((s) => `exited with ${s.code}`), sleep(100).then(() => "")]);
    throw new Error(`${(error as Error).message}; relay ${exited || "running"}:\n${relay.lines.slice(-20).join("\n")}`);
  });
  const tail = (performance.now() - sentAt) / 1000;
  // The relay cannot read /proc under its own permissions; the benchmark (--allow-all) can.
  const kernel = readUdpDrops(port) ?? "unknown";
  const dropped = await scrape(metrics, "kinesyslog_messages_dropped_total");
  const reasons: string[] = [];
  for (const reason of ["spool_full", "worker_backlog", "journal_backlog"]) {
    const n = await scrape(metrics, "kinesyslog_messages_dropped_total", { reason });
    if (n > 0) reasons.push(`${reason} ${n}`);
  }
  const flushedForCap = await scrape(metrics, "kinesyslog_batches_flushed_total", { reason: "open_buffers" });
  const { rss, peak } = rssMb(relay.pid);
  await relay.stop();
  return `| 50,000 UDP sources, 1 message each, 3,000/s, \`--flush-interval 10\` | ${
    (100 * events / sources).toFixed(2)
  }% delivered (${events}, the last ${
    tail.toFixed(0)
  } s after the last was sent); kernel drops (read from /proc/net/udp by the benchmark) ${kernel}, relay drops ${dropped}${
    reasons.length > 0 ? ` (${reasons.join(", ")})` : ""
  }; ${flushedForCap} buffers flushed for the cap | ${peak.toFixed(0)} | ${rss.toFixed(0)} |`;
}

async function slowSender(dir: string): Promise<string> {
  const port = freePort();
  const { relay } = await start(dir, ["--tcp-port", String(port)]);
  await sleep(1_000);
  const before = rssMb(relay.pid).rss;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(enc.encode("<13>1 - host app - - - "));
  for (let i = 0; i < 30 * 200; i++) {
    await conn.write(enc.encode("x"));
    await sleep(5);
  }
  const after = rssMb(relay.pid);
  conn.close();
  await relay.stop();
  return `| 1 connection trickling 200 bytes/s of an endless line for 30 s | RSS ${before.toFixed(0)} -> ${
    after.rss.toFixed(0)
  } MB (+${(after.rss - before).toFixed(1)} MB) | ${after.peak.toFixed(0)} | ${after.rss.toFixed(0)} |`;
}

async function slotFlood(dir: string): Promise<string> {
  const port = freePort();
  const { relay, metrics } = await start(dir, ["--tcp-port", String(port), "--flush-interval", "1"]);
  const flood = new DripFlood(port, { connections: 3_000, firstAddress: 60_000, byteIntervalMs: 1_000 });
  await sleep(5_000);
  // The legitimate sender: reconnects until its connection is kept, then 500 messages/s for 30 s.
  const { socket: legit, attempts } = await connectUntilKept("127.0.0.1", port, 200);
  let sent = 0;
  let broken = false;
  legit?.on("close", () => (broken = true));
  for (let s = 0; s < 30 * 10 && legit !== undefined && !broken; s++) {
    let lines = "";
    for (let i = 0; i < 50; i++) lines += `<13>1 - host legit - - - legitimate message ${sent++}\n`;
    legit.write(lines);
    await sleep(100);
  }
  const cut = broken;
  legit?.end();
  await flood.stop();
  await sleep(2_000);
  await delivered(metrics, 0, 30_000);
  const events = (await readOutputDir(`${dir}/out`)).filter((e) => e.message.includes(" legit ")).length;
  const unfinished = await scrape(metrics, "kinesyslog_messages_dropped_total", { reason: "unfinished" });
  const evicted = await scrape(metrics, "kinesyslog_connection_errors_total", { reason: "evicted" });
  const { rss, peak } = rssMb(relay.pid);
  await relay.stop();
  return `| 3,000 connections from 3,000 addresses trickling 1 byte/s, and a legitimate sender at 500 msgs/s for 30 s | legitimate: ${events} of ${sent} delivered (${attempts} connect attempts${
    cut ? ", its connection was closed" : ""
  }); ${evicted} dripping connections evicted, their ${unfinished} unfinished lines counted, not delivered | ${
    peak.toFixed(0)
  } | ${rss.toFixed(0)} |`;
}

async function metricsFlood(dir: string): Promise<string> {
  const { relay, metrics } = await start(dir, ["--udp-port", String(freePort())]);
  await new Deno.Command("prlimit", { args: ["--pid", String(relay.pid), "--nofile=2048:2048"] }).output();
  const conns: Deno.Conn[] = [];
  await Promise.race([
    Promise.all(
      Array.from(
        { length: 6_000 },
        () => Deno.connect({ hostname: "127.0.0.1", port: metrics }).then((c) => conns.push(c), () => {}),
      ),
    ),
    sleep(15_000),
  ]);
  await sleep(2_000);
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed */ }
  }
  await sleep(500);
  let answered = "no answer";
  try {
    const refused = await scrape(metrics, "kinesyslog_connections_refused_total", { reason: "connection_limit" });
    const exhausted = await scrape(metrics, "kinesyslog_connection_errors_total", { reason: "descriptors_exhausted" });
    answered = `/metrics answers: ${refused} connections refused at the limit, ${exhausted} accepts out of descriptors`;
  } catch (error) {
    answered = `/metrics failed: ${(error as Error).message}`;
  }
  const running = await Promise.race([relay.exited().then(() => false), sleep(100).then(() => true)]);
  const { rss, peak } = rssMb(relay.pid);
  await relay.stop();
  return `| 6,000 connections to the metrics port, descriptor limit 2,048 (${conns.length} opened) | ${
    running ? "still running" : "EXITED"
  }; ${answered} | ${peak.toFixed(0)} | ${rss.toFixed(0)} |`;
}

/** Runs the edge cases and prints their table. */
export async function benchEdge(dir: string, only: string): Promise<string> {
  const header = [
    commandLine("deno task bench --edge"),
    "",
    "| case | outcome | peak RSS MB | RSS at end MB |",
    "| --- | --- | ---: | ---: |",
  ];
  console.log(header.join("\n"));
  const cases: [string, (dir: string) => Promise<string>][] = [
    ["fleet", udpFleet],
    ["firehose-fleet", udpFleetFirehose],
    ["slow", slowSender],
    ["slots", slotFlood],
    ["metrics", metricsFlood],
  ];
  const rows: string[] = [];
  for (const [name, run] of cases) {
    if (!name.includes(only)) continue;
    const caseDir = await Deno.makeTempDir({ dir, prefix: `edge-${name}-` });
    const line = await run(caseDir);
    console.log(line);
    rows.push(line);
  }
  return [...header, ...rows].join("\n");
}
