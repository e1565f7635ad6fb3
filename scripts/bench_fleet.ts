/**
 * `deno task bench --fleet`: several relays on one stream. The local endpoint meters the
 * stream `logs` as the service does, one quota shared by every caller; two and then three
 * relays (`main.ts listen` as subprocesses, the real AWS SDK, each with its own access key)
 * deliver to it: at 1 MiB/s each relay is sent the benchmark's realistic 200-byte lines at
 * about its stream's whole quota for 20 s (together two and three times it), and at 5 MiB/s
 * each starts with a backlog in its spool (a fleet back from an outage). A table shows per
 * second the MiB/s each relay had accepted.
 *
 * @module
 */
import { FirehoseEndpoint } from "../tests/firehose_endpoint.ts";
import { type FleetResult, leaveBacklog, MiB, runFleet } from "../tests/fleet.ts";
import { sendAtRate } from "./bench_quota.ts";
import { commandLine } from "./bench_header.ts";

/** The table and summary of one case. */
function report(title: string, result: FleetResult, extra: string): string {
  return [
    `### ${title}`,
    "",
    `Quota used from 5 s after the first record until the last: **${(100 * result.use).toFixed(1)}%** over ${
      result.seconds.toFixed(1)
    } s; shares while every relay had a backlog: ${
      result.shares.map((s) => `${(100 * s).toFixed(0)}%`).join(" / ")
    }; ${extra}.`,
    "",
    "```",
    "second  MiB/s = per relay",
    result.table,
    "```",
  ].join("\n");
}

/** `n` relays, each sent `perSecond` lines a second for `seconds`, on a stream of 1 MiB/s. */
async function live(dir: string, n: number, perSecond: number, seconds: number): Promise<string> {
  const endpoint = new FirehoseEndpoint(["logs"]).start();
  endpoint.setQuota("logs", { bytesPerSecond: MiB });
  const caseDir = await Deno.makeTempDir({ dir, prefix: "fleet-" });
  try {
    let sent = 0;
    const result = await runFleet(n, endpoint, caseDir, async (members) => {
      const counts = await Promise.all(members.map((m) => sendAtRate(m.tcp, perSecond, seconds)));
      sent = counts.reduce((a, b) => a + b, 0);
    });
    const events = endpoint.events().length;
    return report(
      `${n} relays, one stream of 1 MiB/s, each sent ${perSecond.toLocaleString("en-US")} msgs/s for ${seconds} s`,
      result,
      `${sent.toLocaleString("en-US")} messages sent, ${events.toLocaleString("en-US")} delivered; ${
        JSON.stringify({ throttledRecords: endpoint.calls.throttledRecords, calls: endpoint.calls.ok })
      }`,
    );
  } finally {
    await endpoint.stop();
  }
}

/** `n` relays on a stream of 5 MiB/s, each with `records` records waiting in its spool. */
async function draining(dir: string, n: number, records: number): Promise<string> {
  const endpoint = new FirehoseEndpoint(["logs"]).start();
  endpoint.setQuota("logs", { bytesPerSecond: 5 * MiB });
  const caseDir = await Deno.makeTempDir({ dir, prefix: "fleet-" });
  try {
    const result = await runFleet(n, endpoint, caseDir, async () => {}, (spool, i) => leaveBacklog(spool, i, records));
    return report(
      `${n} relays, one stream of 5 MiB/s, each with ${records} records (about 150 KB) in its spool`,
      result,
      `${endpoint.records.length} of ${n * records} records delivered; ${
        JSON.stringify({ throttledRecords: endpoint.calls.throttledRecords, calls: endpoint.calls.ok })
      }`,
    );
  } finally {
    await endpoint.stop();
  }
}

/** Runs the fleet cases and prints their tables. */
export async function benchFleet(dir: string): Promise<string> {
  const out = [
    commandLine("deno task bench --fleet"),
    "",
  ];
  console.log(out.join("\n"));
  for (const n of [2, 3]) {
    // About 70 record bytes a message: each relay alone would fill the stream.
    const table = await live(dir, n, 15_000, 20);
    console.log(table + "\n");
    out.push(table, "");
  }
  for (const n of [2, 3]) {
    const table = await draining(dir, n, Math.ceil(1_370 / n));
    console.log(table + "\n");
    out.push(table, "");
  }
  return out.join("\n");
}
