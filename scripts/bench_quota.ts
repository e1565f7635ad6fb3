/**
 * `deno task bench --quota`: delivery at the Firehose quota. The local endpoint meters each
 * stream at 1 MiB/s as the service does; the relay (`main.ts listen` as a subprocess, the
 * real AWS SDK) gets twice what its streams take, then nothing, and a table shows per second
 * the bytes each stream accepted, their share of the quota, the learned rate and the spool.
 *
 * @module
 */
import { FirehoseEndpoint } from "../tests/firehose_endpoint.ts";
import { awsTestEnv, freePort, RelayProcess, scrape } from "../tests/harness.ts";
import { generator, message } from "./bench_messages.ts";
import { commandLine } from "./bench_header.ts";

const MiB = 1_048_576;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Record bytes per 200-byte message at the default options (a guess, then measured by the first case). */
let bytesPerMessage = 70;

/** Sends `perSecond` of the benchmark's 200-byte RFC 5424 lines for `seconds` over two connections. */
export async function sendAtRate(port: number, perSecond: number, seconds: number): Promise<number> {
  const conns = [
    await Deno.connect({ hostname: "127.0.0.1", port }),
    await Deno.connect({ hostname: "127.0.0.1", port }),
  ];
  const random = generator(3);
  const enc = new TextEncoder();
  const start = performance.now();
  let seq = 0;
  for (let step = 0; step < seconds * 10; step++) {
    let text = "";
    for (let i = 0; i < perSecond / 10; i++) text += message("rfc5424", 200, seq++, random);
    const bytes = enc.encode(text);
    const conn = conns[step % 2]!;
    for (let w = 0; w < bytes.length;) w += await conn.write(bytes.subarray(w));
    const due = start + (step + 1) * 100;
    if (due > performance.now()) await sleep(due - performance.now());
  }
  for (const c of conns) c.close();
  return seq;
}

async function overload(dir: string, streams: string[], seconds: number): Promise<string> {
  const endpoint = new FirehoseEndpoint(streams).start();
  for (const s of streams) endpoint.setQuota(s, { bytesPerSecond: MiB });
  const [tcp, metrics] = [freePort(), freePort()];
  const caseDir = await Deno.makeTempDir({ dir, prefix: "quota-" });
  const relay = await RelayProcess.start([
    "listen",
    ...streams.flatMap((s) => ["--stream", s]),
    ...["--endpoint-url", endpoint.url, "--spool-dir", `${caseDir}/spool`, "--address", "127.0.0.1"],
    ...["--tcp-port", String(tcp), "--tls-port", "0", "--prometheus-port", String(metrics), "--flush-interval", "1"],
  ], { dirs: [caseDir], env: awsTestEnv(endpoint.url) });
  // Twice the quota of all streams, in 200-byte messages.
  const perSecond = Math.round(2 * streams.length * MiB / bytesPerMessage / 1000) * 1000;
  const start = performance.now();
  const rows: string[] = [];
  let sending = true;
  const sender = sendAtRate(tcp, perSecond, seconds).finally(() => (sending = false));
  let second = 0;
  let emptyAt: number | undefined;
  while (second < 300) {
    second++;
    await sleep(Math.max(0, start + second * 1000 - performance.now()));
    const to = performance.now();
    const each = streams.map((s) => endpoint.acceptedRate(s, to - 1000, to));
    const learned: number[] = [];
    for (const s of streams) {
      learned.push(await scrape(metrics, "kinesyslog_stream_rate_bytes_per_second", { stream: s }));
    }
    const spool = await scrape(metrics, "kinesyslog_spool_bytes");
    const total = each.reduce((a, b) => a + b, 0);
    rows.push(
      `| ${second} | ${sending ? "sending" : "no load"} | ${each.map((b) => (b / MiB).toFixed(2)).join(" / ")} | ${
        (100 * total / (streams.length * MiB)).toFixed(0)
      }% | ${learned.map((b) => (b / MiB).toFixed(2)).join(" / ")} | ${(spool / 1e6).toFixed(1)} |`,
    );
    if (!sending && spool === 0 && await scrape(metrics, "kinesyslog_buffered_bytes") === 0) {
      emptyAt = to;
      break;
    }
  }
  const sent = await sender;
  const accepted = endpoint.accepted.reduce((a, r) => a + r.bytes, 0);
  if (streams.length === 1) bytesPerMessage = accepted / sent;
  const first = endpoint.accepted[0]!.at;
  const use = emptyAt === undefined
    ? NaN
    : streams.reduce((a, s) => a + endpoint.acceptedRate(s, first + 5_000, emptyAt!), 0) / (streams.length * MiB);
  const shares = streams.map((s) => endpoint.accepted.filter((a) => a.stream === s).reduce((a, r) => a + r.bytes, 0));
  await relay.stop();
  await endpoint.stop();
  return [
    `### ${streams.length} stream${streams.length > 1 ? "s" : ""} at 1 MiB/s each, ${
      perSecond.toLocaleString("en-US")
    } msgs/s of 200 B for ${seconds} s (twice the quota), then nothing`,
    "",
    `${sent.toLocaleString("en-US")} messages, ${(accepted / 1e6).toFixed(1)} MB of records (${
      (accepted / sent).toFixed(1)
    } bytes per message); quota used from 5 s after the first record to the empty spool: **${
      (use * 100).toFixed(1)
    }%**${
      streams.length > 1 ? `; split ${shares.map((b) => (100 * b / accepted).toFixed(0) + "%").join(" / ")}` : ""
    }; ${JSON.stringify({ throttledRecords: endpoint.calls.throttledRecords, calls: endpoint.calls.ok })}.`,
    "",
    "| second | load | accepted MiB/s per stream | of the quota | learned MiB/s | spool MB |",
    "| ---: | --- | --- | ---: | --- | ---: |",
    ...rows,
  ].join("\n");
}

/** Runs the quota cases and prints their tables. */
export async function benchQuota(dir: string): Promise<string> {
  const out = [
    commandLine("deno task bench --quota"),
    "",
  ];
  console.log(out.join("\n"));
  for (const streams of [["logs"], ["logs", "logs-b"]]) {
    const table = await overload(dir, streams, 30);
    console.log(table + "\n");
    out.push(table, "");
  }
  return out.join("\n");
}
