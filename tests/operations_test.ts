/**
 * End to end, for operators: metrics read with a Prometheus parser account for every
 * message; `/ready` follows the spool and delivery; JSON logs; `decode` round-trips what the
 * relay delivered and spooled; `install` writes a unit systemd accepts.
 */
import { gzipSync } from "node:zlib";
import { assert, assertEquals } from "./assert.ts";
import { type DeliveredEvent, FirehoseEndpoint } from "./firehose_endpoint.ts";
import {
  eventually,
  freePort,
  makeUnwritable,
  readOutputDir,
  runMain,
  scrape,
  sendStream,
  sendUdp,
  startFirehoseRelay,
  startLocalRelay,
  writeAll,
} from "./harness.ts";
import { type Family, fetchMetrics, sumOf } from "./prometheus.ts";

/** Runs `main.ts decode` with only the permission it needs, feeding `stdin` when given. */
function runDecode(args: string[], stdin?: Uint8Array): Promise<{ code: number; stdout: string; stderr: string }> {
  return runMain(["decode", ...args], [], { permissions: ["--allow-read"], ...(stdin && { stdin }) });
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}

/** What `decode` prints for a delivered event: the same fields, without the owner. */
function printed(e: DeliveredEvent): string {
  return JSON.stringify({
    logGroup: e.logGroup,
    logStream: e.logStream,
    id: e.id,
    timestamp: e.timestamp,
    message: e.message,
  });
}

/** Checks the naming rules of the issue on every kinesyslog family. */
function checkNames(families: Map<string, Family>): void {
  for (const f of families.values()) {
    assert(f.help !== "", `${f.name} has HELP`);
    if (!f.name.startsWith("kinesyslog_")) continue;
    assert(/^kinesyslog_[a-z0-9_]+$/.test(f.name), f.name);
    assertEquals(
      f.name.endsWith("_total"),
      f.type === "COUNTER",
      `${f.name}: counters, and only counters, end in _total`,
    );
    for (const s of f.samples) {
      assert(!("source" in s.labels) && !("peer" in s.labels), `${f.name}: no per-source labels`);
    }
  }
}

Deno.test("metrics, read with a Prometheus parser during and after a run, account for every message and record", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const endpoint = new FirehoseEndpoint("logs").start();
  endpoint.faults.recordFailureRate = 0.5;
  const longLengths = new Set<number>();
  const [udp, tcp, metricsPort] = [freePort(), freePort(), freePort()];
  const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
    "--udp-port",
    String(udp),
    "--tcp-port",
    String(tcp),
    "--tls-port",
    "0",
    "--prometheus-port",
    String(metricsPort),
    "--flush-interval",
    "0.3",
    "--flush-size",
    "4000",
    "--max-message-size",
    "100",
    "--log-format",
    "json",
  ]);
  try {
    const before = await fetchMetrics(metricsPort);
    checkNames(before);
    const info = before.get("kinesyslog_build_info")!.samples[0]!;
    assertEquals([info.labels.version, info.value], ["2.0.0-dev", 1]);
    assert(sumOf(before, "process_resident_memory_bytes") > 10_000_000, "RSS from Deno");
    assert(sumOf(before, "process_cpu_seconds_total") > 0);

    // 2 TCP connections of 1,000 lines in 20 bursts (so that there are many records to
    // fail), 10 lines over --max-message-size; 100 UDP messages; 5 blank datagrams; a TLS
    // hello on the plain port.
    let tcpBytes = 0;
    const conns = await Promise.all([0, 1].map(() => Deno.connect({ hostname: "127.0.0.1", port: tcp })));
    for (let burst = 0; burst < 20; burst++) {
      await Promise.all(conns.map((conn, c) => {
        let text = "";
        for (let i = burst * 50; i < (burst + 1) * 50; i++) {
          const message = `<13>1 2026-11-24T00:00:00Z host app - - - c=${c} i=${i}` +
            (i % 200 === 7 ? "x".repeat(150) : "");
          tcpBytes += Math.min(message.length, 100);
          if (message.length > 100) longLengths.add(message.length);
          text += message + "\n";
        }
        return writeAll(conn, text);
      }));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    for (const conn of conns) conn.close();
    const during = await fetchMetrics(metricsPort);
    assert(sumOf(during, "kinesyslog_messages_received_total", { listener: `tcp/${tcp}` }) <= 2000);
    const udpMessages = Array.from({ length: 100 }, (_, i) => `<14>udp message ${i}`);
    await sendUdp(udp, [...udpMessages, ..." ".repeat(5).split("").map(() => "   ")]);
    const hello = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
    await sendStream(hello, new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]));

    await eventually("every event delivered", () => endpoint.events().length >= 2100, 60_000);
    await eventually("the spool empty", async () => await scrape(metricsPort, "kinesyslog_spool_files") === 0);
    const m = await fetchMetrics(metricsPort);
    checkNames(m);
    const events = endpoint.events();
    assertEquals(events.length, 2100, "each event delivered once");
    assertEquals(sumOf(m, "kinesyslog_messages_received_total", { listener: `tcp/${tcp}` }), 2000);
    assertEquals(sumOf(m, "kinesyslog_messages_received_total", { listener: `udp/${udp}` }), 100);
    assertEquals(sumOf(m, "kinesyslog_received_bytes_total", { listener: `tcp/${tcp}` }), tcpBytes);
    assertEquals(
      sumOf(m, "kinesyslog_received_bytes_total", { listener: `udp/${udp}` }),
      udpMessages.join("").length,
    );
    assertEquals(sumOf(m, "kinesyslog_frames_truncated_total", { listener: `tcp/${tcp}` }), 10);
    assertEquals(sumOf(m, "kinesyslog_messages_dropped_total", { listener: `udp/${udp}`, reason: "empty" }), 5);
    assertEquals(sumOf(m, "kinesyslog_messages_dropped_total"), 5, "no other drops");
    assertEquals(sumOf(m, "kinesyslog_connections_refused_total", { reason: "tls_on_plain_port" }), 1);
    assertEquals(sumOf(m, "kinesyslog_connections_total", { listener: `tcp/${tcp}` }), 3);
    assertEquals(sumOf(m, "kinesyslog_connections_open"), 0);
    assertEquals(sumOf(m, "kinesyslog_events_spooled_total"), 2100);
    assertEquals(sumOf(m, "kinesyslog_records_spooled_total"), endpoint.records.length);
    assertEquals(sumOf(m, "kinesyslog_records_delivered_total"), endpoint.records.length);
    assertEquals(
      sumOf(m, "kinesyslog_delivered_bytes_total"),
      endpoint.records.reduce((n, r) => n + r.length, 0),
    );
    assertEquals(sumOf(m, "kinesyslog_spooled_bytes_total"), sumOf(m, "kinesyslog_delivered_bytes_total"));
    assert(endpoint.calls.failedRecords > 0, `per-record failures were injected: ${JSON.stringify(endpoint.calls)}`);
    assertEquals(
      sumOf(m, "kinesyslog_records_failed_total", { code: "InternalFailure" }),
      endpoint.calls.failedRecords,
    );
    assertEquals(sumOf(m, "kinesyslog_record_retries_total"), endpoint.calls.failedRecords);
    assertEquals(sumOf(m, "kinesyslog_throttles_total"), 0, "'InternalFailure' is not throttling");
    assertEquals(sumOf(m, "kinesyslog_put_record_batch_calls_total", { result: "ok" }), endpoint.calls.ok);
    const duration = m.get("kinesyslog_put_record_batch_duration_seconds")!.histograms[0]!;
    assertEquals(duration.count, endpoint.calls.ok);
    assertEquals(duration.buckets["+Inf"], endpoint.calls.ok);
    assert(duration.sum > 0 && duration.sum < 60);
    assertEquals(sumOf(m, "kinesyslog_spool_bytes"), 0);
    assertEquals(sumOf(m, "kinesyslog_spool_oldest_record_age_seconds"), 0);
    assertEquals(sumOf(m, "kinesyslog_delivery_failing_seconds"), 0);
    const last = sumOf(m, "kinesyslog_last_delivery_timestamp_seconds");
    assert(Math.abs(Date.now() / 1000 - last) < 60, `last delivery ${last}`);
    assertEquals(sumOf(m, "kinesyslog_records_quarantined_total"), 0);
    assertEquals(sumOf(m, "kinesyslog_timestamp_fallbacks_total"), 100, "the UDP messages carry no timestamp");
  } finally {
    assertEquals(await relay.stop(), 0);
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
  // Every line is one JSON object; the startup line names the listeners, the sink, the spool.
  const logs = relay.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const l of logs) assert(typeof l.time === "string" && typeof l.level === "string" && typeof l.msg === "string");
  const started = logs.find((l) => l.msg === "kinesyslog started")!;
  assertEquals(
    [started.listeners, started.sink, started.spool, started.metrics],
    [`udp/${udp},tcp/${tcp}`, "firehose:logs", `${dir}/spool`, `http://127.0.0.1:${metricsPort}/metrics`],
  );
  assert(
    logs.some((l) => l.msg === "Message truncated to --max-message-size" && longLengths.has(l.bytes as number)),
    "truncation logged",
  );
  assert(logs.some((l) => l.msg === "Message dropped" && l.reason === "empty"), "drop logged");
});

Deno.test("/ready fails while the spool cannot be written and while deliveries fail too long, then recovers", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const endpoint = new FirehoseEndpoint("logs").start();
  const [udp, metricsPort] = [freePort(), freePort()];
  const spool = `${dir}/spool`;
  const relay = await startFirehoseRelay(dir, endpoint.url, spool, [
    "--udp-port",
    String(udp),
    "--tls-port",
    "0",
    "--prometheus-port",
    String(metricsPort),
    "--flush-interval",
    "0.2",
    "--ready-delivery-timeout",
    "1",
  ]);
  const ready = async () => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/ready`);
    return { status: response.status, body: await response.json() as { ready: boolean; problems: string[] } };
  };
  try {
    assertEquals(await ready(), { status: 200, body: { ready: true, problems: [] } });
    assertEquals((await fetch(`http://127.0.0.1:${metricsPort}/health`)).status, 200);

    await t.step("the spool directory made unwritable, with no traffic", async () => {
      if (!(await makeUnwritable(spool, true))) {
        console.warn("SKIPPED: cannot make a directory unwritable here (root without chattr)");
        return;
      }
      try {
        await eventually("/ready to fail", async () => (await ready()).status === 503);
        const { body } = await ready();
        assertEquals(body.ready, false);
        assert(body.problems.length === 1 && body.problems[0]!.startsWith("spool not writable: "), body.problems[0]);
      } finally {
        await makeUnwritable(spool, false);
      }
      await eventually("/ready to recover", async () => (await ready()).status === 200);
      await relay.waitFor(/The spool directory cannot be written; \/ready fails/);
    });

    await t.step("Firehose down longer than --ready-delivery-timeout, then back", async () => {
      await endpoint.stop();
      await sendUdp(udp, ["<13>held while Firehose is down"]);
      await eventually("/ready to fail", async () => (await ready()).status === 503, 20_000);
      const { body } = await ready();
      assert(
        body.problems.some((p) => /^delivery failing for \d+ s \(--ready-delivery-timeout 1\)$/.test(p)),
        JSON.stringify(body),
      );
      const m = await fetchMetrics(metricsPort);
      assert(sumOf(m, "kinesyslog_delivery_failing_seconds") >= 1);
      assert(sumOf(m, "kinesyslog_spool_oldest_record_age_seconds") >= 1);
      assertEquals(sumOf(m, "kinesyslog_spool_files"), 1);
      endpoint.start();
      await eventually("delivered", () => endpoint.events().length === 1, 60_000);
      await eventually("/ready to recover", async () => (await ready()).status === 200);
      assertEquals(await scrape(metricsPort, "kinesyslog_delivery_failing_seconds"), 0);
    });
  } finally {
    assertEquals(await relay.stop(), 0);
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decode prints the events of record files, S3-style concatenations, spool files and stdin", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  try {
    // Records from the relay: two sources' worth, flushed in several records.
    const [udp, tcp] = [freePort(), freePort()];
    const relay = await startLocalRelay(dir, [
      "--udp-port",
      String(udp),
      "--tcp-port",
      String(tcp),
      "--tls-port",
      "0",
      "--flush-interval",
      "0.2",
    ]);
    try {
      for (let burst = 0; burst < 3; burst++) {
        await sendUdp(udp, Array.from({ length: 50 }, (_, i) => `<14>udp ${burst}-${i} "quoted" \\ é`));
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
        await sendStream(conn, Array.from({ length: 50 }, (_, i) => `<13>tcp ${burst}-${i}\n`).join(""));
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
      await eventually("300 events delivered", async () => (await readOutputDir(`${dir}/out`)).length === 300);
    } finally {
      assertEquals(await relay.stop(), 0);
    }
    const files: string[] = [];
    for await (const f of Deno.readDir(`${dir}/out`)) files.push(`${dir}/out/${f.name}`);
    files.sort();
    assert(files.length >= 6, `${files.length} records`);
    const delivered = await readOutputDir(`${dir}/out`);
    const expected = delivered.map(printed).sort();

    await t.step("record files, and a directory of them", async () => {
      const byFile = await runDecode(files);
      assertEquals([byFile.code, byFile.stderr], [0, ""]);
      assertEquals(lines(byFile.stdout).sort(), expected);
      const event = JSON.parse(lines(byFile.stdout).find((l) => l.includes("udp 0-0"))!);
      assertEquals(event.message, '<14>udp 0-0 "quoted" \\ é');
      assertEquals([event.logGroup, event.logStream], [`/kinesyslog/syslog/${udp}`, "127.0.0.1"]);
    });

    const concatenated = new Uint8Array(
      (await Promise.all(files.map((f) => Deno.readFile(f)))).flatMap((bytes) => [...bytes]),
    );
    await t.step("one S3 object of concatenated gzip members, plain and compressed again", async () => {
      await Deno.writeFile(`${dir}/object`, concatenated);
      await Deno.writeFile(`${dir}/object.gz`, gzipSync(concatenated));
      for (const object of ["object", "object.gz"]) {
        const out = await runDecode([`${dir}/${object}`]);
        assertEquals([out.code, out.stderr], [0, ""], object);
        assertEquals(lines(out.stdout).sort(), expected, object);
      }
    });

    await t.step("stdin, with --count", async () => {
      const out = await runDecode(["--count"], concatenated);
      assertEquals(out.code, 0);
      assertEquals(JSON.parse(out.stdout), { files: 1, records: files.length, events: 300, errors: 0 });
    });

    await t.step("a corrupt file is reported and the others still decoded", async () => {
      await Deno.writeFile(`${dir}/truncated.gz`, concatenated.subarray(0, concatenated.length - 10));
      await Deno.writeTextFile(`${dir}/garbage`, "not a record");
      const out = await runDecode([`${dir}/garbage`, `${dir}/truncated.gz`, files[0]!, `${dir}/missing`]);
      assertEquals(out.code, 1);
      const errors = lines(out.stderr);
      assertEquals(errors.length, 3, out.stderr);
      assert(errors[0]!.startsWith(`kinesyslog decode: ${dir}/garbage: record 0: expected '{'`), errors[0]);
      assert(errors[1]!.startsWith(`kinesyslog decode: ${dir}/truncated.gz: record `), errors[1]);
      assert(errors[2]!.startsWith(`kinesyslog decode: ${dir}/missing: `), errors[2]);
      const fromFirst = (await runDecode([files[0]!])).stdout;
      assert(lines(fromFirst).length > 0);
      assert(out.stdout.endsWith(fromFirst), "the good file after the corrupt ones is decoded");
    });

    await t.step("the spool of a relay that could not deliver", async () => {
      const spool = `${dir}/spool2`;
      const udp2 = freePort();
      const down = await startFirehoseRelay(dir, "http://127.0.0.1:9", spool, [
        "--udp-port",
        String(udp2),
        "--tls-port",
        "0",
        "--flush-interval",
        "0.2",
      ]);
      try {
        await sendUdp(udp2, ["<13>waiting in the spool"]);
        await eventually("spooled", async () => (await runDecode(["--count", spool])).stdout.includes('"events":1'));
      } finally {
        await down.stop("SIGKILL");
      }
      const out = await runDecode([spool]);
      assertEquals(out.code, 0);
      const [event] = lines(out.stdout).map((l) => JSON.parse(l));
      assertEquals([event.logGroup, event.message], [`/kinesyslog/syslog/${udp2}`, "<13>waiting in the spool"]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("install writes a unit that systemd-analyze verify accepts, and keeps an edited override", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-install-" });
  try {
    // `install` names the binary it runs as; under `deno run` it needs --exec.
    const exec = `${dir}/bin/kinesyslog`;
    await Deno.mkdir(`${dir}/bin`);
    await Deno.writeTextFile(exec, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    await Deno.mkdir(`${dir}/system`);
    const run = (args: string[]) => runMain(["install", "--system-dir", `${dir}/system`, ...args], [dir]);

    await t.step("without the compiled binary or --exec, a clear error", async () => {
      const out = await run([]);
      assertEquals(out.code, 2);
      assert(out.stderr.includes("run `deno task compile`"), out.stderr);
    });

    await t.step("the unit and the override", async () => {
      const out = await run(["--exec", exec, "--user", "kinesyslog"]);
      assertEquals([out.code, out.stderr], [0, ""]);
      assert(out.stdout.includes("systemctl enable --now kinesyslog"), out.stdout);
      const unit = await Deno.readTextFile(`${dir}/system/kinesyslog.service`);
      for (
        const line of [
          `ExecStart=${exec} listen`,
          "User=kinesyslog",
          "After=network-online.target",
          "Restart=on-failure",
          "StateDirectory=kinesyslog",
          "Environment=KINESYSLOG_SPOOL_DIR=%S/kinesyslog/spool",
          "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        ]
      ) assert(unit.split("\n").includes(line), line);
      // Every variable `listen --help` names is in the override, commented.
      const help = await runMain(["listen", "--help"], [dir]);
      const variables = [...new Set(help.stdout.match(/KINESYSLOG_[A-Z_]+/g))].sort();
      assert(variables.length > 30, `${variables.length} variables in --help`);
      const override = await Deno.readTextFile(`${dir}/system/kinesyslog.service.d/override.conf`);
      const listed = [...override.matchAll(/^#Environment="?(KINESYSLOG_[A-Z_]+)=/gm)].map((m) => m[1]).sort();
      assertEquals(listed, variables);
      assert(override.includes("#Environment=KINESYSLOG_FLUSH_INTERVAL=60\n"));
    });

    await t.step("systemd-analyze verify accepts the unit, with every override setting turned on", async () => {
      const analyze = await new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null", stderr: "null" })
        .output().catch(() => undefined);
      if (analyze?.success !== true) {
        console.warn("SKIPPED: systemd-analyze is not installed (Debian: apt-get install systemd)");
        return;
      }
      const overridePath = `${dir}/system/kinesyslog.service.d/override.conf`;
      const override = await Deno.readTextFile(overridePath);
      await Deno.writeTextFile(overridePath, override.replace(/^#Environment=/gm, "Environment="));
      const verify = await new Deno.Command("systemd-analyze", {
        args: ["verify", "kinesyslog.service"],
        cwd: `${dir}/system`,
        env: { SYSTEMD_UNIT_PATH: `${dir}/system:` },
      }).output();
      const stderr = new TextDecoder().decode(verify.stderr);
      assertEquals([verify.code, stderr], [0, ""], "no error and no warning");
      await Deno.writeTextFile(overridePath, override);
    });

    await t.step("installing again rewrites the unit and keeps the edited override", async () => {
      const overridePath = `${dir}/system/kinesyslog.service.d/override.conf`;
      await Deno.writeTextFile(overridePath, "[Service]\nEnvironment=KINESYSLOG_STREAM=logs\n");
      const out = await run(["--exec", exec]);
      assertEquals(out.code, 0);
      assert(out.stdout.includes(`Kept ${overridePath}`), out.stdout);
      assertEquals(await Deno.readTextFile(overridePath), "[Service]\nEnvironment=KINESYSLOG_STREAM=logs\n");
      const unit = await Deno.readTextFile(`${dir}/system/kinesyslog.service`);
      assert(unit.includes("\nDynamicUser=yes\n") && !unit.includes("User=kinesyslog"));
    });

    await t.step("bad input: a relative --exec, a bad user name, a missing directory", async () => {
      assertEquals((await run(["--exec", "kinesyslog"])).code, 2);
      assertEquals((await run(["--exec", exec, "--user", "Bad User"])).code, 2);
      const missing = await runMain(["install", "--system-dir", `${dir}/nope`, "--exec", exec], [dir]);
      assertEquals(missing.code, 1);
      assert(missing.stderr.startsWith(`kinesyslog: Cannot install into '${dir}/nope'`), missing.stderr);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
