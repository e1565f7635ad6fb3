/**
 * End-to-end tests of a fleet of relays on one stream (`fleet.ts`): together they must use
 * at least 90% of the quota from 5 s after the first accepted record until the last, each
 * relay at least 60%/N of what was accepted while all had a backlog, and every message must
 * arrive.
 */
import { assert, assertEquals } from "./assert.ts";
import { FirehoseEndpoint } from "./firehose_endpoint.ts";
import { type FleetResult, leaveBacklog, MiB, runFleet } from "./fleet.ts";
import { sendLinesAtRate } from "./harness.ts";

/** Checks a fleet's result: 90% of the quota together, each relay at least 60%/n. */
function checkShares(label: string, result: FleetResult): void {
  const n = result.shares.length;
  console.log(result.table);
  console.log(
    `${label}: ${(result.use * 100).toFixed(1)}% of the quota over ${result.seconds.toFixed(1)} s; ` +
      `shares ${result.shares.map((s) => `${(100 * s).toFixed(0)}%`).join(" / ")}`,
  );
  assert(result.use >= 0.9, `the fleet used ${(result.use * 100).toFixed(1)}% of the quota`);
  for (const s of result.shares) assert(s >= 0.6 / n, `a relay took ${(100 * s).toFixed(0)}% (at least ${60 / n}%)`);
}

/**
 * `n` relays on one stream of 1 MiB/s, each sent `perSecond` realistic 200-byte lines a
 * second over TCP for 10 s (together far above the quota): every message arrives, by relay
 * (its log group names its port) and sequence number.
 */
async function liveFleet(n: number, perSecond: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-fleet-" });
  const endpoint = new FirehoseEndpoint(["logs"]).start();
  endpoint.setQuota("logs", { bytesPerSecond: MiB });
  try {
    let sent = 0;
    const result = await runFleet(n, endpoint, dir, async (members) => {
      const counts = await Promise.all(members.map((m) => sendLinesAtRate(m.tcp, perSecond, 10)));
      sent = counts.reduce((x, y) => x + y, 0);
    });
    const seen = new Set<string>();
    for (const e of endpoint.events()) seen.add(`${e.logGroup} ${/seq=(\d+)/.exec(e.message)?.[1]}`);
    assertEquals(seen.size, sent, "every message sent arrives");
    checkShares(`${n} relays at 1 MiB/s`, result);
  } finally {
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("two relays on one stream at 1 MiB/s: together 90% of the quota, fair shares, every message", async () => {
  await liveFleet(2, 8_000);
});

Deno.test("three relays on one stream at 1 MiB/s: together 90% of the quota, fair shares, every message", async () => {
  await liveFleet(3, 6_000);
});

/**
 * `n` relays on one stream of 5 MiB/s (the largest regions' default), each starting with a
 * backlog of 30 s of its share in its spool (a fleet back from an outage): every record arrives.
 */
async function drainingFleet(n: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-fleet-" });
  const endpoint = new FirehoseEndpoint(["logs"]).start();
  endpoint.setQuota("logs", { bytesPerSecond: 5 * MiB });
  // About 153 KB a record: 5 MiB/s for 30 s is about 1,030 records in all.
  const records = Math.ceil(1_030 / n);
  try {
    const result = await runFleet(n, endpoint, dir, async () => {}, (spool, i) => leaveBacklog(spool, i, records));
    const seen = new Set<string>();
    for (const e of endpoint.events()) seen.add(/^relay=\d+ record=\d+/.exec(e.message)![0]);
    assertEquals(seen.size, n * records, "every record arrives");
    checkShares(`${n} relays at 5 MiB/s`, result);
  } finally {
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("two relays draining their spools into one stream at 5 MiB/s: 90% of the quota, fair shares", async () => {
  await drainingFleet(2);
});

Deno.test("three relays draining their spools into one stream at 5 MiB/s: 90% of the quota, fair shares", async () => {
  await drainingFleet(3);
});
