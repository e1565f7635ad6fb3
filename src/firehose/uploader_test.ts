import { assert, assertEquals } from "../../tests/assert.ts";
import { FirehoseEndpoint } from "../../tests/firehose_endpoint.ts";
import { Logger } from "../log.ts";
import { Metrics } from "../metrics/metrics.ts";
import { SpoolDir } from "../spool/spool_dir.ts";
import { FirehoseSink } from "./firehose_sink.ts";
import { Uploader } from "./uploader.ts";

/** The real SDK against the local endpoint, with fake credentials from the environment. */
async function setup(random?: () => number) {
  Deno.env.set("AWS_ACCESS_KEY_ID", "AKIDTEST");
  Deno.env.set("AWS_SECRET_ACCESS_KEY", "secret");
  Deno.env.set("AWS_EC2_METADATA_DISABLED", "true");
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-uploader-" });
  const spool = new SpoolDir(dir);
  await spool.prepare();
  const endpoint = new FirehoseEndpoint("logs").start();
  const sink = new FirehoseSink("logs", { region: "us-east-1", endpointUrl: endpoint.url });
  const metrics = new Metrics();
  const lines: string[] = [];
  const uploader = new Uploader({
    spool,
    sinks: [{ name: "logs", sink }],
    metrics,
    log: new Logger({ write: (l) => lines.push(l) }),
    ...(random === undefined ? {} : { random }),
  });
  const close = async () => {
    await uploader.stop();
    sink.close();
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  };
  return { spool, endpoint, uploader, metrics, lines, close };
}

Deno.test("Uploader sends oldest first in calls within 500 records and 4 MiB", async () => {
  const { spool, endpoint, uploader, close } = await setup();
  try {
    // 1,100 small records, then 10 of 900 KB: calls of 500, 500, 100 + 4 big (3.6 MB), 4 big, 2 big.
    const small = await spool.write(Array.from({ length: 1_100 }, (_, i) => new TextEncoder().encode(`small-${i}`)));
    const big = await spool.write(Array.from({ length: 10 }, (_, i) => new Uint8Array(900_000).fill(i)));
    uploader.add([...small, ...big]);
    uploader.start();
    const deadline = Date.now() + 30_000;
    while (endpoint.records.length < 1_110 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assertEquals(endpoint.records.length, 1_110);
    assertEquals(endpoint.calls.invalid, 0, "no call broke a limit");
    assertEquals(endpoint.calls.ok, 5);
    const order = endpoint.records.slice(0, 1_100).map((r) => new TextDecoder().decode(r));
    assertEquals(order, small.map((_, i) => `small-${i}`), "oldest first");
    // A file is deleted once the response is back, a moment after the endpoint kept it.
    while ((await spool.list()).records.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assertEquals((await spool.list()).records.length, 0, "delivered records are deleted");
  } finally {
    await close();
  }
});

Deno.test("Uploader quarantines a record over 1,024,000 bytes and delivers the rest", async () => {
  const { spool, endpoint, uploader, metrics, close } = await setup();
  try {
    const entries = await spool.write([new Uint8Array([1]), new Uint8Array(1_024_001), new Uint8Array([3])]);
    uploader.add(entries);
    uploader.start();
    const deadline = Date.now() + 10_000;
    while (endpoint.records.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assertEquals(endpoint.records.map((r) => r[0]), [1, 3]);
    assertEquals([...Deno.readDirSync(`${spool.dir}/quarantine`)].map((f) => f.name), [entries[1]!.name]);
    assertEquals((await metrics.corruptFiles.get()).values[0]!.value, 1);
    assertEquals(
      (await metrics.recordsQuarantined.get()).values[0]?.value ?? 0,
      0,
      "not counted as refused by Firehose",
    );
  } finally {
    await close();
  }
});

Deno.test("Uploader retries records Firehose failed until each is accepted, never re-sending accepted ones", async () => {
  const { spool, endpoint, uploader, metrics, close } = await setup();
  try {
    endpoint.faults.recordFailureRate = 0.3;
    endpoint.faults.failNextCalls = 2;
    const entries = await spool.write(Array.from({ length: 200 }, (_, i) => new TextEncoder().encode(`r${i}`)));
    uploader.add(entries);
    uploader.start();
    const deadline = Date.now() + 60_000; // backoff with jitter: a record may need several attempts
    while (endpoint.records.length < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const delivered = endpoint.records.map((r) => new TextDecoder().decode(r)).sort();
    assertEquals(delivered, entries.map((_, i) => `r${i}`).sort(), "each record accepted exactly once");
    assert(endpoint.calls.failedRecords > 0 && endpoint.calls.failed503 === 2);
    // The metric counts once the response is processed, a moment after the endpoint kept the record.
    const delivered200 = async () => (await metrics.recordsDelivered.get()).values[0]?.value === 200;
    while (!(await delivered200()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assertEquals((await metrics.recordsDelivered.get()).values[0]!.value, 200);
  } finally {
    await close();
  }
});

Deno.test("Uploader.stop() with a deadline retries at once, not after the backoff it had reached", async () => {
  // The largest jitter every time: after a few seconds down, the next try is seconds away.
  const { spool, endpoint, uploader, close } = await setup(() => 0.999);
  try {
    await endpoint.stop();
    uploader.add(await spool.write([new TextEncoder().encode("last words")]));
    uploader.start();
    // Tries at about 0, 0.2, 0.6, 1.4 and 3.0 s; the next would come at 6.2 s.
    await new Promise((r) => setTimeout(r, 3_500));
    endpoint.start();
    const started = Date.now();
    await uploader.stop(started + 1_500);
    assertEquals(endpoint.records.map((r) => new TextDecoder().decode(r)), ["last words"]);
    assert(Date.now() - started < 1_500, "delivered before the deadline");
  } finally {
    await close();
  }
});

Deno.test("Uploader reports since when deliveries fail, until a record is delivered", async () => {
  const { spool, endpoint, uploader, close } = await setup(() => 0);
  try {
    assertEquals([uploader.failingSince, uploader.oldestPending], [undefined, undefined]);
    endpoint.faults.recordFailureRate = 1;
    const entries = await spool.write([new Uint8Array([1]), new Uint8Array([2])]);
    const before = Date.now();
    uploader.add(entries);
    uploader.start();
    const deadline = Date.now() + 10_000;
    while (uploader.failingSince === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert(uploader.failingSince! >= before && uploader.failingSince! <= Date.now());
    assertEquals(uploader.oldestPending, entries[0]!.name);
    endpoint.faults.recordFailureRate = 0;
    while (uploader.pendingRecords > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assertEquals([uploader.failingSince, uploader.oldestPending, endpoint.records.length], [undefined, undefined, 2]);
  } finally {
    await close();
  }
});

Deno.test("Uploader reports a refusal (AccessDenied) as one, not a passing failure, until a record is delivered", async () => {
  const { spool, endpoint, uploader, close } = await setup(() => 0);
  try {
    endpoint.faults.recordFailureRate = 1;
    uploader.add(await spool.write([new Uint8Array([1])]));
    uploader.start();
    const deadline = Date.now() + 10_000;
    while (uploader.failingSince === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assertEquals(uploader.refusing, undefined, "InternalFailure passes by itself");
    endpoint.faults.recordFailureRate = 0;
    endpoint.faults.putDenied = true;
    while (uploader.refusing === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert(uploader.refusing!.reason.startsWith("AccessDeniedException"), uploader.refusing!.reason);
    endpoint.faults.putDenied = false;
    while (uploader.pendingRecords > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assertEquals(uploader.refusing, undefined);
  } finally {
    await close();
  }
});
