/**
 * `deno task bench --bytes`: what a message costs in record bytes (what Firehose bills and its
 * quota counts) beside the same messages gzipped alone with `gzip -6`, the floor a record
 * format can approach. For three kinds of realistic lines (the benchmark's RFC 5424 word soup,
 * web access logs as RFC 3164 syslog, and `flog`'s RFC 5424: `bench_messages.ts`), 200,000 each, LF-framed over
 * one TCP connection into `main.ts listen` delivering to the local Firehose endpoint (records
 * of at most 256 KiB, as a Firehose stream gets them), at gzip levels 1, 6 and 9 for CWL and
 * 6 for NDJSON: record bytes per message, the ratio to `gzip -6` alone, and the relay's CPU
 * per message (every thread, `/proc/<pid>/stat`).
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { FirehoseEndpoint } from "../tests/firehose_endpoint.ts";
import { freePort, sendTcp, startFirehoseRelay } from "../tests/harness.ts";
import { accessLine, flogLine, generator, message } from "./bench_messages.ts";
import { commandLine } from "./bench_header.ts";
import { cpuSeconds } from "./bench_idle.ts";

/** Messages per run. */
const MESSAGES = 200_000;

/** The bytes of `text` gzipped by `gzip -6` (node:zlib at level 6 where gzip is not installed). */
async function gzipAlone(text: Uint8Array): Promise<{ bytes: number; by: string }> {
  try {
    const child = new Deno.Command("gzip", { args: ["-6", "-c"], stdin: "piped", stdout: "piped" }).spawn();
    // Read while writing: gzip's output would otherwise fill its pipe and stop it.
    const output = child.output();
    const writer = child.stdin.getWriter();
    await writer.write(text);
    await writer.close();
    return { bytes: (await output).stdout.length, by: "gzip -6" };
  } catch {
    return { bytes: gzipSync(text, { level: 6 }).length, by: "node:zlib level 6" };
  }
}

/** Runs one relay over `lines` with `args`; returns record bytes and CPU seconds. */
async function deliver(dir: string, lines: Uint8Array, args: string[]): Promise<{ bytes: number; cpu: number }> {
  const endpoint = new FirehoseEndpoint("logs").start();
  const caseDir = await Deno.makeTempDir({ dir, prefix: "bytes-" });
  const port = freePort();
  const relay = await startFirehoseRelay(caseDir, endpoint.url, `${caseDir}/spool`, [
    ...["--tcp-port", String(port), "--tls-port", "0", ...args],
  ]);
  try {
    const before = cpuSeconds(relay.pid);
    await sendTcp(port, lines);
    const stopping = relay.stop();
    let cpu = 0;
    // The CPU of the whole run, read just before the process ends.
    while (
      await Promise.race([stopping.then(() => true), new Promise((r) => setTimeout(() => r(false), 20))]) === false
    ) {
      try {
        cpu = cpuSeconds(relay.pid) - before;
      } catch { /* gone */ }
    }
    const events = endpoint.objects().length;
    if (events !== MESSAGES) throw new Error(`${events} of ${MESSAGES} messages delivered`);
    return { bytes: endpoint.accepted.reduce((sum, a) => sum + a.bytes, 0), cpu };
  } finally {
    await relay.stop();
    await endpoint.stop();
  }
}

/** Runs the byte cost cases and prints their table. */
export async function benchBytes(dir: string): Promise<string> {
  const kinds: [string, (seq: number, random: () => number) => string][] = [
    ["benchmark lines (RFC 5424, 200 B)", (seq, random) => message("rfc5424", 200, seq, random)],
    ["web access logs (RFC 3164, ~218 B)", accessLine],
    ["flog-style RFC 5424 (~150 B)", flogLine],
  ];
  const out = [
    `${commandLine("deno task bench --bytes")} ${MESSAGES.toLocaleString("en")} messages per run over one TCP ` +
    "connection, delivered to the local Firehose endpoint (records of at most 256 KiB).",
    "",
    "| lines | gzip -6 alone B/msg | record | B/msg | ratio to gzip -6 | relay CPU µs/msg |",
    "| --- | ---: | --- | ---: | ---: | ---: |",
  ];
  console.log(out.join("\n"));
  for (const [name, line] of kinds) {
    const random = generator(7);
    let text = "";
    for (let seq = 0; seq < MESSAGES; seq++) text += line(seq, random);
    const lines = new TextEncoder().encode(text);
    const alone = await gzipAlone(lines);
    const runs: [string, string[]][] = [
      ["CWL level 6", []],
      ["CWL level 1", ["--compression-level", "1"]],
      ["CWL level 9", ["--compression-level", "9"]],
      ["NDJSON level 6", ["--record-format", "ndjson"]],
    ];
    for (const [record, args] of runs) {
      const { bytes, cpu } = await deliver(dir, lines, args);
      const row =
        `| ${name} | ${(alone.bytes / MESSAGES).toFixed(1)} | ${record} | ${(bytes / MESSAGES).toFixed(1)} | ` +
        `${(bytes / alone.bytes).toFixed(3)} | ${(cpu / MESSAGES * 1e6).toFixed(2)} |`;
      out.push(row);
      console.log(row);
    }
    if (alone.by !== "gzip -6") out.push(`(${alone.by}: gzip is not installed)`);
  }
  return out.join("\n");
}
