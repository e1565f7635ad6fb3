/**
 * Kinesis Data Streams end to end (`--kinesis-stream`): `main.ts` as a subprocess, the real
 * AWS SDK (`@aws-sdk/client-kinesis`), and the tests' local endpoint speaking the service
 * (`kinesis_streams.ts`: shards by the MD5 of the partition key, each metered at its quota).
 * Senders are real sockets from many loopback addresses and rsyslog's `omrelp`; aggregated
 * records are read back with the npm `aws-kinesis-agg` library, as a Lambda consumer would.
 */
import { assert, assertEquals } from "./assert.ts";
import { Buffer } from "node:buffer";
import { connectFrom, fleetAddress } from "./edge_senders.ts";
import { FirehoseEndpoint, recordObjects } from "./firehose_endpoint.ts";
import { awsTestEnv, eventually, freePort, noisyLines, RelayProcess, scrape, TcpFlood } from "./harness.ts";
import type { KinesisRecord } from "./kinesis_streams.ts";
import { RSYSLOGD_WITH_RELP, RsyslogRelp } from "./rsyslog.ts";
import { recordTag, sourceTag } from "../src/spool/spool_dir.ts";
import type { DecodedEvent } from "../src/decode/record_events.ts";
import agg from "aws-kinesis-agg";

if (RSYSLOGD_WITH_RELP === undefined) {
  console.error("SKIP the RELP parts of the Kinesis tests: install rsyslog and rsyslog-relp (.ci/run does)");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A relay delivering to the Kinesis data stream `stream` at `endpoint`, spooling in `<dir>/spool`. */
function startKinesisRelay(dir: string, endpoint: FirehoseEndpoint, stream: string, args: string[]) {
  return RelayProcess.start(
    [
      "listen",
      ...["--kinesis-stream", stream, "--endpoint-url", endpoint.url, "--spool-dir", `${dir}/spool`],
      ...["--address", "127.0.0.1", "--tls-port", "0"],
      ...args,
    ],
    { dirs: [dir], env: awsTestEnv(endpoint.url) },
  );
}

/** Runs `body` with a temporary directory and an endpoint holding the data stream `logs` of `shards` shards. */
async function withStream(
  shards: number,
  body: (dir: string, endpoint: FirehoseEndpoint) => Promise<void>,
  quota?: { bytesPerSecond: number; recordsPerSecond: number },
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-kinesis-" });
  const endpoint = new FirehoseEndpoint([]).start();
  endpoint.kinesis.addStream("logs", { shards, ...(quota === undefined ? {} : { quota }) });
  try {
    await body(dir, endpoint);
  } finally {
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every event of the stream's records, in the order the shards took them, with its record. */
function eventsOf(records: KinesisRecord[]): { event: DecodedEvent; record: KinesisRecord }[] {
  return records.flatMap((record) => recordObjects(record.data).map((event) => ({ event, record })));
}

/** How often each `<tag>=<n>` arrived. */
function counts(events: { event: DecodedEvent }[], tag: string): Map<number, number> {
  const seen = new Map<number, number>();
  const pattern = new RegExp(`\\b${tag}=(\\d+)`);
  for (const { event } of events) {
    const m = pattern.exec(event.message);
    if (m !== null) seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
  }
  return seen;
}

/** Sends `lines` over one TCP connection from `address`, then closes it. */
async function sendFromAddress(address: string, port: number, text: string): Promise<void> {
  const socket = await connectFrom(address, port);
  assert(socket !== undefined, `cannot connect from ${address}`);
  await new Promise<void>((resolve, reject) => socket.write(text, (error) => error ? reject(error) : resolve()));
  await new Promise<void>((resolve) => socket.end(resolve));
}

Deno.test({
  name:
    "TCP from 8 sources and rsyslog's omrelp to a 4-shard data stream keyed by source: every message exactly once, each source on one shard and in order",
  fn: () =>
    withStream(4, async (dir, endpoint) => {
      const [tcp, relp, metricsPort] = [freePort(), freePort(), freePort()];
      const relay = await startKinesisRelay(dir, endpoint, "logs", [
        ...["--tcp-port", String(tcp), "--relp-port", String(relp), "--prometheus-port", String(metricsPort)],
        ...["--partition-key", "source", "--flush-interval", "0.5"],
      ]);
      const rsyslog = RSYSLOGD_WITH_RELP === undefined ? undefined : await RsyslogRelp.start(dir, relp);
      try {
        const described = await relay.waitFor(/Kinesis data stream/);
        assert(/shards=4/.test(described) && /mode=PROVISIONED/.test(described), described);
        const perSource = 2_000;
        const sources = Array.from({ length: 8 }, (_, i) => fleetAddress(i));
        // Each source sends in four bursts, a second apart, so its events span several records.
        for (let burst = 0; burst < 4; burst++) {
          await Promise.all(sources.map((address, s) => {
            let text = "";
            for (let i = burst * perSource / 4; i < (burst + 1) * perSource / 4; i++) {
              text += `<13>1 2026-12-07T00:00:00Z host app - - - src=${s} tcp=${s * perSource + i}\n`;
            }
            return sendFromAddress(address, tcp, text);
          }));
          await sleep(1_000);
        }
        const relpTotal = rsyslog === undefined ? 0 : 10_000;
        if (rsyslog !== undefined) {
          let text = "";
          for (let i = 0; i < relpTotal; i++) text += `<13>Dec  7 10:00:00 host app: relp=${i}\n`;
          await rsyslog.send(text);
        }
        const total = sources.length * perSource;
        await eventually("every message in the stream", () => {
          const events = eventsOf(endpoint.kinesis.records);
          return counts(events, "tcp").size === total && counts(events, "relp").size === relpTotal;
        }, 60_000);
        const events = eventsOf(endpoint.kinesis.records);
        for (const [tag, n] of [["tcp", total], ["relp", relpTotal]] as const) {
          const seen = counts(events, tag);
          assertEquals([...seen.values()].filter((c) => c !== 1).length, 0, `each ${tag} message exactly once`);
          assertEquals(seen.size, n);
        }
        // Each source's records carry its key and sit on one shard; its events come in the order sent.
        const shardsUsed = new Set<number>();
        for (const [s, address] of sources.entries()) {
          const mine = events.filter(({ event }) => event.logStream === address);
          assertEquals(mine.length, perSource, `source ${address}`);
          const keys = new Set(mine.map(({ record }) => record.partitionKey));
          assertEquals([...keys], [sourceTag(address)]);
          const shards = new Set(mine.map(({ record }) => record.shard));
          assertEquals(shards.size, 1, `${address} on one shard`);
          shardsUsed.add([...shards][0]!);
          const numbers = mine.map(({ event }) => Number(/tcp=(\d+)/.exec(event.message)![1]));
          assertEquals(numbers, Array.from({ length: perSource }, (_, i) => s * perSource + i), `${address} in order`);
          assert(new Set(mine.map(({ record }) => record.sequenceNumber)).size >= 2, "a source's events span records");
        }
        assert(shardsUsed.size >= 2, `the sources spread over ${shardsUsed.size} shard(s)`);
        assertEquals(endpoint.kinesis.describes, ["logs"]);
        assert(await scrape(metricsPort, "kinesyslog_records_delivered_total", { stream: "logs" }) > 0);
      } finally {
        await rsyslog?.stop();
        assertEquals(await relay.stop(), 0);
      }
    }),
});

Deno.test("KPL aggregated records (--record-format kpl) read by aws-kinesis-agg: one NDJSON user record per event, each once", () =>
  withStream(4, async (dir, endpoint) => {
    const tcp = freePort();
    const relay = await startKinesisRelay(dir, endpoint, "logs", [
      ...["--tcp-port", String(tcp), "--record-format", "kpl", "--flush-interval", "0.5"],
    ]);
    try {
      const total = 20_000;
      await (await TcpFlood.start(tcp, noisyLines(total, 5))).done;
      const deaggregated: { partitionKey: string; data: string }[] = [];
      await eventually("every message", () => {
        deaggregated.length = 0;
        for (const record of endpoint.kinesis.records) {
          agg.deaggregateSync(
            {
              partitionKey: record.partitionKey,
              sequenceNumber: record.sequenceNumber,
              data: Buffer.from(record.data).toString("base64"),
            },
            true,
            (error: Error | null, users?: { partitionKey: string; data: string }[]) => {
              if (error) throw error;
              for (const u of users ?? []) deaggregated.push(u);
            },
          );
        }
        return deaggregated.length >= total;
      }, 60_000);
      const seen = new Set<number>();
      for (const user of deaggregated) {
        const event = JSON.parse(Buffer.from(user.data, "base64").toString("utf8"));
        assertEquals(event.source, "127.0.0.1");
        assertEquals(event.transport, "tcp");
        const n = Number(/seq=(\d+)/.exec(event.message)![1]);
        assert(!seen.has(n), `seq=${n} twice`);
        seen.add(n);
      }
      assertEquals(seen.size, total);
      // A record's user records carry its own key, so they stay on the shard it went to.
      for (const record of endpoint.kinesis.records) {
        assert(/^[0-9a-f]{8}$/.test(record.partitionKey), record.partitionKey);
      }
      const keys = new Set(endpoint.kinesis.records.map((r) => r.partitionKey));
      assertEquals(keys.size, endpoint.kinesis.records.length, "each record has its own random key");
      const shards = new Set(endpoint.kinesis.records.map((r) => r.shard));
      assert(shards.size >= 2, `the records of one busy source spread over ${shards.size} shard(s)`);
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  }));

Deno.test("one shard overloaded: at least 90% of its quota used until the backlog is gone, every message arrives", () => {
  const quota = { bytesPerSecond: 1_048_576, recordsPerSecond: 1_000 };
  return withStream(1, async (dir, endpoint) => {
    const [tcp, metricsPort] = [freePort(), freePort()];
    // Uncompressed NDJSON: the records are about 1.4 times the lines, so 60,000 lines are
    // about 20 s of a shard.
    const relay = await startKinesisRelay(dir, endpoint, "logs", [
      ...["--tcp-port", String(tcp), "--prometheus-port", String(metricsPort)],
      ...["--record-format", "ndjson", "--record-compression", "none", "--flush-interval", "1"],
    ]);
    try {
      const total = 60_000;
      await (await TcpFlood.start(tcp, noisyLines(total, 3))).done;
      // Then four looks a second at the relay's gauges until nothing is left (decoding the
      // records as they come would take the test's own process a core beside the relay's).
      const received = () => scrape(metricsPort, "kinesyslog_messages_received_total");
      await eventually("every message received", async () => await received() >= total, 60_000);
      while (
        await scrape(metricsPort, "kinesyslog_spool_files") > 0 ||
        await scrape(metricsPort, "kinesyslog_buffered_bytes") > 0
      ) await sleep(250);
      const records = endpoint.kinesis.records;
      const from = records[0]!.at + 5_000, to = records.at(-1)!.at;
      const use = endpoint.kinesis.acceptedRate("logs", 0, from, to) / quota.bytesPerSecond;
      console.log(`one shard: ${(use * 100).toFixed(1)}% of 1 MiB/s over ${((to - from) / 1000).toFixed(1)} s`);
      assert(to - from > 5_000, "a backlog of more than 10 s");
      assert(use >= 0.9, `used ${(use * 100).toFixed(1)}% of the shard's quota`);
      assert(endpoint.kinesis.calls.throttledRecords > 0, "the shard refused records for its quota");
      assert(await scrape(metricsPort, "kinesyslog_throttles_total") > 0, "counted as throttles");
      const seen = counts(eventsOf(records), "seq");
      assertEquals(seen.size, total, "every message arrives");
      assertEquals([...seen.values()].filter((c) => c !== 1).length, 0, "none twice");
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  }, quota);
});

Deno.test({
  name: "a relay killed with SIGKILL while delivering to a data stream loses none of rsyslog's RELP messages",
  ignore: RSYSLOGD_WITH_RELP === undefined,
  fn: () =>
    withStream(2, async (dir, endpoint) => {
      const [relp, metricsPort] = [freePort(), freePort()];
      const args = [
        ...["--relp-port", String(relp), "--prometheus-port", String(metricsPort)],
        ...["--partition-key", "source", "--flush-interval", "1"],
      ];
      let relay = await startKinesisRelay(dir, endpoint, "logs", args);
      const rsyslog = await RsyslogRelp.start(dir, relp);
      try {
        const total = 100_000;
        let text = "";
        for (let i = 0; i < total; i++) text += `<13>Dec  7 10:00:00 host app: kill=${i}\n`;
        await rsyslog.send(text);
        // The shard takes 256 KiB/s (a record of the largest size fits its second): the
        // records are delivered over seconds, and the kill comes once some are.
        await eventually("a part of the stream delivered", () => endpoint.kinesis.records.length > 0, 60_000);
        relay.signal("SIGKILL");
        await relay.exited();
        const before = counts(eventsOf(endpoint.kinesis.records), "kill").size;
        assert(before > 0 && before < total, `${before} delivered before the kill: nothing was in flight`);
        relay = await startKinesisRelay(dir, endpoint, "logs", args);
        await eventually(
          "every message after the restart",
          () => counts(eventsOf(endpoint.kinesis.records), "kill").size === total,
          90_000,
        );
        const keys = new Set(endpoint.kinesis.records.map((r) => r.partitionKey));
        assertEquals([...keys], [sourceTag("127.0.0.1")], "records sent again keep their source's key");
        console.log(`SIGKILL after ${before} of ${total} delivered to the data stream: none lost`);
      } finally {
        await rsyslog.stop();
        assertEquals(await relay.stop(), 0);
      }
    }, { bytesPerSecond: 262_144, recordsPerSecond: 1_000 }),
});

Deno.test("a data stream that does not exist stops the start with the flag to check; an on-demand one is described as such", () =>
  withStream(1, async (dir, endpoint) => {
    const relay = RelayProcess.spawn(
      [
        "listen",
        ...["--kinesis-stream", "nope", "--endpoint-url", endpoint.url, "--spool-dir", `${dir}/spool`],
        ...["--address", "127.0.0.1", "--tcp-port", String(freePort()), "--tls-port", "0"],
      ],
      { dirs: [dir], env: awsTestEnv(endpoint.url) },
    );
    assertEquals(await relay.exited(), 1);
    assert(
      relay.lines.some((l) =>
        l.includes("Kinesis data stream 'nope' does not exist") && l.includes("--kinesis-stream")
      ),
      relay.lines.join("\n"),
    );
    assertEquals(recordTag("1733500000000-000000001-0a1b2c3d.json.gz"), "0a1b2c3d");
    endpoint.kinesis.addStream("on-demand", { shards: 2, mode: "ON_DEMAND" });
    const started = await startKinesisRelay(dir, endpoint, "on-demand", ["--tcp-port", String(freePort())]);
    try {
      const said = await started.waitFor(/Kinesis data stream/);
      assert(/mode=ON_DEMAND/.test(said) && /shards=2/.test(said), said);
    } finally {
      assertEquals(await started.stop(), 0);
    }
  }));
