/**
 * What ships beside the relay: the Prometheus alerting rules and the Grafana dashboard in
 * `contrib/` use only metrics the relay exports, and their PromQL is valid (`promtool`, from
 * Debian's `prometheus` package, installed by `.ci/run`; those tests are skipped where it is
 * missing); the Athena tables of docs/records.md name the fields the relay writes.
 */
import { assert, assertEquals } from "./assert.ts";
import { Metrics } from "../src/metrics/metrics.ts";
import { buildRecords } from "../src/batch/record_builder.ts";
import { EventBuffer, type EventFormat } from "../src/batch/event_buffer.ts";
import { RECORD_FORMATS } from "../src/batch/record_formats.ts";
import { TRANSPORTS } from "../src/batch/event_runs.ts";
import { PlainDeflater } from "../src/batch/plain_deflater.ts";
import { type Family, fetchMetrics } from "./prometheus.ts";
import { withEndpoint } from "./fault_helpers.ts";
import { freePort, makeCertificate, startFirehoseRelay, startLocalRelay } from "./harness.ts";

const CONTRIB = new URL("../contrib/", import.meta.url).pathname;
const ALERTS = `${CONTRIB}prometheus/alerts.yml`;
const DASHBOARD = `${CONTRIB}grafana/kinesyslog.json`;

const PROMTOOL = (() => {
  try {
    return new Deno.Command("promtool", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
})();
if (!PROMTOOL) console.log("promtool is not installed (Debian: prometheus): the promtool checks are skipped");

/** Every PromQL expression of the dashboard, by panel. */
function dashboardExpressions(): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(Deno.readTextFileSync(DASHBOARD)) as {
    panels: { title: string; targets: { expr: string }[] }[];
    templating: { list: { query?: unknown }[] };
  };
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
  for (const v of dashboard.templating.list) {
    const query = (v.query as { query?: string } | undefined)?.query;
    // Grafana's `label_values(<selector>, <label>)` asks Prometheus for the selector's series.
    if (query !== undefined) {
      exprs.push({ panel: "variable", expr: query.replace(/^label_values\((.+), *\w+\)$/, "$1") });
    }
  }
  return exprs;
}

/** The metric names in `text`: the relay's own and the process metrics it exports. */
function metricNames(text: string): Set<string> {
  return new Set(text.match(/\b(?:kinesyslog|process)_[a-z0-9_]+\b/g) ?? []);
}

/** Every name the relay's registry renders, histogram series included. */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await new Metrics().registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === "histogram") {
      for (const s of ["_bucket", "_sum", "_count"]) names.add(metric.name + s);
    }
  }
  return names;
}

Deno.test("the alerting rules and the dashboard use only metrics the relay exports", async () => {
  const exported = await exportedNames();
  const alerts = metricNames(await Deno.readTextFile(ALERTS));
  const dashboard = metricNames(dashboardExpressions().map((e) => e.expr).join("\n"));
  assert(alerts.size >= 10 && dashboard.size >= 20, `${alerts.size} and ${dashboard.size} metrics used`);
  for (const [file, used] of [["alerts.yml", alerts], ["kinesyslog.json", dashboard]] as const) {
    const unknown = [...used].filter((name) => !exported.has(name));
    assertEquals(unknown, [], `${file} uses metrics the relay does not export`);
  }
  // Names the relay renders only for labels it has (counters at 0): spelled as exported.
  assert(exported.has("kinesyslog_events_delivered_total") && exported.has("kinesyslog_spool_limit_bytes"));
});

async function promtool(args: string[], cwd = CONTRIB): Promise<string> {
  const out = await new Deno.Command("promtool", { args, cwd }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert(out.success, `promtool ${args.join(" ")}:\n${text}`);
  return text;
}

Deno.test({
  name: "promtool: the alerting rules are valid and fire on the first drop, as exported from 0",
  ignore: !PROMTOOL,
  fn: async () => {
    assert((await promtool(["check", "rules", ALERTS])).includes("SUCCESS"));
    assert((await promtool(["test", "rules", "alerts_test.yml"], `${CONTRIB}prometheus`)).includes("SUCCESS"));
  },
});

Deno.test({
  name: "promtool: every query of the dashboard is valid PromQL",
  ignore: !PROMTOOL,
  fn: async () => {
    // Grafana's variables as Prometheus would see them once substituted.
    const rules = dashboardExpressions().map(({ expr }, i) =>
      `      - record: dashboard:query_${i}\n        expr: ${
        JSON.stringify(expr.replaceAll("$__rate_interval", "5m").replaceAll("$instance", ".*"))
      }`
    );
    const dir = await Deno.makeTempDir({ prefix: "kinesyslog-contrib-" });
    try {
      await Deno.writeTextFile(
        `${dir}/dashboard.yml`,
        `groups:\n  - name: dashboard\n    rules:\n${rules.join("\n")}\n`,
      );
      assert((await promtool(["check", "rules", `${dir}/dashboard.yml`])).includes(`${rules.length} rules found`));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The column names of docs/records.md's `CREATE EXTERNAL TABLE name (...)`, nested struct fields as `column.field`. */
function athenaColumns(table: string): string[] {
  const readme = Deno.readTextFileSync(new URL("../docs/records.md", import.meta.url));
  const ddl = new RegExp(`CREATE EXTERNAL TABLE ${table} \\(\\n([\\s\\S]*?)\\n\\)`).exec(readme)?.[1];
  assert(ddl !== undefined, `docs/records.md has no table ${table}`);
  const columns: string[] = [];
  for (const line of ddl.split("\n")) {
    const m = /^\s*`?(\w+)`?\s+(.*?),?$/.exec(line);
    if (m === null) continue;
    columns.push(m[1]!);
    for (const field of m[2]!.matchAll(/struct<(.*)>/g)) {
      for (const part of field[1]!.split(",")) columns.push(`${m[1]}.${part.trim().split(/[`:\s]+/).find((w) => w)}`);
    }
  }
  return columns.sort();
}

/** The keys of what the relay writes for `messages` in `format` (nested CWL events as `logEvents.key`). */
async function writtenKeys(format: "cwl" | "ndjson", messages: [EventFormat, string][]): Promise<string[]> {
  const keys = new Set<string>();
  for (const [kind, message] of messages) {
    const buffer = new EventBuffer();
    buffer.append(new TextEncoder().encode(message), 1_700_000_000_000);
    const built = await buildRecords(
      { owner: "123456789012", logGroup: `/kinesyslog/${kind}/514`, logStream: "10.0.0.1", instance: "0".repeat(20) },
      { ...buffer.take(), format: kind, origins: [0, 1, TRANSPORTS.indexOf("udp")] },
      { deflater: () => new PlainDeflater(), format: RECORD_FORMATS[format] },
    );
    for (const line of new TextDecoder().decode(built.records[0]!.data).split("\n")) {
      if (line === "") continue;
      const value = JSON.parse(line) as Record<string, unknown>;
      for (const key of Object.keys(value)) keys.add(key);
      for (const e of (value.logEvents as Record<string, unknown>[] | undefined) ?? []) {
        for (const key of Object.keys(e)) keys.add(`logEvents.${key}`);
      }
    }
  }
  return [...keys].sort();
}

Deno.test("the Athena tables of docs/records.md have a column for every field the relay writes, and no other", async () => {
  const messages: [EventFormat, string][] = [
    ["syslog", '<165>1 2003-10-11T22:14:15.003Z h app 42 ID47 [x@1 k="v"] msg'],
    ["syslog", "<13>Nov 30 10:00:00 host app[7]: msg"],
    ["gelf", JSON.stringify({ version: "1.1", host: "h", short_message: "m", level: 3 })],
  ];
  assertEquals(athenaColumns("kinesyslog_events"), await writtenKeys("ndjson", messages));
  assertEquals(athenaColumns("kinesyslog_records"), await writtenKeys("cwl", messages));
});

/** The names of the families a scrape holds at least one series of. */
function seriesNames(families: Map<string, Family>): Set<string> {
  return new Set([...families.values()].filter((f) => f.samples.length + f.histograms.length > 0).map((f) => f.name));
}

/**
 * The metrics alerts.yml says are absent until the relay has what they count, by what it
 * needs: its header's "Absent ..." lines, as `- kinesyslog_x_total: without a TLS listener`.
 */
function claimedAbsent(text: string): Map<string, string> {
  const claims = new Map<string, string>();
  for (const m of text.matchAll(/^# +- (kinesyslog_[a-z0-9_]+): (.+)$/gm)) claims.set(m[1]!, m[2]!);
  return claims;
}

Deno.test("alerts.yml claims only what a scrape shows: its series at 0 from the start, but those it says are absent", async () => {
  const text = await Deno.readTextFile(ALERTS);
  const used = [...metricNames(text)].filter((name) => name.startsWith("kinesyslog_"));
  const absent = claimedAbsent(text);
  // Two listener configurations the tests run: local delivery with UDP and TCP, no TLS; and
  // Firehose with TLS, RELP and GELF over UDP.
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-contrib-" });
  const scrapes: { name: string; tls: boolean; names: Set<string> }[] = [];
  try {
    const plainPort = freePort();
    const plain = await startLocalRelay(dir, [
      ...["--udp-port", String(freePort()), "--tcp-port", String(freePort()), "--tls-port", "0"],
      ...["--prometheus-port", String(plainPort)],
    ]);
    try {
      scrapes.push({
        name: "output-dir, UDP and TCP",
        tls: false,
        names: seriesNames(await fetchMetrics(plainPort)),
      });
    } finally {
      await plain.stop();
    }
    await withEndpoint(async (edir, endpoint) => {
      const { cert, key } = await makeCertificate(edir);
      const port = freePort();
      const relay = await startFirehoseRelay(edir, endpoint.url, `${edir}/spool`, [
        ...["--tls-port", String(freePort()), "--cert", cert, "--key", key, "--relp-port", String(freePort())],
        ...["--gelf-udp-port", String(freePort()), "--prometheus-port", String(port)],
      ]);
      try {
        scrapes.push({
          name: "Firehose, TLS, RELP, GELF UDP",
          tls: true,
          names: seriesNames(await fetchMetrics(port)),
        });
      } finally {
        await relay.stop();
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const wrong: string[] = [];
  for (const name of used) {
    const claim = absent.get(name);
    for (const scrape of scrapes) {
      const expected = claim === undefined || (claim.includes("TLS") && scrape.tls);
      if (scrape.names.has(name) !== expected) wrong.push(`${name} ${expected ? "absent" : "present"}: ${scrape.name}`);
    }
  }
  assertEquals(wrong, [], "alerts.yml's claims against the scrapes");
});
