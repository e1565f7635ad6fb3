/**
 * Every bounded option of the option table at its edges, through the real entry point: the
 * relay started with each at its largest value (flags), then each at its smallest (variables),
 * delivers every message exactly once to a Firehose endpoint that answers in 20 ms; a value
 * past a bound stops the start with exit 2 naming the option. The in-process test of every
 * edge, past-bound ones included, is `src/config/listen_options_test.ts`.
 */
import { assertEquals } from "./assert.ts";
import { delivered, lines, withEndpoint } from "./fault_helpers.ts";
import { awsTestEnv, eventually, freePort, runMain, scrape, sendTcp, startFirehoseRelay } from "./harness.ts";
import { envName, LISTEN_OPTIONS } from "../src/config/listen_options.ts";
import { openFileLimit } from "../src/open_file_limit.ts";

/** Options the test sets itself (ports, where to deliver), or whose value is bounded by the machine. */
const SET_BY_TEST = new Set(["tcp-port", "udp-port", "tls-port", "port", "prometheus-port", "proxy-protocol"]);
/** Options whose largest value is also bounded by the descriptors the process may open. */
const DESCRIPTORS = new Set(["max-connections", "metrics-max-connections"]);

/** Every bounded option at its smallest or largest accepted value, as `[name, value]`. */
function edgeValues(edge: "min" | "max"): [string, string][] {
  const limit = openFileLimit();
  const values: [string, string][] = [];
  for (const spec of LISTEN_OPTIONS) {
    const edges = spec.value?.edges;
    if (edges === undefined || SET_BY_TEST.has(spec.name)) continue;
    let value = edges[edge];
    if (edge === "max" && DESCRIPTORS.has(spec.name) && limit !== undefined) {
      value = String(Math.min(Number(value), limit));
    }
    values.push([spec.name, value]);
  }
  return values;
}

/** Starts a relay on the endpoint with `args` and `env`, sends 200 short lines over TCP; resolves once all arrived. */
async function deliverAt(args: string[], env: Record<string, string>, untilShutdown: boolean): Promise<void> {
  await withEndpoint(async (dir, endpoint) => {
    endpoint.faults.delayNextCalls = 1_000_000;
    endpoint.faults.delayMs = 20;
    const [tcp, metricsPort] = [freePort(), freePort()];
    const relay = await startFirehoseRelay(
      dir,
      endpoint.url,
      `${dir}/spool`,
      ["--tcp-port", String(tcp), "--tls-port", "0", "--prometheus-port", String(metricsPort), ...args],
      { ...awsTestEnv(endpoint.url), ...env },
    );
    let code: number | undefined;
    try {
      // Short lines: within the smallest --max-message-size (64 bytes).
      await sendTcp(tcp, lines("b", 0, 200));
      // Received before the stop: a connection the relay has not accepted yet when it stops is
      // refused with the listener (CI saw the stop come first on a busy machine).
      await eventually("every message received", async () => {
        return await scrape(metricsPort, "kinesyslog_messages_received_total") === 200;
      });
      // With the largest --flush-size and --flush-interval, records are made at shutdown.
      if (untilShutdown) code = await relay.stop();
      await eventually("every message delivered", () => delivered(endpoint, "b").size === 200, 60_000);
      const counts = [...delivered(endpoint, "b").values()];
      assertEquals(counts.filter((n) => n !== 1).length, 0, "each message once");
      // A delay past 2^31 - 1 ms reaching a timer warns so, and fires at once.
      assertEquals(relay.lines.filter((l) => /TimeoutOverflow/.test(l)), []);
    } finally {
      code ??= await relay.stop();
      assertEquals(code, 0, relay.lines.join("\n"));
    }
  });
}

Deno.test("the relay starts and delivers each message once with every bounded option at its largest value", async () => {
  const args = edgeValues("max").flatMap(([name, value]) => [`--${name}`, value]);
  await deliverAt(args, {}, true);
});

Deno.test("the relay starts and delivers each message once with every bounded option at its smallest value, from variables", async () => {
  const env = Object.fromEntries(edgeValues("min").map(([name, value]) => [envName({ name }), value]));
  await deliverAt([], env, false);
});

Deno.test("a value past its bound stops the start with exit 2, naming the flag or the variable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-bounds-" });
  try {
    const base = ["listen", "--output-dir", `${dir}/out`, "--spool-dir", `${dir}/spool`, "--tcp-port", "5999"];
    const flag = await runMain([...base, "--request-timeout", "99999999999999"], [dir]);
    assertEquals(flag.code, 2);
    assertEquals(
      flag.stderr,
      "kinesyslog: Invalid --request-timeout '99999999999999': give a number of seconds from 1 to 600\n",
    );
    const env = await runMain(base, [dir], { env: { KINESYSLOG_FLUSH_SIZE: "65M" } });
    assertEquals(env.code, 2);
    assertEquals(
      env.stderr,
      "kinesyslog: Invalid KINESYSLOG_FLUSH_SIZE (--flush-size) '65M': give a size from 1 byte to 64 MiB, " +
        "with a unit if you like (64K, 512M, 10G)\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
