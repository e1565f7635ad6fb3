/**
 * What the relay checks before it says it started, and what it says when a check fails:
 * `main.ts listen` as a subprocess against the local Firehose endpoint.
 */
import { assert, assertEquals } from "./assert.ts";
import { withEndpoint } from "./fault_helpers.ts";
import { TEST_ACCOUNT_ID } from "./firehose_endpoint.ts";
import {
  awsTestEnv,
  eventually,
  freePort,
  makeUnwritable,
  RelayProcess,
  runMain,
  scrape,
  sendTcp,
  startFirehoseRelay,
} from "./harness.ts";
import { fetchMetrics } from "./prometheus.ts";

Deno.test("a --stream that does not exist stops the start, saying so; --no-stream-check skips the check", async () => {
  await withEndpoint(async (dir, endpoint) => {
    const args = ["--stream", "nosuch-stream", "--tcp-port", String(freePort()), "--tls-port", "0"];
    const relay = RelayProcess.spawn([
      ...["listen", "--stream", "logs", "--endpoint-url", endpoint.url, "--spool-dir", `${dir}/spool`],
      ...["--address", "127.0.0.1", ...args],
    ], { dirs: [dir], env: awsTestEnv(endpoint.url) });
    assertEquals(await relay.exited(), 1);
    const said = relay.lines.join("\n");
    assert(said.includes("Delivery stream 'nosuch-stream' does not exist"), said);
    assert(said.includes("--no-stream-check"), said);
    assert(!said.includes("kinesyslog started"), said);
    assert(endpoint.describes.includes("nosuch-stream") && endpoint.describes.includes("logs"));

    const skipped = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [...args, "--no-stream-check"]);
    try {
      await skipped.waitFor(/kinesyslog started/);
    } finally {
      assertEquals(await skipped.stop(), 0);
    }
    assertEquals(endpoint.describes.filter((n) => n === "nosuch-stream").length, 1, "not asked again");
  });
});

Deno.test("credentials that may not describe the stream: a warning, then delivery as usual", async () => {
  await withEndpoint(async (dir, endpoint) => {
    endpoint.faults.describeDenied = true;
    const tcp = freePort();
    const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      ...["--tcp-port", String(tcp), "--tls-port", "0", "--flush-interval", "0.2"],
    ]);
    try {
      await relay.waitFor(/kinesyslog started/);
      assert(relay.lines.some((l) => l.includes("May not describe the delivery stream") && l.includes("AccessDenied")));
      await sendTcp(tcp, "<13>after the warning\n");
      await eventually("delivered", () => endpoint.events().length === 1);
      assertEquals(endpoint.events()[0]!.owner, TEST_ACCOUNT_ID);
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  });
});

Deno.test("STS out of reach: records carry owner 000000000000 and the warning says why", async () => {
  await withEndpoint(async (dir, endpoint) => {
    const tcp = freePort();
    // STS at a port where nothing listens (as a private VPC without an STS endpoint).
    const env = { ...awsTestEnv(endpoint.url), AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${freePort()}` };
    const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      ...["--tcp-port", String(tcp), "--tls-port", "0", "--flush-interval", "0.2"],
    ], env);
    try {
      const warning = await relay.waitFor(/Cannot get the AWS account id from STS/);
      assert(warning.includes("ECONNREFUSED"), warning);
      assert(warning.includes("AWS_ENDPOINT_URL_STS"), warning);
      await sendTcp(tcp, "<13>owner unknown\n");
      await eventually("delivered", () => endpoint.events().length === 1);
      assertEquals(endpoint.events()[0]!.owner, "000000000000");
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  });
});

Deno.test("network errors are counted by what happened (ECONNREFUSED), not as Error", async () => {
  await withEndpoint(async (dir, endpoint) => {
    const [tcp, metricsPort] = [freePort(), freePort()];
    const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      ...["--tcp-port", String(tcp), "--tls-port", "0", "--flush-interval", "0.2"],
      ...["--prometheus-port", String(metricsPort)],
    ]);
    try {
      await relay.waitFor(/kinesyslog started/);
      await endpoint.stop();
      await sendTcp(tcp, "<13>while Firehose is unreachable\n");
      await eventually(
        "the refused call counted",
        async () =>
          await scrape(metricsPort, "kinesyslog_put_record_batch_calls_total", { result: "ECONNREFUSED" }) > 0,
      );
      assertEquals(await scrape(metricsPort, "kinesyslog_put_record_batch_calls_total", { result: "Error" }), 0);
      endpoint.start();
      await eventually("delivered once back", () => endpoint.events().length === 1, 45_000);
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  });
});

Deno.test("every series with labels known at start is exported at 0 before any traffic", async () => {
  await withEndpoint(async (dir, endpoint) => {
    const [udp, tcp, gelf, metricsPort] = [freePort(), freePort(), freePort(), freePort()];
    const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      ...["--udp-port", String(udp), "--tcp-port", String(tcp), "--gelf-udp-port", String(gelf), "--tls-port", "0"],
      ...["--flush-interval", "0.2", "--prometheus-port", String(metricsPort)],
    ]);
    try {
      const families = await fetchMetrics(metricsPort);
      /** The value of the series with exactly these labels; undefined when it is not exported. */
      const value = (name: string, labels: Record<string, string>) =>
        families.get(name)?.samples.find((s) =>
          Object.keys(s.labels).length === Object.keys(labels).length &&
          Object.entries(labels).every(([k, v]) => s.labels[k] === v)
        )?.value;
      const expected: [string, Record<string, string>][] = [
        ["kinesyslog_messages_dropped_total", { listener: `udp/${udp}`, reason: "spool_full" }],
        ["kinesyslog_messages_dropped_total", { listener: `tcp/${tcp}`, reason: "unfinished" }],
        ["kinesyslog_messages_dropped_total", { listener: `gelf-udp/${gelf}`, reason: "decompress_error" }],
        ["kinesyslog_messages_dropped_total", { listener: "all", reason: "oversize_record" }],
        ["kinesyslog_messages_received_total", { listener: `tcp/${tcp}` }],
        ["kinesyslog_udp_kernel_drops_total", { listener: `udp/${udp}` }],
        ["kinesyslog_connections_refused_total", { listener: `tcp/${tcp}`, reason: "connection_limit" }],
        ["kinesyslog_connection_errors_total", { listener: `tcp/${tcp}`, reason: "evicted" }],
        ["kinesyslog_batches_flushed_total", { reason: "open_buffers" }],
        ["kinesyslog_foreign_files_total", { reason: "symlink" }],
        ["kinesyslog_corrupt_files_total", { kind: "spool" }],
        ["kinesyslog_records_delivered_total", { stream: "logs" }],
        ["kinesyslog_events_delivered_total", { stream: "logs" }],
        ["kinesyslog_throttles_total", { stream: "logs" }],
        ["kinesyslog_put_record_batch_calls_total", { result: "ok", stream: "logs" }],
        ["kinesyslog_spool_delete_errors_total", {}],
      ];
      for (const [name, labels] of expected) {
        assertEquals(value(name, labels), 0, `${name}${JSON.stringify(labels)}`);
      }
      assertEquals(
        value("kinesyslog_messages_dropped_total", { listener: `udp/${udp}`, reason: "unfinished" }),
        undefined,
      );

      await sendTcp(tcp, Array.from({ length: 250 }, (_, i) => `<13>event ${i}\n`).join(""));
      await eventually("delivered", () => endpoint.events().length === 250);
      await eventually(
        "events delivered counted",
        async () => await scrape(metricsPort, "kinesyslog_events_delivered_total", { stream: "logs" }) === 250,
      );
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  });
});

/** `/ready` of the relay whose metrics port is `port`. */
async function ready(port: number): Promise<{ ready: boolean; problems: string[] }> {
  const response = await fetch(`http://127.0.0.1:${port}/ready`);
  return await response.json() as { ready: boolean; problems: string[] };
}

Deno.test("an --output-dir that cannot be written stops the start, naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-start-" });
  try {
    const out = `${dir}/out`;
    await Deno.mkdir(out);
    if (!(await makeUnwritable(out, true))) {
      console.warn("SKIPPED: cannot make a directory unwritable here (root without chattr)");
      return;
    }
    try {
      const relay = RelayProcess.spawn([
        ...["listen", "--output-dir", out, "--spool-dir", `${dir}/spool`, "--address", "127.0.0.1"],
        ...["--tcp-port", String(freePort()), "--tls-port", "0"],
      ], { dirs: [dir] });
      assertEquals(await relay.exited(), 1);
      const said = relay.lines.join("\n");
      assert(said.startsWith(`kinesyslog: Cannot use --output-dir '${out}': `), said);
      assert(!said.includes("kinesyslog started"), said);
    } finally {
      await makeUnwritable(out, false);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("no AWS credentials: one line naming the providers tried, /ready false until credentials come", async () => {
  await withEndpoint(async (dir, endpoint) => {
    const [tcp, metricsPort] = [freePort(), freePort()];
    // Nothing in the environment or in files; a container agent that does not answer yet.
    endpoint.credentialsServed = false;
    const env = {
      ...awsTestEnv(endpoint.url),
      AWS_ACCESS_KEY_ID: "",
      AWS_SECRET_ACCESS_KEY: "",
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${endpoint.url}/credentials`,
    };
    const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      ...["--tcp-port", String(tcp), "--tls-port", "0", "--flush-interval", "0.2"],
      ...["--prometheus-port", String(metricsPort)],
    ], env);
    try {
      const said = relay.lines.filter((l) => l.includes("No AWS credentials from any provider"));
      assertEquals(said.length, 1, relay.lines.join("\n"));
      assert(said[0]!.includes("environment (AWS_ACCESS_KEY_ID: not set)"), said[0]);
      assert(said[0]!.includes("container credentials"), said[0]);
      const before = await ready(metricsPort);
      assertEquals(before.ready, false);
      assert(before.problems.some((p) => p.startsWith("no AWS credentials: ")), JSON.stringify(before));
      await sendTcp(tcp, "<13>1 - h app - - - held until credentials come\n");
      endpoint.credentialsServed = true;
      await eventually("/ready true once credentials resolve", async () => (await ready(metricsPort)).ready, 20_000);
      await relay.waitFor(/AWS credentials resolved/);
      await eventually("delivered", () => endpoint.events().length === 1, 30_000);
      assertEquals(relay.lines.filter((l) => l.includes("No AWS credentials from any provider")).length, 1);
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  });
});

Deno.test("/ready is false while the sink refuses every record for longer than a flush interval, with the reason", async () => {
  await withEndpoint(async (dir, endpoint) => {
    const [tcp, metricsPort] = [freePort(), freePort()];
    const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      ...["--tcp-port", String(tcp), "--tls-port", "0", "--flush-interval", "1"],
      ...["--prometheus-port", String(metricsPort)],
    ]);
    try {
      assertEquals(await ready(metricsPort), { ready: true, problems: [] });
      endpoint.faults.putDenied = true;
      await sendTcp(tcp, "<13>1 - h app - - - refused by a role without PutRecordBatch\n");
      await eventually("/ready false", async () => !(await ready(metricsPort)).ready, 20_000);
      const { problems } = await ready(metricsPort);
      assert(
        problems.length === 1 &&
          /^the sink refuses every record \(for \d+ s\): AccessDeniedException/.test(problems[0]!),
        JSON.stringify(problems),
      );
      endpoint.faults.putDenied = false;
      await eventually("delivered", () => endpoint.events().length === 1, 30_000);
      assertEquals(await ready(metricsPort), { ready: true, problems: [] });
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  });
});

Deno.test("deno run without the permissions says so in one line, exit 2, not a stack trace", async () => {
  const run = await runMain(["listen", "--output-dir", "/tmp/nowhere", "--udp-port", "5514"], [], { permissions: [] });
  assertEquals(run.code, 2);
  assert(/^kinesyslog: Requires env access to "KINESYSLOG_\w+": run the compiled binary/.test(run.stderr), run.stderr);
  assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
});
