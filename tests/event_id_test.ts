/**
 * Event ids end to end (`src/batch/event_id.ts`): the same event delivered again after a crash
 * carries the same id, two relays' ids never collide, and UDP and TCP messages of one source
 * to one port share a record. `main.ts listen` as a subprocess, the SDK against the local
 * Firehose endpoint.
 */
import { assert, assertEquals } from "./assert.ts";
import {
  eventually,
  freePort,
  readOutputObjects,
  readRecordFiles,
  scrape,
  sendTcp,
  sendUdp,
  startFirehoseRelay,
  startLocalRelay,
  writeAll,
} from "./harness.ts";
import { delivered, lines, withEndpoint } from "./fault_helpers.ts";
import { parseEventId } from "../src/batch/event_id.ts";

Deno.test("events replayed after SIGKILL are delivered again under the ids they had", async () => {
  await withEndpoint(async (dir, endpoint) => {
    const tcp = freePort();
    // Small batches: records are delivered while the journal's open segment still holds
    // their events, so the restart replays (and delivers again) events already delivered.
    const args = ["--tcp-port", String(tcp), "--tls-port", "0", "--flush-size", "65536", "--flush-interval", "1"];
    const first = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, args);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
    let sent = 0;
    let stop = false;
    const streaming = (async () => {
      try {
        while (!stop) {
          await writeAll(conn, lines("r", sent, sent + 500));
          sent += 500;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      } catch { /* the relay is gone */ }
    })();
    await eventually("records delivered before the kill", () => endpoint.events().length >= 20_000);
    stop = true;
    await streaming;
    assertEquals(await first.stop("SIGKILL"), 137);
    try {
      conn.close();
    } catch { /* already reset */ }
    const before = endpoint.events().length;

    const second = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, args);
    assertEquals(await second.stop(), 0);
    const ids = new Map<string, Set<string>>();
    for (const e of endpoint.events()) {
      const m = /r=(\d+)/.exec(e.message);
      if (m === null) continue;
      const seen = ids.get(m[1]!) ?? new Set();
      seen.add(e.id);
      ids.set(m[1]!, seen);
    }
    const twice = [...delivered(endpoint, "r").values()].filter((n) => n > 1).length;
    assert(
      twice > 0,
      `some events were delivered twice (${before} before the kill, ${endpoint.events().length} in all)`,
    );
    for (const [n, seen] of ids) assertEquals(seen.size, 1, `r=${n} arrived under ids ${[...seen].join(", ")}`);
    const instances = new Set(endpoint.events().map((e) => parseEventId(e.id)?.instance));
    assertEquals(instances.size, 1, "both runs are one instance (its id is kept in the spool)");
    assert(!instances.has(undefined), "every id is an instance id and a sequence number");
    console.log(`replay: ${twice} events delivered twice, each under one id`);
  });
});

Deno.test("two relays on one stream give 1,000,000 events 1,000,000 distinct ids", async () => {
  await withEndpoint(async (dir, endpoint) => {
    const ports = [freePort(), freePort()];
    const relays = await Promise.all(
      ports.map((port, i) =>
        startFirehoseRelay(dir, endpoint.url, `${dir}/spool-${i}`, ["--tcp-port", String(port), "--tls-port", "0"])
      ),
    );
    try {
      await Promise.all(ports.map(async (port, i) => {
        for (let from = 0; from < 500_000; from += 100_000) {
          await sendTcp(port, lines(`relay${i}`, from, from + 100_000));
        }
      }));
      await Promise.all(relays.map((r) => r.stop()));
      const events = endpoint.events();
      assertEquals(events.length, 1_000_000);
      const ids = new Set(events.map((e) => e.id));
      assertEquals(ids.size, 1_000_000, "no id given twice");
      const instances = new Set(events.map((e) => parseEventId(e.id)!.instance));
      assertEquals(instances.size, 2, "one instance id per spool directory");
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
    }
  });
});

Deno.test("UDP and TCP messages from one host to one port within a flush interval make one record", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-ids-" });
  const [port, metricsPort] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    "--prometheus-port",
    String(metricsPort),
    "--udp-port",
    String(port),
    "--tcp-port",
    String(port),
    "--tls-port",
    "0",
    "--record-format",
    "ndjson",
    "--flush-interval",
    "60",
  ]);
  try {
    await sendUdp(port, ["<13>hello over UDP"]);
    await sendTcp(port, "<13>hello over TCP\n");
    await eventually("both received", async () => await scrape(metricsPort, "kinesyslog_messages_received_total") >= 2);
    assertEquals(await relay.stop(), 0);
    assertEquals((await readRecordFiles(`${dir}/out`)).length, 1, "one record");
    const events = await readOutputObjects(`${dir}/out`);
    assertEquals(events.map((e) => [e.message, e.transport]).sort(), [
      ["<13>hello over TCP", "tcp"],
      ["<13>hello over UDP", "udp"],
    ]);
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
