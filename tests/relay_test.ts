/**
 * End to end: `main.ts listen` as a subprocess, real sockets on 127.0.0.1, records read
 * back from `--output-dir` or from the local Firehose endpoint through the real AWS SDK.
 */
import { assert, assertEquals } from "./assert.ts";
import { FirehoseEndpoint, TEST_ACCOUNT_ID } from "./firehose_endpoint.ts";
import {
  awsTestEnv,
  eventually,
  freePort,
  makeCertificate,
  noisyLines,
  readOutputDir,
  readRecordFiles,
  RelayProcess,
  runMain,
  scrape,
  sendStream,
  sendTcp,
  sendUdp,
  startLocalRelay,
  TcpFlood,
} from "./harness.ts";

const FIXTURES = new URL("./fixtures/wire/", import.meta.url);

Deno.test("the relay delivers syslog from UDP, TCP (LF and octet-counted) and TLS, each message once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const { cert, key, ca } = await makeCertificate(dir);
  const [udp, tcp, tls] = [freePort(), freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    "--udp-port",
    String(udp),
    "--tcp-port",
    String(tcp),
    "--tls-port",
    String(tls),
    "--cert",
    cert,
    "--key",
    key,
    "--flush-interval",
    "0.5",
  ]);
  try {
    const expected = new Map<string, { group: string; timestamp?: number; dayAndTime?: string }>();
    const udpMessages = [0, 1, 2].map((i) => `<34>1 2003-10-11T22:14:15.00${i}Z host app - - - udp-${i}`);
    udpMessages.forEach((m, i) =>
      expected.set(m, { group: `/kinesyslog/syslog/${udp}`, timestamp: 1065910455000 + i })
    );
    await sendUdp(udp, udpMessages.map((m) => m + "\n"));

    const lf = [0, 1, 2].map((i) => `<13>Oct 11 22:14:15 host app: tcp-lf-${i}`);
    lf.forEach((m) => expected.set(m, { group: `/kinesyslog/syslog/${tcp}`, dayAndTime: "10-11T22:14:15" }));
    await sendTcp(tcp, lf.join("\r\n") + "\r\n");

    const octet = [0, 1, 2].map((i) => `<13>1 2018-02-21T21:07:50+02:00 host app - - - tcp-octet-${i} \u00e9`);
    octet.forEach((m) => expected.set(m, { group: `/kinesyslog/syslog/${tcp}`, timestamp: 1519240070000 }));
    const enc = new TextEncoder();
    await sendTcp(tcp, octet.map((m) => `${enc.encode(m).length} ${m}`).join(""));

    const overTls = [0, 1, 2].map((i) => `<13>1 - host app - - - tls-${i}`);
    overTls.forEach((m) => expected.set(m, { group: `/kinesyslog/syslog/${tls}` }));
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port: tls, caCerts: [ca] });
    await sendStream(conn, overTls.join("\n")); // the last frame has no delimiter: delivered at close

    let events: Awaited<ReturnType<typeof readOutputDir>> = [];
    await eventually("all messages in records", async () => {
      events = await readOutputDir(`${dir}/out`);
      return events.length >= expected.size;
    });
    assertEquals(events.length, expected.size);
    assertEquals(new Set(events.map((e) => e.id)).size, events.length, "event ids are unique");
    for (const e of events) {
      const want = expected.get(e.message);
      assert(want !== undefined, `unexpected message ${JSON.stringify(e.message)}`);
      assertEquals(e.logGroup, want.group, e.message);
      assertEquals(e.logStream, "127.0.0.1");
      assertEquals(e.owner, "000000000000");
      if (want.timestamp !== undefined) assertEquals(e.timestamp, want.timestamp, e.message);
      else if (want.dayAndTime !== undefined) {
        assertEquals(new Date(e.timestamp).toISOString().slice(5, 19), want.dayAndTime, e.message);
      } else assert(Math.abs(e.timestamp - Date.now()) < 60_000, `receive time for ${e.message}`);
      expected.delete(e.message);
    }
    assertEquals(expected.size, 0);
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the relay frames the wire captures of real clients into their messages", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const [udp, tcp] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    "--udp-port",
    String(udp),
    "--tcp-port",
    String(tcp),
    "--tls-port",
    "0",
    "--flush-interval",
    "0.5",
  ]);
  try {
    let sent = 0;
    for await (const capture of Deno.readDir(FIXTURES)) {
      if (!/^(logger|loggen|rsyslog)-/.test(capture.name)) continue;
      const folder = new URL(`${capture.name}/`, FIXTURES);
      if (capture.name.includes("-udp-")) {
        const datagrams: Uint8Array[] = [];
        for await (const f of Deno.readDir(folder)) datagrams.push(await Deno.readFile(new URL(f.name, folder)));
        await sendUdp(udp, datagrams);
        sent += datagrams.length;
      } else {
        // Streams (TCP, and TLS captured decrypted) are replayed over TCP.
        await sendTcp(tcp, await Deno.readFile(new URL("stream.bin", folder)));
        sent += 3;
      }
    }
    assert(sent >= 48, `expected the captures in tests/fixtures, sent ${sent}`);
    await eventually(
      "every captured message delivered",
      async () => (await readOutputDir(`${dir}/out`)).length >= sent,
    );
    const events = await readOutputDir(`${dir}/out`);
    assertEquals(events.length, sent);
    for (const e of events) {
      assert(e.message.startsWith("<"), `message keeps its PRI: ${e.message.slice(0, 30)}`);
      assert(!/^\d+ </.test(e.message), `octet count removed: ${e.message.slice(0, 30)}`);
      // Every capture was made on 2026-11-23: the timestamp was read from the message.
      assertEquals(new Date(e.timestamp).toISOString().slice(0, 10), "2026-11-23", e.message.slice(0, 60));
    }
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the relay listens on several ports of each kind, over IPv6 too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const [udp1, udp2, tcp1, tcp2] = [freePort(), freePort(), freePort(), freePort()];
  const relay = await RelayProcess.start([
    "listen",
    "--output-dir",
    `${dir}/out`,
    "--spool-dir",
    `${dir}/spool`,
    "--address",
    "::1",
    "--udp-port",
    String(udp1),
    "--udp-port",
    String(udp2),
    "--tcp-port",
    `${tcp1}`,
    "--tcp-port",
    `${tcp2}`,
    "--tls-port",
    "0",
    "--flush-interval",
    "0.3",
  ], { dirs: [dir] });
  try {
    const enc = new TextEncoder();
    const socket = Deno.listenDatagram({ transport: "udp", hostname: "::1", port: 0 });
    for (const port of [udp1, udp2]) {
      await socket.send(enc.encode(`<13>udp to ${port}`), { transport: "udp", hostname: "::1", port });
    }
    socket.close();
    for (const port of [tcp1, tcp2]) {
      await sendStream(await Deno.connect({ hostname: "::1", port }), `<13>tcp to ${port}\n`);
    }
    await eventually("four messages", async () => (await readOutputDir(`${dir}/out`)).length === 4);
    const events = await readOutputDir(`${dir}/out`);
    assertEquals(
      events.map((e) => [e.logGroup, e.logStream, e.message]).sort(),
      [
        [`/kinesyslog/syslog/${tcp1}`, "::1", `<13>tcp to ${tcp1}`],
        [`/kinesyslog/syslog/${tcp2}`, "::1", `<13>tcp to ${tcp2}`],
        [`/kinesyslog/syslog/${udp1}`, "::1", `<13>udp to ${udp1}`],
        [`/kinesyslog/syslog/${udp2}`, "::1", `<13>udp to ${udp2}`],
      ].sort(),
    );
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an idle relay sleeps, and a message after the idle spell is still flushed within --flush-interval", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const [udp, tcp] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--udp-port", String(udp), "--tcp-port", String(tcp), "--tls-port", "0", "--flush-interval", "1"],
  ]);
  try {
    // Past the first ticks, which find nothing to do: the relay's next look is 30 s away.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const senders = [
      [udp, () => sendUdp(udp, [`<13>after the idle spell on ${udp}`])],
      [tcp, () => sendTcp(tcp, `<13>after the idle spell on ${tcp}\n`)],
    ] as const;
    for (const [port, send] of senders) {
      const sent = performance.now();
      await send();
      await eventually(
        "the message in a record",
        async () => (await readOutputDir(`${dir}/out`)).some((e) => e.message.includes(`spell on ${port}`)),
        10_000,
      );
      const took = performance.now() - sent;
      // The flush interval, its check and the spool worker's writing: never the idle check's 30 s.
      assert(took < 5_000, `flushed ${(took / 1000).toFixed(1)} s after it was sent`);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
    }
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a clean shutdown delivers the unterminated last frame of an open connection", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const tcp = freePort();
  const relay = await startLocalRelay(dir, [
    "--tcp-port",
    String(tcp),
    "--tls-port",
    "0",
    "--shutdown-grace",
    "0.5",
  ]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
  try {
    await conn.write(new TextEncoder().encode("<13>complete line\n<13>no delimiter yet"));
    await relay.waitFor(/kinesyslog started/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assertEquals(await relay.stop(), 0);
    const events = await readOutputDir(`${dir}/out`);
    assertEquals(events.map((e) => e.message), ["<13>complete line", "<13>no delimiter yet"]);
  } finally {
    conn.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("under sustained load records are full, and events handed back at shutdown are delivered", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const tcp = freePort();
  const relay = await startLocalRelay(dir, ["--tcp-port", String(tcp), "--tls-port", "0", "--flush-size", "8388608"]);
  try {
    // 60,000 messages of 200 bytes, half random text: about 6 records of about 2 MB raw each.
    const count = 60_000;
    let text = "";
    for (let i = 0; i < count; i++) {
      const random = crypto.getRandomValues(new Uint8Array(100));
      let noise = "";
      for (const b of random) noise += String.fromCharCode(33 + (b % 94));
      text += `<134>1 2026-11-24T00:00:00Z web app - - - seq=${String(i).padStart(6, "0")} ${noise}`.padEnd(199, " x") +
        "\n";
    }
    await sendTcp(tcp, text);
    assertEquals(await relay.stop(), 0);
    const events = await readOutputDir(`${dir}/out`);
    const seqs = events.map((e) => Number(/seq=(\d+)/.exec(e.message)![1])).sort((a, b) => a - b);
    assertEquals(seqs.length, count);
    assert(seqs.every((seq, i) => seq === i), "every message exactly once");
    const records = await readRecordFiles(`${dir}/out`);
    for (const record of records) assertEquals(record[8], 0, "XFL of the default level 6");
    const sizes = records.map((record) => record.length);
    assert(sizes.length >= 4, `${sizes.length} records`);
    // Only what was left at shutdown may make a record that is not full (99.2% of 1,024,000 bytes).
    const partial = sizes.filter((size) => size < 1_024_000 * 0.99);
    assert(partial.length <= 2, `records of ${sizes.join(", ")} bytes`);
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--compression-level, --spool-workers and --worker-memory-limit reach the relay", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const tcp = freePort();
  const metricsPort = freePort();
  const args = ["--tcp-port", String(tcp), "--tls-port", "0", "--flush-interval", "0.2"];
  args.push("--spool-workers", "3", "--compression-level", "1", "--worker-memory-limit", "400M");
  args.push("--prometheus-port", String(metricsPort));
  const relay = await startLocalRelay(dir, args);
  try {
    assert(relay.lines.some((l) => / spoolWorkers=3 compressionLevel=1 /.test(l)), relay.lines.join("\n"));
    assert(relay.lines.some((l) => / workerMemoryLimitMiB=400( |$)/.test(l)), relay.lines.join("\n"));
    assertEquals(await scrape(metricsPort, "kinesyslog_worker_memory_limit_bytes"), 400 * 1_048_576);
    assertEquals(await scrape(metricsPort, "kinesyslog_spool_workers_held_back_total"), 0);
    await sendTcp(tcp, "<13>one\n<13>two\n");
    await eventually("both delivered", async () => (await readOutputDir(`${dir}/out`)).length === 2);
    assertEquals(await relay.stop(), 0);
    assertEquals((await readOutputDir(`${dir}/out`)).map((e) => e.message), ["<13>one", "<13>two"]);
    // gzip's XFL byte (RFC 1952 section 2.3.1): 4 is "fastest algorithm", which zlib writes for level 1 only.
    for (const record of await readRecordFiles(`${dir}/out`)) assertEquals(record[8], 4);
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with --tcp-workers, connections spread over threads deliver every message once; the limit holds in all", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const tcp = freePort();
  const metricsPort = freePort();
  const args = ["--tcp-port", String(tcp), "--tls-port", "0", "--tcp-workers", "2", "--max-connections", "6"];
  args.push("--flush-interval", "0.2");
  args.push("--prometheus-port", String(metricsPort), "--shutdown-grace", "0.5");
  const relay = await startLocalRelay(dir, args);
  const held: Deno.Conn[] = [];
  try {
    assert(relay.lines.some((l) => / tcpWorkers=2( |$)/.test(l)), relay.lines.join("\n"));
    // 12 senders, one after another (the next once the last has been counted open and closed,
    // so that none meets the limit): each lands on one of the three acceptors. A worker counts
    // within a few milliseconds, so "none open" alone could be read before it counted one.
    const connections = 12;
    const each = 2_000;
    for (let c = 0; c < connections; c++) {
      let text = "";
      for (let i = 0; i < each; i++) text += `<13>sender ${c} seq=${i}\n`;
      await sendTcp(tcp, text);
      await eventually(
        "the sender's connection counted and closed",
        async () =>
          (await scrape(metricsPort, "kinesyslog_connections_total")) === c + 1 &&
          (await scrape(metricsPort, "kinesyslog_connections_open")) === 0,
      );
    }
    assertEquals(await scrape(metricsPort, "kinesyslog_connections_refused_total"), 0);
    await eventually(
      "every message delivered",
      async () => (await readOutputDir(`${dir}/out`)).length === connections * each,
    );
    await eventually(
      "connections counted",
      async () => (await scrape(metricsPort, "kinesyslog_connections_total")) === connections,
    );
    // The hostile case: 12 connections held open against --max-connections 6, split over the
    // main thread and two workers (2 each): no more than 6 are open, every other is refused, counted.
    for (let c = 0; c < 12; c++) held.push(await Deno.connect({ hostname: "127.0.0.1", port: tcp }));
    await eventually(
      "every held connection open or refused",
      async () =>
        (await scrape(metricsPort, "kinesyslog_connections_open")) +
            (await scrape(metricsPort, "kinesyslog_connections_refused_total", { reason: "connection_limit" })) === 12,
    );
    const open = await scrape(metricsPort, "kinesyslog_connections_open");
    assert(open <= 6 && open > 0, `${open} open`);
    for (const conn of held.splice(0)) conn.close();
    await eventually(
      "the held connections closed",
      async () => (await scrape(metricsPort, "kinesyslog_connections_open")) === 0,
    );
    // Connections still open at shutdown, wherever they landed, have their unterminated last
    // frame delivered (two: each acceptor holds two, so neither is refused).
    for (let c = 0; c < 2; c++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
      held.push(conn);
      await conn.write(new TextEncoder().encode(`<13>complete ${c}\n<13>unterminated ${c}`));
    }
    await eventually(
      "the last lines taken in",
      async () => (await scrape(metricsPort, "kinesyslog_messages_received_total")) === connections * each + 2,
    );
    assertEquals(await relay.stop(), 0);
    const events = await readOutputDir(`${dir}/out`);
    for (let c = 0; c < connections; c++) {
      const seqs = events.filter((e) => e.message.startsWith(`<13>sender ${c} `))
        .map((e) => Number(/seq=(\d+)/.exec(e.message)![1]));
      assertEquals(seqs.sort((a, b) => a - b), Array.from({ length: each }, (_, i) => i), `sender ${c}`);
    }
    const last = events.filter((e) => !e.message.startsWith("<13>sender ")).map((e) => e.message).sort();
    assertEquals(last, [0, 1].flatMap((c) => [`<13>complete ${c}`, `<13>unterminated ${c}`]).sort());
  } finally {
    for (const conn of held) {
      try {
        conn.close();
      } catch { /* refused and closed */ }
    }
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a second signal exits at once while the first waits for open connections", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const tcp = freePort();
  const relay = await startLocalRelay(dir, [
    "--tcp-port",
    String(tcp),
    "--tls-port",
    "0",
    "--shutdown-grace",
    "30",
  ]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
  try {
    await conn.write(new TextEncoder().encode("<13>held open\n"));
    relay.signal("SIGTERM");
    await relay.waitFor(/Shutting down/);
    const second = Date.now();
    relay.signal("SIGTERM");
    assertEquals(await relay.exited(), 130);
    assert(Date.now() - second < 5_000, "the second signal did not wait for the grace period");
    assert(relay.lines.some((l) => l.includes("Second signal: exiting now")));
  } finally {
    conn.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("configuration errors stop startup with one line naming the flag", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const base = ["--output-dir", `${dir}/out`, "--spool-dir", `${dir}/spool`, "--address", "127.0.0.1"];
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const relay = RelayProcess.spawn(args, { dirs: [dir], env });
    const code = await relay.exited();
    return { code, lines: relay.lines.filter((l) => l.trim() !== "") };
  };
  try {
    await t.step("default TLS port without a certificate", async () => {
      const { code, lines } = await run(["listen", ...base, "--udp-port", String(freePort())]);
      assertEquals(code, 2);
      assertEquals(lines, [
        "kinesyslog: Cannot listen on TLS port 6514: --cert and --key not given; give --cert and --key, or turn TLS off with --tls-port 0",
      ]);
    });
    await t.step("the predecessor's --port names the TLS port", async () => {
      const { code, lines } = await run(["listen", ...base, "--udp-port", String(freePort()), "--port", "7791"]);
      assertEquals(code, 2);
      assertEquals(lines, [
        "kinesyslog: Cannot listen on TLS port 7791: --cert and --key not given; give --cert and --key, or turn TLS off with --tls-port 0",
      ]);
    });
    await t.step("a port in use leaves no listener running", async () => {
      const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const free = freePort();
      try {
        const { code, lines } = await run([
          "listen",
          ...base,
          "--udp-port",
          String(free),
          "--tcp-port",
          String(busy.addr.port),
          "--tls-port",
          "0",
        ]);
        assertEquals(code, 1);
        assertEquals(lines, [
          `kinesyslog: Cannot listen on TCP port ${busy.addr.port} at 127.0.0.1: address already in use`,
        ]);
      } finally {
        busy.close();
      }
    });
    await t.step("a missing certificate file", async () => {
      const { code, lines } = await run([
        "listen",
        ...base,
        "--tls-port",
        String(freePort()),
        "--cert",
        `${dir}/nope.crt`,
        "--key",
        `${dir}/nope.key`,
      ]);
      assertEquals(code, 1);
      assertEquals(lines, [
        `kinesyslog: Cannot listen on TLS port ${
          lines[0]!.match(/port (\d+)/)![1]
        }: --cert file '${dir}/nope.crt' not found`,
      ]);
    });
    await t.step("an unknown option, and no command at all", async () => {
      const unknown = await run(["listen", ...base, "--udp-prot", "514"]);
      assertEquals(unknown.code, 2);
      assertEquals(unknown.lines[0]!.startsWith("kinesyslog: unknown option '--udp-prot'"), true, unknown.lines[0]);
      const none = await run([]);
      assertEquals(none.code, 2);
      assert(none.lines.some((l) => l.startsWith("Usage: kinesyslog")));
    });
    await t.step("no listener", async () => {
      const { code, lines } = await run(["listen", ...base, "--tls-port", "0"]);
      assertEquals(code, 2);
      assertEquals(lines, [
        "kinesyslog: No listener enabled: give --udp-port, --tcp-port, --tls-port, --relp-port or a --gelf-*-port",
      ]);
    });
    await t.step("GELF listeners: TLS without a certificate, and one port given twice", async () => {
      const gelfTls = await run(["listen", ...base, "--tls-port", "0", "--gelf-tls-port", "12201"]);
      assertEquals([gelfTls.code, gelfTls.lines], [2, [
        "kinesyslog: Cannot listen on TLS port 12201: --cert and --key not given; give --cert and --key, or turn TLS off with --gelf-tls-port 0",
      ]]);
      // --gelf turns the default TLS port into a GELF one: it still names --tls-port.
      const gelf = await run(["listen", ...base, "--gelf", "--udp-port", "12201"]);
      assertEquals([gelf.code, gelf.lines], [2, [
        "kinesyslog: Cannot listen on TLS port 6514: --cert and --key not given; give --cert and --key, or turn TLS off with --tls-port 0",
      ]]);
      const twice = await run(["listen", ...base, "--tls-port", "0", "--udp-port", "5514", "--gelf-udp-port", "5514"]);
      assertEquals([twice.code, twice.lines], [2, [
        "kinesyslog: UDP port 5514 is given to two listeners; give each its own",
      ]]);
    });
    await t.step("mutual TLS and PROXY flags that do not fit together", async () => {
      const tls = ["--cert", "s.crt", "--key", "s.key"];
      const table: [string[], string][] = [
        [
          [...tls, "--client-auth", "required"],
          "--client-auth required needs --client-ca, the CA bundle that signs client certificates",
        ],
        [
          ["--tls-port", "0", "--tcp-port", "5514", "--client-ca", "ca.pem"],
          "--client-ca is given but no TLS listener is enabled; give --tls-port, --gelf-tls-port or --relp-tls-port",
        ],
        [
          [...tls, "--client-ca", "ca.pem", "--client-auth", "optional", "--client-allow", "router1"],
          "--client-allow needs --client-auth required (an unverified client proves no name)",
        ],
        [
          [...tls, "--udp-port", "5514", "--proxy-protocol", "5514"],
          "--proxy-protocol 5514 names no TCP, TLS or RELP listener; give a --tcp-port, --tls-port or --relp-port",
        ],
        [
          ["--tls-port", "0", "--tcp-port", "5514", "--idle-timeout", "-1"],
          "Invalid --idle-timeout '-1': give a number of seconds from 1 to 86400, or 0 for off",
        ],
      ];
      for (const [args, message] of table) {
        const { code, lines } = await run(["listen", ...base, ...args]);
        assertEquals([code, lines], [2, [`kinesyslog: ${message}`]]);
      }
      const mode = await run(["listen", ...base, ...tls, "--client-auth", "maybe"]);
      assertEquals(mode.code, 2);
      assert(mode.lines[0]!.includes("Allowed choices are none, optional, required"), mode.lines[0]);
    });
    await t.step("both --stream and --output-dir", async () => {
      const { code, lines } = await run(["listen", ...base, "--stream", "s", "--udp-port", "5514"]);
      assertEquals(code, 2);
      assertEquals(lines, [
        "kinesyslog: Give one of --stream NAME (Firehose; repeatable), --kinesis-stream NAME (Kinesis Data Streams; repeatable) or --output-dir DIR (local files)",
      ]);
    });
    await t.step("a bad number in an environment variable", async () => {
      const { code, lines } = await run(["listen", ...base], { KINESYSLOG_UDP_PORT: "514 seventy" });
      assertEquals(code, 2);
      assertEquals(lines, [
        "kinesyslog: Invalid KINESYSLOG_UDP_PORT (--udp-port) 'seventy': give a port number from 0 (off) to 65535",
      ]);
    });
    await t.step("out-of-range worker count and compression level", async () => {
      const workers = await run(["listen", ...base, "--udp-port", "5514", "--spool-workers", "0"]);
      assertEquals(workers.code, 2);
      assertEquals(workers.lines, ["kinesyslog: Invalid --spool-workers '0': give a whole number from 1 to 32"]);
      const level = await run(["listen", ...base, "--udp-port", "5514"], { KINESYSLOG_COMPRESSION_LEVEL: "10" });
      assertEquals(level.code, 2);
      assertEquals(level.lines, [
        "kinesyslog: Invalid KINESYSLOG_COMPRESSION_LEVEL (--compression-level) '10': give a whole number from 1 to 9",
      ]);
    });
    await t.step("Firehose without an AWS region", async () => {
      const { code, lines } = await run(
        [
          "listen",
          "--stream",
          "logs",
          "--spool-dir",
          `${dir}/spool`,
          "--udp-port",
          String(freePort()),
          "--tls-port",
          "0",
        ],
        {
          AWS_REGION: "",
          AWS_DEFAULT_REGION: "",
          AWS_CONFIG_FILE: `${dir}/none`,
          AWS_SHARED_CREDENTIALS_FILE: `${dir}/none`,
        },
      );
      assertEquals(code, 1);
      assertEquals(lines, [
        "kinesyslog: Cannot deliver to Firehose: no AWS region; give --region, set AWS_REGION, or use a --profile that names one (and allow reading ~/.aws)",
      ]);
    });
    await t.step("an unwritable spool directory", async () => {
      await Deno.writeTextFile(`${dir}/file`, "not a directory");
      const { code, lines } = await run([
        "listen",
        "--output-dir",
        `${dir}/out`,
        "--spool-dir",
        `${dir}/file/spool`,
        "--udp-port",
        String(freePort()),
        "--tls-port",
        "0",
        "--address",
        "127.0.0.1",
      ]);
      assertEquals(code, 1);
      assert(
        lines.length === 1 && lines[0]!.startsWith(`kinesyslog: Cannot use spool directory '${dir}/file/spool'`),
        lines[0],
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("options can come from KINESYSLOG_* variables; --help shows defaults; --version prints", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  try {
    const udp = freePort();
    const relay = await RelayProcess.start(["listen"], {
      dirs: [dir],
      env: {
        KINESYSLOG_OUTPUT_DIR: `${dir}/out`,
        KINESYSLOG_SPOOL_DIR: `${dir}/spool`,
        KINESYSLOG_ADDRESS: "127.0.0.1",
        KINESYSLOG_UDP_PORT: `${udp}`,
        KINESYSLOG_TLS_PORT: "0",
        KINESYSLOG_FLUSH_INTERVAL: "0.2",
        KINESYSLOG_GROUP_PREFIX: "/custom",
      },
    });
    await sendUdp(udp, ["<13>from env"]);
    await eventually("the message", async () => (await readOutputDir(`${dir}/out`)).length === 1);
    assertEquals((await readOutputDir(`${dir}/out`))[0]!.logGroup, `/custom/syslog/${udp}`);
    assertEquals(await relay.stop(), 0);

    const help = await runMain(["listen", "--help"], [dir]);
    assertEquals(help.code, 0);
    for (const expected of ["--tls-port <port>", "(default: 6514", "KINESYSLOG_SPOOL_DIR", '"/var/spool/kinesyslog"']) {
      assert(help.stdout.includes(expected), `--help lacks ${expected}:\n${help.stdout}`);
    }
    const version = await runMain(["--version"], [dir]);
    assertEquals([version.code, version.stdout.trim()], [0, "2.0.0-dev"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("through the AWS SDK, 100,000 TCP messages all arrive despite 30% record failures and 503s", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const endpoint = new FirehoseEndpoint("logs").start();
  endpoint.faults.recordFailureRate = 0.3;
  endpoint.faults.callFailureRate = 0.1;
  endpoint.faults.failNextCalls = 3;
  const tcp = freePort();
  const relay = await RelayProcess.start([
    "listen",
    "--stream",
    "logs",
    "--endpoint-url",
    endpoint.url,
    "--spool-dir",
    `${dir}/spool`,
    "--address",
    "127.0.0.1",
    "--tcp-port",
    String(tcp),
    "--tls-port",
    "0",
    "--flush-interval",
    "0.5",
    "--flush-size",
    "100000",
  ], { dirs: [dir], env: awsTestEnv(endpoint.url) });
  try {
    const total = 100_000;
    const connections = 4;
    await Promise.all(Array.from({ length: connections }, (_, c) => {
      let text = "";
      for (let i = c; i < total; i += connections) text += `<13>1 2026-11-24T00:00:00Z host app - - - m=${i}\n`;
      return sendTcp(tcp, text);
    }));
    console.log(relay.lines.join("\n"));
    await eventually("every message delivered", () => endpoint.events().length >= total, 120_000);
    const events = endpoint.events();
    const seen = new Set(events.map((e) => Number(/m=(\d+)/.exec(e.message)![1])));
    assertEquals(seen.size, total, "every message arrived");
    assert(events.length >= total, "at least once");
    assert(endpoint.calls.failedRecords > 0 && endpoint.calls.failed503 > 0, "faults were injected");
    assertEquals(endpoint.calls.invalid, 0, "no call broke a PutRecordBatch limit");
    assertEquals(events[0]!.owner, TEST_ACCOUNT_ID, "owner from STS");
    assertEquals(events[0]!.logGroup, `/kinesyslog/syslog/${tcp}`);
  } finally {
    assertEquals(await relay.stop(), 0);
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("records spooled while Firehose is down are delivered by the next run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const endpoint = new FirehoseEndpoint("logs").start();
  await endpoint.stop(); // down: the relay only spools
  const udp = freePort();
  const args = [
    "listen",
    "--stream",
    "logs",
    "--endpoint-url",
    endpoint.url,
    "--spool-dir",
    `${dir}/spool`,
    "--address",
    "127.0.0.1",
    "--udp-port",
    String(udp),
    "--tls-port",
    "0",
    "--flush-interval",
    "0.2",
  ];
  try {
    const first = await RelayProcess.start(args, { dirs: [dir], env: awsTestEnv(endpoint.url) });
    await sendUdp(udp, ["<13>one", "<13>two", "<13>three"]);
    await first.waitFor(/PutRecordBatch failed; retrying/);
    assertEquals(await first.stop(), 0);
    const spooled = [...Deno.readDirSync(`${dir}/spool`)].filter((f) => f.name.endsWith(".json.gz"));
    assert(spooled.length >= 1, "records left in the spool");

    endpoint.start();
    const second = await RelayProcess.start(args, { dirs: [dir], env: awsTestEnv(endpoint.url) });
    assert((await second.waitFor(/kinesyslog started/)).includes(`leftoverRecords=${spooled.length}`));
    await eventually("leftovers delivered", () => endpoint.events().length === 3);
    assertEquals(endpoint.events().map((e) => e.message).sort(), ["<13>one", "<13>three", "<13>two"]);
    await eventually(
      "spool emptied",
      () => [...Deno.readDirSync(`${dir}/spool`)].filter((f) => f.name.endsWith(".json.gz")).length === 0,
    );
    assertEquals(await second.stop(), 0);
  } finally {
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a record Firehose refuses as invalid is quarantined and never blocks the others", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const endpoint = new FirehoseEndpoint("logs").start();
  const { gunzipSync } = await import("node:zlib");
  endpoint.faults.rejectRecord = (data) => new TextDecoder().decode(gunzipSync(data)).includes("poison");
  const udp = freePort();
  const relay = await RelayProcess.start([
    "listen",
    "--stream",
    "logs",
    "--endpoint-url",
    endpoint.url,
    "--spool-dir",
    `${dir}/spool`,
    "--address",
    "127.0.0.1",
    "--udp-port",
    String(udp),
    "--tls-port",
    "0",
    "--flush-interval",
    "0.2",
  ], { dirs: [dir], env: awsTestEnv(endpoint.url) });
  try {
    // Three senders (loopback addresses), so three records, flushed together.
    const sockets = [1, 2, 3].map((n) => Deno.listenDatagram({ transport: "udp", hostname: `127.0.0.${n}`, port: 0 }));
    const enc = new TextEncoder();
    for (const [i, s] of sockets.entries()) {
      await s.send(enc.encode(i === 1 ? "<13>poison" : `<13>good ${i}`), {
        transport: "udp",
        hostname: "127.0.0.1",
        port: udp,
      });
      s.close();
    }
    await eventually("good records delivered", () => endpoint.events().length === 2);
    await relay.waitFor(/moved to quarantine/);
    assertEquals(endpoint.events().map((e) => e.message).sort(), ["<13>good 0", "<13>good 2"]);
    const quarantined = [...Deno.readDirSync(`${dir}/spool/quarantine`)];
    assertEquals(quarantined.length, 1);
  } finally {
    assertEquals(await relay.stop(), 0);
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The value of one sample in Prometheus text, summed over label sets that contain `labels`. */
Deno.test("a plain-text or silent client on the TLS port is counted and harms no other client", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const { cert, key, ca } = await makeCertificate(dir);
  const [tls, metricsPort] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    "--tls-port",
    String(tls),
    "--cert",
    cert,
    "--key",
    key,
    "--flush-interval",
    "0.3",
    "--prometheus-port",
    String(metricsPort),
  ]);
  try {
    // A client that opens a TLS connection and says nothing, held open throughout.
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: tls });
    await sendTcp(tls, "<13>plain text on a TLS port\n");
    await relay.waitFor(
      /Connection refused: a plain-text client on a TLS port .*reason=not_tls start="<13>plain text on a TLS "/,
    );
    const good = await Deno.connectTls({ hostname: "127.0.0.1", port: tls, caCerts: [ca] });
    await sendStream(good, "<13>good one\n<13>good two\n");
    await eventually("good messages", async () => (await readOutputDir(`${dir}/out`)).length === 2);
    assertEquals((await readOutputDir(`${dir}/out`)).map((e) => e.message), ["<13>good one", "<13>good two"]);
    assertEquals(await scrape(metricsPort, "kinesyslog_connections_refused_total", { reason: "not_tls" }), 1);
    silent.close();
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a full spool slows TCP senders and drops UDP (counted) until Firehose is back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const endpoint = new FirehoseEndpoint("logs").start();
  await endpoint.stop(); // down
  const [tcp, udp, metricsPort] = [freePort(), freePort(), freePort()];
  const relay = await RelayProcess.start([
    "listen",
    "--stream",
    "logs",
    "--endpoint-url",
    endpoint.url,
    "--spool-dir",
    `${dir}/spool`,
    "--address",
    "127.0.0.1",
    "--tcp-port",
    String(tcp),
    "--udp-port",
    String(udp),
    "--tls-port",
    "0",
    "--spool-max-size",
    "1048576",
    "--flush-interval",
    "0.2",
    "--prometheus-port",
    String(metricsPort),
  ], { dirs: [dir], env: awsTestEnv(endpoint.url) });
  try {
    // 80 MB of poorly compressible messages: far more than what the bounds let in (a 1 MiB
    // spool, the 6 MiB worker backlog, one 4 MiB buffer, and the kernel's socket buffers).
    const total = 400_000;
    const flood = await TcpFlood.start(tcp, noisyLines(total, 1));
    // Full: records, journal and what is on its way to them reach the bound.
    await eventually(
      "the spool to fill",
      async () => (await fetch(`http://127.0.0.1:${metricsPort}/ready`)).status === 503,
    );
    // The sender is held back: nothing more is written for a while, well short of the total.
    await flood.stalled(500);
    const { written, bytes } = flood;
    assert(written < bytes.length / 2, `the sender was not slowed: ${written} of ${bytes.length} bytes written`);
    assertEquals((await fetch(`http://127.0.0.1:${metricsPort}/ready`)).status, 503);
    await sendUdp(udp, ["<13>udp while full 1", "<13>udp while full 2"]);
    await eventually(
      "UDP drops counted",
      async () => await scrape(metricsPort, "kinesyslog_messages_dropped_total", { reason: "spool_full" }) === 2,
    );

    endpoint.start(); // back: the spool drains, the reader resumes, the sender finishes
    await flood.done;
    await eventually("every TCP message delivered", () => {
      const seqs = new Set(endpoint.events().map((e) => e.message.match(/seq=(\d+)/)?.[1]));
      return seqs.size === total;
    }, 90_000);
    assert(!endpoint.events().some((e) => e.message.includes("udp while full")), "dropped UDP was not delivered");
    await eventually("ready again", async () => (await fetch(`http://127.0.0.1:${metricsPort}/ready`)).status === 200);
  } finally {
    assertEquals(await relay.stop(), 0);
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a spool that cannot be written turns /ready off, is retried, and loses nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const [udp, metricsPort] = [freePort(), freePort()];
  const spool = `${dir}/spool`;
  const relay = await RelayProcess.start([
    "listen",
    "--output-dir",
    `${dir}/out`,
    "--spool-dir",
    spool,
    "--address",
    "127.0.0.1",
    "--udp-port",
    String(udp),
    "--tls-port",
    "0",
    "--flush-interval",
    "0.2",
    "--prometheus-port",
    String(metricsPort),
  ], { dirs: [dir] });
  try {
    assertEquals((await fetch(`http://127.0.0.1:${metricsPort}/ready`)).status, 200);
    // Running as root, permissions cannot stop a write: replace the directory by a file.
    await Deno.remove(spool, { recursive: true });
    await Deno.writeTextFile(spool, "not a directory");
    await sendUdp(udp, ["<13>written once the spool is back"]);
    await eventually("spool errors", async () => await scrape(metricsPort, "kinesyslog_spool_write_errors_total") > 0);
    assertEquals((await fetch(`http://127.0.0.1:${metricsPort}/ready`)).status, 503);
    await Deno.remove(spool);
    await Deno.mkdir(spool);
    await eventually("the message delivered", async () => (await readOutputDir(`${dir}/out`)).length === 1, 30_000);
    assertEquals((await readOutputDir(`${dir}/out`))[0]!.message, "<13>written once the spool is back");
    assertEquals((await fetch(`http://127.0.0.1:${metricsPort}/ready`)).status, 200);
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("what TLS clients that close without reading lose is counted, never silent (Node.js client)", async () => {
  // With TLS 1.3 session tickets, such a client's kernel resets the connection and the
  // relay's kernel drops what was not read yet (docs/network-edge.md: "TLS clients that close without
  // reading"). Deno.listenTls cannot turn tickets off; the loss must at least be visible.
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const { cert, key } = await makeCertificate(dir);
  const [tls, metricsPort] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    "--tls-port",
    String(tls),
    "--cert",
    cert,
    "--key",
    key,
    "--flush-interval",
    "0.3",
    "--prometheus-port",
    String(metricsPort),
  ]);
  try {
    const client = new URL("./clients/tls_write_and_close.cjs", import.meta.url).pathname;
    const connections = 5, lines = 20_000;
    for (let c = 0; c < connections; c++) {
      const out = await new Deno.Command("node", {
        args: [client, String(tls), `${dir}/ca.crt`, String(lines), `c${c}`],
      })
        .output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    }
    await eventually("connections done", async () => await scrape(metricsPort, "kinesyslog_connections_open") === 0);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the last flush
    const delivered = new Set((await readOutputDir(`${dir}/out`)).map((e) => e.message)).size;
    const resets = await scrape(metricsPort, "kinesyslog_connection_errors_total", { reason: "reset" });
    assert(delivered <= connections * lines);
    if (delivered < connections * lines) {
      assert(resets >= 1, `${connections * lines - delivered} lines lost without a counted reset`);
      assert(relay.lines.some((l) => l.includes("Connection ended by an error")), "the loss is logged");
    }
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});
