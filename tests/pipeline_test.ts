/**
 * End-to-end tests of pipelines: `main.ts listen --config FILE` as a subprocess, real clients
 * (util-linux `logger`, raw sockets from several loopback addresses, GELF datagrams), and the
 * local Firehose endpoint with one stream per sink. Each message must land in exactly the
 * streams its routes name; what routes drop, sample out or find over a rate limit is counted.
 */
import { gunzipSync } from "node:zlib";
import { assert, assertEquals } from "./assert.ts";
import { FirehoseEndpoint, recordObjects, TEST_ACCOUNT_ID } from "./firehose_endpoint.ts";
import {
  awsTestEnv,
  eventually,
  freePort,
  makeCertificate,
  nodeClientModules,
  readOutputObjects,
  RelayProcess,
  scrape,
  sendTcp,
  sendUdp,
} from "./harness.ts";
import { gelfDatagrams } from "./gelf_sender.ts";
import { RSYSLOGD_WITH_GTLS, RSYSLOGD_WITH_RELP, RsyslogRelp, startTlsForwarder } from "./rsyslog.ts";

if (RSYSLOGD_WITH_GTLS === undefined || RSYSLOGD_WITH_RELP === undefined) {
  console.error(
    "SKIP rsyslog pipeline tests: install rsyslog, rsyslog-gnutls and rsyslog-relp (.ci/run does) to run them",
  );
}

const encoder = new TextEncoder();

/** Sends each message as one datagram to 127.0.0.1:`port` from `from` (any 127.x.y.z). */
async function sendUdpFrom(from: string, port: number, messages: string[]): Promise<void> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: from, port: 0 });
  try {
    for (const m of messages) await socket.send(encoder.encode(m), { transport: "udp", hostname: "127.0.0.1", port });
  } finally {
    socket.close();
  }
}

/** The messages each stream received, by stream (events of any record format). */
function byStream(endpoint: FirehoseEndpoint): Map<string, { message: string; timestamp: number | undefined }[]> {
  const streams = new Map<string, { message: string; timestamp: number | undefined }[]>();
  endpoint.records.forEach((record, i) => {
    const stream = endpoint.accepted[i]!.stream;
    const events = recordObjects(record).map((e) => {
      const fields = e as unknown as Record<string, unknown>;
      return { message: String(fields.message), timestamp: fields.timestamp as number | undefined };
    });
    streams.set(stream, [...(streams.get(stream) ?? []), ...events]);
  });
  return streams;
}

/** The settings every test's file shares: the endpoint, the spool in `dir`, a 1 s flush, metrics. */
function settings(dir: string, endpoint: FirehoseEndpoint, metricsPort: number): string {
  return `delivery: { endpoint_url: "${endpoint.url}" }
spool: { dir: ${dir}/spool }
batching: { flush_interval: 1 }
metrics: { ports: [${metricsPort}] }`;
}

/** Starts `main.ts listen --config config` on 127.0.0.1 with the endpoint's fake credentials. */
function startWithConfig(dir: string, endpoint: FirehoseEndpoint, config: string): Promise<RelayProcess> {
  return RelayProcess.start(["listen", "--config", config, "--address", "127.0.0.1"], {
    dirs: [dir],
    env: awsTestEnv(endpoint.url),
  });
}

/** Runs `logger` from util-linux; false when it is not installed. */
async function logger(args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command("logger", { args, stdout: "null", stderr: "piped" }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("a configuration file routes each message to the streams its routes name, and counts what they drop", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-pipeline-" });
  const endpoint = new FirehoseEndpoint(["security", "apps", "archive"]).start();
  const [udp, tcp, gelf, metricsPort] = [freePort(), freePort(), freePort(), freePort()];
  const config = `${dir}/kinesyslog.yaml`;
  await Deno.writeTextFile(
    config,
    `
sources:
  - { name: firewalls, transport: udp, port: ${udp}, time_zone: Europe/Berlin }
  - { name: apps, transport: tcp, port: ${tcp} }
  - { name: docker, protocol: gelf, transport: udp, port: ${gelf} }
sinks:
  security: { streams: [security] }
  apps: { streams: [apps], record_format: ndjson }
  archive: { streams: [archive] }
routes:
  - { name: noise, match: { app_name: noisy }, drop: true }
  - { name: firewall, match: { listener: firewalls, source: 127.1.0.0/16 }, sinks: [security] }
  - { name: errors, match: { severity: err }, sinks: [archive] }
  - { name: chatty, match: { hostname: chatty }, rate_limit: { messages: 2, burst: 20 }, sinks: [apps], final: true }
  - { name: metrics, match: { app_name: metrics }, sample: 10, sinks: [apps], final: true }
  - { name: apps, match: { listener: [apps, docker] }, sinks: [apps] }
default_sink: archive
${settings(dir, endpoint, metricsPort)}
`,
  );
  const relay = await startWithConfig(dir, endpoint, config);
  try {
    // The firewalls, from 127.1.0.0/16: security, and their errors also archive.
    await sendUdpFrom("127.1.0.5", udp, [
      "<38>Jul 15 12:00:00 fw1 sshd[7]: fw-info",
      "<35>Jul 15 12:00:01 fw1 sshd[7]: fw-err",
    ]);
    // The same listener from elsewhere: no route but errors; the default sink.
    await sendUdpFrom("127.2.0.9", udp, ["<38>Jul 15 12:00:02 other app: other-info"]);
    // A real client: util-linux logger over TCP (RFC 5424, octet-counted).
    const hasLogger = await logger([
      "--tcp",
      "--octet-count",
      "--server",
      "127.0.0.1",
      "--port",
      String(tcp),
      "--rfc5424",
      "--tag",
      "web",
      "--priority",
      "user.info",
      "logger-line",
    ]);
    await sendTcp(
      tcp,
      [
        "<14>1 2026-12-01T00:00:00Z h1 noisy - - - noise-1",
        "<11>1 2026-12-01T00:00:00Z h1 noisy - - - noise-err",
        ...Array.from({ length: 100 }, (_, i) => `<14>1 2026-12-01T00:00:00Z h2 metrics - - - metric-${i}`),
        ...Array.from({ length: 100 }, (_, i) => `<14>1 2026-12-01T00:00:00Z chatty app - - - chatty-${i}`),
        "<14>1 2026-12-01T00:00:00Z h3 shop - - - app-line",
      ].join("\n") + "\n",
    );
    const gelfSocket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    for (
      const d of gelfDatagrams(JSON.stringify({ version: "1.1", host: "c1", short_message: "gelf-line", level: 6 }))
    ) {
      await gelfSocket.send(d, { transport: "udp", hostname: "127.0.0.1", port: gelf });
    }
    gelfSocket.close();

    const expected = {
      security: ["fw-info", "fw-err"],
      archive: ["fw-err", "other-info"],
      apps: [...(hasLogger ? ["logger-line"] : []), "app-line", "gelf-line"],
    };
    const received = () => byStream(endpoint);
    await eventually("every stream's messages", () => {
      const got = received();
      const apps = got.get("apps") ?? [];
      return Object.entries(expected).every(([stream, texts]) =>
        texts.every((t) => (got.get(stream) ?? []).some((e) => e.message.endsWith(t)))
      ) && apps.filter((e) => e.message.includes("metric-")).length === 10 &&
        apps.filter((e) => e.message.includes("chatty-")).length >= 20;
    }, 30_000);
    // Everything is in: nothing in the spool, nothing buffered.
    await eventually("an empty spool", async () => await scrape(metricsPort, "kinesyslog_spool_files") === 0, 10_000);
    const got = received();
    const texts = (stream: string, pattern: RegExp) =>
      (got.get(stream) ?? []).map((e) => /(?:fw|other|logger|app|gelf)-[a-z]+$/.exec(e.message)?.[0] ?? "")
        .filter((t) => pattern.test(t)).sort();
    assertEquals(texts("security", /./), ["fw-err", "fw-info"]);
    assertEquals(texts("archive", /./), ["fw-err", "other-info"]);
    assertEquals(texts("apps", /^(logger|app|gelf)-/), expected.apps.sort());
    for (const stream of ["security", "archive", "apps"]) {
      assert(!(got.get(stream) ?? []).some((e) => e.message.includes("noise")), `noise in ${stream}`);
    }
    // Sampled: exactly 1 in 10 of the 100; the others counted.
    const apps = got.get("apps") ?? [];
    assertEquals(apps.filter((e) => e.message.includes("metric-")).length, 10);
    assertEquals(
      await scrape(metricsPort, "kinesyslog_route_messages_total", { route: "metrics", outcome: "sampled_out" }),
      90,
    );
    // Rate-limited: the burst of 20 and at most 2/s since; every one of the 100 passed or counted.
    const chatty = apps.filter((e) => e.message.includes("chatty-")).length;
    const limited = await scrape(metricsPort, "kinesyslog_route_messages_total", {
      route: "chatty",
      outcome: "rate_limited",
    });
    assertEquals(chatty + limited, 100);
    assert(chatty >= 20 && chatty <= 30, `chatty passed ${chatty}`);
    // Dropped by reason, per listener.
    const dropped = (reason: string) =>
      scrape(metricsPort, "kinesyslog_messages_dropped_total", { listener: `tcp/${tcp}`, reason });
    assertEquals([await dropped("filtered"), await dropped("sampled"), await dropped("rate_limited")], [
      2,
      90,
      limited,
    ]);
    assertEquals(await scrape(metricsPort, "kinesyslog_sink_messages_total", { sink: "security" }), 2);
    // The RFC 3164 time of the Berlin listener: 12:00 in July is 10:00 UTC (the year closest to now).
    const fwInfo = (got.get("security") ?? []).find((e) => e.message.endsWith("fw-info"))!;
    const date = new Date(fwInfo.timestamp!);
    assertEquals([date.getUTCMonth(), date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes()], [6, 15, 10, 0]);
    // The NDJSON sink's records are NDJSON lines, the others CloudWatch Logs records.
    const shapes = new Set(endpoint.records.map((r, i) => {
      const text = new TextDecoder().decode(gunzipSync(r));
      return `${endpoint.accepted[i]!.stream}:${text.includes('"logEvents"') ? "cwl" : "ndjson"}`;
    }));
    assertEquals([...shapes].sort(), ["apps:ndjson", "archive:cwl", "security:cwl"]);
    assertEquals(await relay.stop(), 0);
  } finally {
    await relay.stop().catch(() => {});
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one sink's stream failing holds back only its own records: nothing lost, nothing twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-pipeline-" });
  const endpoint = new FirehoseEndpoint(["good", "bad"]).start();
  const [tcp, metricsPort] = [freePort(), freePort()];
  const config = `${dir}/kinesyslog.yaml`;
  await Deno.writeTextFile(
    config,
    `
sources: [{ transport: tcp, port: ${tcp} }]
sinks:
  good: { streams: [good] }
  bad: { streams: [bad] }
routes: [{ name: both, sinks: [good, bad] }]
${settings(dir, endpoint, metricsPort)}
`,
  );
  endpoint.faults.rejectStream = "bad";
  const relay = await startWithConfig(dir, endpoint, config);
  try {
    const lines = Array.from({ length: 2_000 }, (_, i) => `<14>1 2026-12-01T00:00:00Z h app - - - seq=${i}`);
    await sendTcp(tcp, lines.join("\n") + "\n");
    const seqs = (stream: string) =>
      byStream(endpoint).get(stream)?.map((e) => Number(/seq=(\d+)/.exec(e.message)?.[1])) ?? [];
    await eventually("the healthy stream's messages", () => seqs("good").length >= 2_000, 30_000);
    assertEquals(seqs("good").sort((a, b) => a - b), lines.map((_, i) => i), "the healthy stream: each once");
    assertEquals(seqs("bad"), []);
    await eventually("the failing stream to refuse records", () => endpoint.calls.failedRecords > 0);
    // The failing sink's records wait in its spool; once its stream is back, they arrive.
    endpoint.faults.rejectStream = undefined;
    await eventually("the failed stream's messages", () => seqs("bad").length >= 2_000, 60_000);
    assertEquals(seqs("bad").sort((a, b) => a - b), lines.map((_, i) => i));
    assertEquals(seqs("good").length, 2_000, "the healthy stream got nothing twice");
    assertEquals(await relay.stop(), 0);
  } finally {
    await relay.stop().catch(() => {});
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "real clients through a file of routes: rsyslog over TLS, gelf-pro and logger, each message in the streams its routes name",
  ignore: RSYSLOGD_WITH_GTLS === undefined,
  fn: async () => {
    const nodePath = await nodeClientModules("gelf-pro", "1.4.0");
    const dir = await Deno.makeTempDir({ prefix: "kinesyslog-pipeline-" });
    const { cert, key } = await makeCertificate(dir);
    const endpoint = new FirehoseEndpoint(["security", "apps", "ops"]).start();
    const [tls, tcp, gelf, metricsPort] = [freePort(), freePort(), freePort(), freePort()];
    const config = `${dir}/kinesyslog.yaml`;
    await Deno.writeTextFile(
      config,
      `
sources:
  - { name: secure, transport: tls, port: ${tls} }
  - { name: plain, transport: tcp, port: ${tcp} }
  - { name: docker, protocol: gelf, transport: udp, port: ${gelf} }
tls: { cert: ${cert}, key: ${key} }
sinks:
  security: { streams: [security] }
  apps: { streams: [apps], record_format: ndjson }
  ops: { streams: [ops] }
routes:
  - { name: firewall, match: { listener: secure, app_name: fw }, sinks: [security], final: true }
  - { name: debug, match: { message: "DEBUG" }, drop: true }
  - { name: applications, match: { listener: docker }, sinks: [apps], final: true }
  - { name: operations, match: { listener: [secure, plain] }, sinks: [ops] }
${settings(dir, endpoint, metricsPort)}
`,
    );
    const relay = await startWithConfig(dir, endpoint, config);
    const rsyslog = await startTlsForwarder(dir, tls, `${dir}/ca.crt`);
    try {
      // rsyslog over TLS: firewall lines to security; sshd lines to ops; its debug lines dropped.
      await sendUdp(rsyslog.udpPort, [
        ...Array.from({ length: 20 }, (_, i) => `<190>Nov 30 10:00:00 router7 fw[99]: fw=${i}`),
        ...Array.from({ length: 10 }, (_, i) => `<38>Nov 30 10:00:00 router7 sshd[5]: ssh=${i}`),
        ...Array.from({ length: 5 }, (_, i) => `<39>Nov 30 10:00:00 router7 sshd[5]: DEBUG dbg=${i}`),
      ]);
      // gelf-pro over UDP (chunked, zlib): applications.
      const client = new URL("./clients/gelf_pro_send.cjs", import.meta.url).pathname;
      const out = await new Deno.Command("node", {
        args: [client, "udp", String(gelf), "30", "3000", "G"],
        env: { NODE_PATH: nodePath },
      }).output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      // util-linux logger over TCP: operations.
      const hasLogger = await logger([
        ...["--tcp", "--octet-count", "--server", "127.0.0.1", "--port", String(tcp)],
        ...["--rfc5424", "--tag", "cron", "logger-line"],
      ]);
      const want = { security: 20, ops: 10 + (hasLogger ? 1 : 0), apps: 30 };
      await eventually("every message in its stream", () => {
        const got = byStream(endpoint);
        return Object.entries(want).every(([stream, n]) => (got.get(stream)?.length ?? 0) >= n);
      }, 30_000);
      const got = byStream(endpoint);
      const numbers = (stream: string, name: string) =>
        (got.get(stream) ?? []).map((e) => Number(new RegExp(`${name}=(\\d+)`).exec(e.message)?.[1])).filter((n) =>
          n >= 0
        ).sort((a, b) => a - b);
      assertEquals(numbers("security", "fw"), Array.from({ length: 20 }, (_, i) => i));
      assertEquals(got.get("security")!.length, 20);
      assertEquals(numbers("ops", "ssh"), Array.from({ length: 10 }, (_, i) => i));
      assertEquals(got.get("ops")!.length, want.ops, "sshd's lines and logger's, nothing else");
      assertEquals(hasLogger, got.get("ops")!.some((e) => e.message.endsWith("logger-line")));
      const gelfs = got.get("apps")!.map((e) => e.message).sort();
      assertEquals(gelfs, Array.from({ length: 30 }, (_, i) => `G ${i}`).sort());
      assertEquals(
        await scrape(metricsPort, "kinesyslog_messages_dropped_total", { listener: `tls/${tls}`, reason: "filtered" }),
        5,
      );
      assertEquals(await relay.stop(), 0);
    } finally {
      await rsyslog.stop();
      await relay.stop().catch(() => {});
      await endpoint.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** One TCP sender sending `seq=<n>` messages, 50 every 10 ms, until stopped. */
class NumberedSender {
  #sent = 0;
  #sending = true;
  private constructor(readonly conn: Deno.Conn, private readonly loop: Promise<void>[]) {}

  /** Connects to 127.0.0.1:`port` and starts sending. */
  static async start(port: number): Promise<NumberedSender> {
    const sender = new NumberedSender(await Deno.connect({ hostname: "127.0.0.1", port }), []);
    sender.loop.push((async () => {
      while (sender.#sending) {
        const lines = Array.from(
          { length: 50 },
          () => `<14>1 2026-12-01T00:00:00Z h app - - - seq=${sender.#sent++}\n`,
        );
        await sender.conn.write(encoder.encode(lines.join("")));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })());
    return sender;
  }

  /** Stops, closes the connection; resolves to how many messages were sent. */
  async stop(): Promise<number> {
    this.#sending = false;
    await Promise.all(this.loop);
    this.conn.close();
    return this.#sent;
  }
}

/** The `seq=` numbers delivered to `stream`. */
function seqsIn(endpoint: FirehoseEndpoint, stream: string): number[] {
  return byStream(endpoint).get(stream)?.map((e) => Number(/seq=(\d+)/.exec(e.message)?.[1])).filter((n) => n >= 0) ??
    [];
}

Deno.test("SIGHUP moves a sink to other streams under load: every message once, the later ones in the new stream; a stream that does not exist is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-pipeline-" });
  const endpoint = new FirehoseEndpoint(["a", "c"]).start();
  const [tcp, metricsPort] = [freePort(), freePort()];
  const config = `${dir}/kinesyslog.yaml`;
  const file = (streams: string) => `
sources: [{ transport: tcp, port: ${tcp} }]
sinks:
  logs: { streams: [${streams}] }
${settings(dir, endpoint, metricsPort)}
`;
  await Deno.writeTextFile(config, file("a"));
  const relay = await startWithConfig(dir, endpoint, config);
  const reloads = (result: string) => scrape(metricsPort, "kinesyslog_config_reloads_total", { result });
  try {
    const sender = await NumberedSender.start(tcp);
    const seqs = (stream: string) => seqsIn(endpoint, stream);
    await eventually("messages in a", () => seqs("a").length > 500, 20_000);
    // A stream that does not exist: described at the reload, refused, nothing changes.
    await Deno.writeTextFile(config, file("nope"));
    relay.signal("SIGHUP");
    await eventually("the refused reload counted", async () => await reloads("invalid") === 1, 10_000);
    await Deno.writeTextFile(config, file("c"));
    relay.signal("SIGHUP");
    await eventually("the reload applied", async () => await reloads("ok") === 1, 10_000);
    const inA = seqs("a").length;
    await eventually("messages in c", () => seqs("c").length > 500, 20_000);
    const total = await sender.stop();
    await eventually("every message", () => seqs("a").length + seqs("c").length >= total, 30_000);
    const all = [...seqs("a"), ...seqs("c")].sort((x, y) => x - y);
    assertEquals(all, Array.from({ length: total }, (_, i) => i), "each message once, in a or in c");
    assert(seqs("a").length - inA < 2_000, `${seqs("a").length - inA} went to a after the reload`);
    assert(relay.lines.some((l) => l.includes('sinksChanged="logs=firehose:c"')), relay.lines.join("\n"));
    assertEquals(await relay.stop(), 0);
  } finally {
    await relay.stop().catch(() => {});
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGHUP applies a changed file's sources and routes under load (TCP and RELP senders); unchanged listeners keep their connections", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-pipeline-" });
  const endpoint = new FirehoseEndpoint(["a", "b"]).start();
  const [tcp, relp, removed, added, metricsPort] = [freePort(), freePort(), freePort(), freePort(), freePort()];
  const config = `${dir}/kinesyslog.yaml`;
  const file = (sink: string, sources: string) => `
sources: [${sources}]
sinks:
  a: { streams: [a] }
  b: { streams: [b] }
routes: [{ name: r, sinks: [${sink}] }]
${settings(dir, endpoint, metricsPort)}
`;
  const stay = `{ transport: tcp, port: ${tcp} }, { protocol: relp, transport: tcp, port: ${relp} }`;
  const before = `${stay}, { transport: tcp, port: ${removed} }`;
  const after = `${stay}, { name: new, transport: udp, port: ${added} }`;
  await Deno.writeTextFile(config, file("a", before));
  const relay = await startWithConfig(dir, endpoint, config);
  const reloads = (result: string) => scrape(metricsPort, "kinesyslog_config_reloads_total", { result });
  try {
    // One sender on the listener that stays, sending throughout: 50 messages every 10 ms.
    const sender = await NumberedSender.start(tcp);
    // And rsyslog's omrelp on the RELP listener that stays, likewise (where rsyslog-relp is installed).
    const rsyslog = RSYSLOGD_WITH_RELP === undefined ? undefined : await RsyslogRelp.start(dir, relp);
    let relpSent = 0;
    let relpSending = true;
    const relpLoop = (async () => {
      while (rsyslog !== undefined && relpSending) {
        await rsyslog.send(
          Array.from({ length: 50 }, () => `<14>1 2026-12-01T00:00:00Z h app - - - relp#${relpSent++}\n`).join(""),
        );
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const seqs = (stream: string) => seqsIn(endpoint, stream);
    const relpNumbers = (stream: string) =>
      (byStream(endpoint).get(stream) ?? []).map((e) => Number(/relp#(\d+)/.exec(e.message)?.[1])).filter((n) => n >= 0)
        .sort((x, y) => x - y);
    await eventually("messages in a", () => seqs("a").length > 500, 20_000);
    // A file that does not validate: nothing changes, counted.
    await Deno.writeTextFile(config, file("nowhere", after));
    relay.signal("SIGHUP");
    await eventually("the invalid reload counted", async () => await reloads("invalid") === 1, 10_000);
    // A file that changes an option a reload does not apply: nothing changes, a restart is needed.
    await Deno.writeTextFile(config, `${file("a", before)}\nlog: { level: warn }\n`);
    relay.signal("SIGHUP");
    await eventually("the refused reload counted", async () => await reloads("restart_needed") === 1, 10_000);
    // Routes and sources changed: a listener added, one removed, what arrives from now on goes to b.
    await Deno.writeTextFile(config, file("b", after));
    relay.signal("SIGHUP");
    await eventually("the reload applied", async () => await reloads("ok") === 1, 10_000);
    await eventually("messages in b", () => seqs("b").length > 500, 20_000);
    await sendUdpFrom("127.0.0.1", added, ["<14>1 2026-12-01T00:00:00Z h app - - - on-the-new-listener"]);
    await eventually(
      "the new listener's message in b",
      () => (byStream(endpoint).get("b") ?? []).some((e) => e.message.endsWith("on-the-new-listener")),
      20_000,
    );
    await eventually("the removed listener closed", async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: removed })).close();
        return false;
      } catch {
        return true;
      }
    }, 10_000);
    const total = await sender.stop();
    relpSending = false;
    await relpLoop;
    await eventually("every message", () => seqs("a").length + seqs("b").length >= total, 30_000);
    await eventually(
      "every RELP message",
      () => relpNumbers("a").length + relpNumbers("b").length >= relpSent,
      30_000,
    );
    await rsyslog?.stop();
    const relpA = relpNumbers("a"), relpB = relpNumbers("b");
    assertEquals([...relpA, ...relpB], Array.from({ length: relpSent }, (_, i) => i), "RELP: each once, a before b");
    if (rsyslog !== undefined) {
      assert(relpA.length > 0 && relpB.length > 0, `${relpA.length} in a, ${relpB.length} in b`);
    }
    const a = seqs("a").sort((x, y) => x - y), b = seqs("b").sort((x, y) => x - y);
    assertEquals(a.length + b.length, total, "each message once");
    assertEquals([...a, ...b], Array.from({ length: total }, (_, i) => i), "a holds those before the reload, b after");
    assertEquals(await relay.stop(), 0);
  } finally {
    await relay.stop().catch(() => {});
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGHUP adds a sink, retires one and changes what another's records are, under load: each message once in each sink its route named when it arrived", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-pipeline-" });
  const endpoint = new FirehoseEndpoint(["a", "b", "c"]).start();
  const [tcp, metricsPort] = [freePort(), freePort()];
  const config = `${dir}/kinesyslog.yaml`;
  const before = `
sources: [{ transport: tcp, port: ${tcp} }]
sinks:
  a: { streams: [a] }
  b: { streams: [b] }
routes: [{ name: r, sinks: [a, b] }]
${settings(dir, endpoint, metricsPort)}
`;
  // a's records become uncompressed NDJSON, b is gone, c is new (with its own log group prefix).
  const after = `
sources: [{ transport: tcp, port: ${tcp} }]
sinks:
  a: { streams: [a], record_format: ndjson, record_compression: none }
  c: { streams: [c], group_prefix: /routed }
routes: [{ name: r, sinks: [a, c] }]
${settings(dir, endpoint, metricsPort)}
`;
  await Deno.writeTextFile(config, before);
  const relay = await startWithConfig(dir, endpoint, config);
  const reloads = (result: string) => scrape(metricsPort, "kinesyslog_config_reloads_total", { result });
  try {
    const sender = await NumberedSender.start(tcp);
    const seqs = (stream: string) => seqsIn(endpoint, stream).sort((x, y) => x - y);
    await eventually("messages in a and b", () => seqs("a").length > 500 && seqs("b").length > 500, 20_000);
    await Deno.writeTextFile(config, after);
    relay.signal("SIGHUP");
    await eventually("the reload applied", async () => await reloads("ok") === 1, 10_000);
    await eventually("messages in c", () => seqs("c").length > 500, 20_000);
    const total = await sender.stop();
    const every = Array.from({ length: total }, (_, i) => i);
    await eventually("every message in a, and in b or c", () => {
      return seqs("a").length >= total && seqs("b").length + seqs("c").length >= total;
    }, 30_000);
    assertEquals(seqs("a"), every, "a: each message once, before and after the reload");
    const b = seqs("b"), c = seqs("c");
    assertEquals([...b, ...c], every, "b holds each message before the reload once, c each one after");
    assert(b.length > 0 && c.length > 0);
    // a's records: gzip CWL before, plain NDJSON after; c's log groups are its own.
    const records = (stream: string) => endpoint.records.filter((_, i) => endpoint.accepted[i]!.stream === stream);
    const plain = records("a").filter((r) => r[0] === 0x7b);
    assert(plain.length > 0 && plain.length < records("a").length, `${plain.length} of ${records("a").length}`);
    const lastA = new TextDecoder().decode(records("a").at(-1)!);
    assert(lastA.startsWith("{") && lastA.includes('"transport":"tcp"'), lastA.slice(0, 200));
    const group = JSON.parse(new TextDecoder().decode(gunzipSync(records("c")[0]!))).logGroup;
    assertEquals(group, `/routed/syslog/${tcp}`);
    assert(
      relay.lines.some((l) => l.includes('sinksRetired="b"') || l.includes("sinksRetired=b")),
      relay.lines.join("\n"),
    );
    assertEquals(await scrape(metricsPort, "kinesyslog_sink_messages_total", { sink: "c" }) > 0, true);
    assertEquals(await relay.stop(), 0);
  } finally {
    await relay.stop().catch(() => {});
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a source's own bind address and connection limits apply to it alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-pipeline-" });
  const endpoint = new FirehoseEndpoint(["a"]).start();
  const [capped, open, elsewhere, metricsPort] = [freePort(), freePort(), freePort(), freePort()];
  const config = `${dir}/kinesyslog.yaml`;
  await Deno.writeTextFile(
    config,
    `
sources:
  - { name: capped, transport: tcp, port: ${capped}, max_connections: 2 }
  - { name: open, transport: tcp, port: ${open} }
  - { name: elsewhere, transport: tcp, port: ${elsewhere}, address: 127.0.0.2 }
sinks:
  a: { streams: [a] }
${settings(dir, endpoint, metricsPort)}
edge: { max_connections: 10 }
`,
  );
  const relay = await startWithConfig(dir, endpoint, config);
  const conns: Deno.Conn[] = [];
  const refused = (port: number) =>
    scrape(metricsPort, "kinesyslog_connections_refused_total", {
      listener: `tcp/${port}`,
      reason: "connection_limit",
    });
  try {
    for (const port of [capped, capped, capped, open, open, open]) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    await eventually("the third connection to the capped source refused", async () => await refused(capped) === 1);
    await eventually(
      "five connections open",
      async () => await scrape(metricsPort, "kinesyslog_connections_open") === 5,
    );
    assertEquals(await refused(open), 0, "the other source keeps the relay-wide limit");
    // The source bound to 127.0.0.2 alone: not reachable at the relay's address 127.0.0.1.
    let reached = true;
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: elsewhere })).close();
    } catch (error) {
      reached = !(error instanceof Deno.errors.ConnectionRefused);
    }
    assertEquals(reached, false);
    await sendTcp(elsewhere, "<14>1 2026-12-01T00:00:00Z h app - - - via-127.0.0.2\n", "127.0.0.2");
    await eventually(
      "the message on 127.0.0.2",
      () => (byStream(endpoint).get("a") ?? []).some((e) => e.message.endsWith("via-127.0.0.2")),
      20_000,
    );
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed by the relay */ }
    }
    assertEquals(await relay.stop(), 0);
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("POST /-/reload on the metrics port (metrics.reload) applies a changed file as SIGHUP does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-pipeline-" });
  const endpoint = new FirehoseEndpoint(["a", "c"]).start();
  const [tcp, metricsPort] = [freePort(), freePort()];
  const config = `${dir}/kinesyslog.yaml`;
  const file = (streams: string) =>
    `
sources: [{ transport: tcp, port: ${tcp} }]
sinks:
  logs: { streams: [${streams}] }
${settings(dir, endpoint, metricsPort)}
`.replace(`metrics: { ports: [${metricsPort}] }`, `metrics: { ports: [${metricsPort}], reload: true }`);
  await Deno.writeTextFile(config, file("a"));
  const relay = await startWithConfig(dir, endpoint, config);
  const post = async () => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/-/reload`, { method: "POST" });
    return [response.status, (await response.json()).result];
  };
  const line = (text: string) => `<14>1 2026-12-01T00:00:00Z h app - - - ${text}\n`;
  try {
    await sendTcp(tcp, line("before"));
    await eventually("the first message in a", () => (byStream(endpoint).get("a") ?? []).length === 1, 20_000);
    assertEquals(await post(), [200, "unchanged"]);
    await Deno.writeTextFile(config, file("c"));
    assertEquals(await post(), [200, "ok"]);
    await sendTcp(tcp, line("after"));
    await eventually("the second message in c", () => (byStream(endpoint).get("c") ?? []).length === 1, 20_000);
    assertEquals(byStream(endpoint).get("c")![0]!.message, line("after").trim());
    // Two at once, adding a sink: one applies it, the other finds nothing left to change.
    await Deno.writeTextFile(
      config,
      file("c").replace("logs: { streams: [c] }", "logs: { streams: [c] }\n  more: { streams: [a] }") +
        "default_sink: logs\n",
    );
    assertEquals((await Promise.all([post(), post()])).map(String).sort(), ["200,ok", "200,unchanged"]);
    assertEquals(relay.lines.filter((l) => l.includes('sinksAdded="more=firehose:a"')).length, 1);
    await Deno.writeTextFile(config, `${file("c")}\nroutes: [{ name: r, sinks: [nowhere] }]\n`);
    assertEquals(await post(), [400, "invalid"]);
    const get = await fetch(`http://127.0.0.1:${metricsPort}/-/reload`);
    await get.body?.cancel();
    assertEquals(get.status, 405);
    const reloads = (result: string) => scrape(metricsPort, "kinesyslog_config_reloads_total", { result });
    assertEquals([await reloads("ok"), await reloads("unchanged"), await reloads("invalid")], [2, 2, 1]);
    assertEquals(await relay.stop(), 0);
  } finally {
    await relay.stop().catch(() => {});
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a Firehose sink that SIGHUP adds to a relay that had only a directory names the account in its records", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-pipeline-" });
  const endpoint = new FirehoseEndpoint(["a"]).start();
  const [tcp, metricsPort] = [freePort(), freePort()];
  const config = `${dir}/kinesyslog.yaml`;
  const file = (sinks: string, routes: string) => `
sources: [{ transport: tcp, port: ${tcp} }]
sinks:
${sinks}
routes: [${routes}]
${settings(dir, endpoint, metricsPort)}
`;
  await Deno.writeTextFile(config, file(`  local: { output_dir: ${dir}/out }`, "{ name: r, sinks: [local] }"));
  const relay = await startWithConfig(dir, endpoint, config);
  try {
    await Deno.writeTextFile(
      config,
      file(`  local: { output_dir: ${dir}/out }\n  a: { streams: [a] }`, "{ name: r, sinks: [local, a] }"),
    );
    relay.signal("SIGHUP");
    await eventually(
      "the reload applied",
      async () => await scrape(metricsPort, "kinesyslog_config_reloads_total", { result: "ok" }) === 1,
      10_000,
    );
    await sendTcp(tcp, "<14>1 2026-12-01T00:00:00Z h app - - - to-both\n");
    await eventually("the record in a", () => endpoint.records.length === 1, 20_000);
    const record = JSON.parse(new TextDecoder().decode(gunzipSync(endpoint.records[0]!)));
    assertEquals([record.owner, record.logEvents.length], [TEST_ACCOUNT_ID, 1]);
    assertEquals(await relay.stop(), 0);
  } finally {
    await relay.stop().catch(() => {});
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** libfaketime for threaded programs (Debian's `faketime` package), when installed. */
const LIBFAKETIME = ["x86_64-linux-gnu", "aarch64-linux-gnu"]
  .map((arch) => `/usr/lib/${arch}/faketime/libfaketimeMT.so.1`)
  .find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
if (LIBFAKETIME === undefined) console.error("SKIP the New Year test: install faketime (.ci/run does) to run it");

Deno.test({
  name:
    "on New Year's Day (the relay's clock under libfaketime), December's RFC 3164 messages get the year before, in UTC and in Europe/Berlin",
  ignore: LIBFAKETIME === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "kinesyslog-pipeline-" });
    const [utc, berlin] = [freePort(), freePort()];
    const config = `${dir}/kinesyslog.yaml`;
    await Deno.writeTextFile(
      config,
      `
sources:
  - { transport: udp, port: ${utc} }
  - { transport: udp, port: ${berlin}, time_zone: Europe/Berlin }
sinks:
  local: { output_dir: ${dir}/out, record_format: ndjson }
spool: { dir: ${dir}/spool }
batching: { flush_interval: 0.3 }
`,
    );
    // The relay's clock starts at 2027-01-01 00:00:10 UTC (01:00:10 in Berlin) and runs on.
    // `env` puts libfaketime under Deno and execs it: the relay keeps its pid for signals.
    const relay = await RelayProcess.start(["listen", "--config", config, "--address", "127.0.0.1"], {
      dirs: [dir],
      wrap: ["env", "TZ=UTC", `LD_PRELOAD=${LIBFAKETIME}`, "FAKETIME=@2027-01-01 00:00:10"],
    });
    try {
      const now = await relay.waitFor(/kinesyslog started/);
      assert(now.startsWith("2027-01-01T00:00:1"), now);
      await sendUdp(utc, ["<14>Dec 31 23:59:50 host app: late-december", "<14>Jan  1 00:00:05 host app: new-year"]);
      await sendUdp(berlin, [
        "<14>Jan  1 00:59:55 host app: berlin-new-year",
        "<14>Dec 31 23:30:00 host app: berlin-dec",
      ]);
      await eventually("four messages", async () => (await readOutputObjects(`${dir}/out`)).length === 4, 20_000);
      const times = Object.fromEntries(
        (await readOutputObjects(`${dir}/out`)).map((e) => {
          const event = e as unknown as Record<string, unknown>;
          return [String(event.message).replace(/^.*: /, ""), new Date(event.timestamp as number).toISOString()];
        }),
      );
      assertEquals(times, {
        "late-december": "2026-12-31T23:59:50.000Z",
        "new-year": "2027-01-01T00:00:05.000Z",
        "berlin-new-year": "2026-12-31T23:59:55.000Z",
        "berlin-dec": "2026-12-31T22:30:00.000Z",
      });
      assertEquals(await relay.stop(), 0);
    } finally {
      await relay.stop().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
