import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { ConfigFileError, MAX_CONFIG_FILE_BYTES, parseConfigFile, readConfigFile } from "./config_file.ts";
import { ConfigError } from "./config_error.ts";
import { parseCli } from "../cli.ts";

/** The values the flags' defaults give a sink, as `listen` would pass them. */
const DEFAULTS = { recordFormat: "cwl", recordCompression: "gzip", compressionLevel: 6, groupPrefix: "/kinesyslog" };

const VALID = `
sources:
  - { name: firewalls, transport: udp, port: 514, time_zone: Europe/Berlin, max_message_size: 8K }
  - { protocol: relp, transport: tcp, port: 2514, address: 127.0.0.1 }
  - protocol: gelf
    transport: tcp
    port: 12201
    proxy_protocol: true
    max_connections: 100
    max_connections_per_source: 4
    idle_timeout: 30
    handshake_timeout: 2
sinks:
  security: { streams: [sec-a, sec-b] }
  archive: { output_dir: /var/lib/k/out, record_format: ndjson, record_compression: none }
  apps:
    kinesis_streams: [app-logs]
    partition_key: source
    record_format: kpl
    role_arn: arn:aws:iam::123456789012:role/apps
    external_id: apps-1
routes:
  - name: noise
    match: { source: 10.9.0.0/16, severity: debug }
    drop: true
  - name: fw
    match: { listener: firewalls, facility: [auth, 10], severity: warning }
    sinks: security
    final: true
  - { name: sampled, match: { app_name: metrics, message: "^cpu " }, sample: 10, sinks: [archive] }
  - { name: capped, match: { hostname: chatty }, rate_limit: { messages: 50, burst: 100 }, sinks: [archive] }
default_sink: archive
spool: { dir: /var/lib/k, max_size: 10G }
journal: { enabled: false }
batching: { flush_interval: 5 }
`;

Deno.test("parseConfigFile() reads sources, sinks, routes and options by the option table", () => {
  const file = parseConfigFile("k.yaml", VALID);
  assertEquals(Object.fromEntries(file.options), {
    spoolDir: "/var/lib/k",
    spoolMaxSize: 10 * 1024 ** 3,
    journal: false,
    flushInterval: 5,
  });
  const pipeline = file.pipeline(DEFAULTS, new Set());
  assertEquals(pipeline.sources.map((s) => [s.name, s.label, s.proxy, s.timeZone, s.settings]), [
    ["firewalls", "udp/514", false, "Europe/Berlin", { maxMessageSize: 8_192 }],
    ["relp/2514", "relp/2514", false, undefined, { address: "127.0.0.1" }],
    ["gelf-tcp/12201", "gelf-tcp/12201", true, undefined, {
      maxConnections: 100,
      maxConnectionsPerSource: 4,
      idleTimeout: 30,
      handshakeTimeout: 2,
    }],
  ]);
  assertEquals(pipeline.sinks, [
    {
      name: "security",
      streams: ["sec-a", "sec-b"],
      service: "firehose",
      outputDir: undefined,
      partitionKey: "random",
      role: undefined,
      recordFormat: "cwl",
      recordCompression: "gzip",
      compressionLevel: 6,
      groupPrefix: "/kinesyslog",
    },
    {
      name: "archive",
      streams: [],
      service: "firehose",
      outputDir: "/var/lib/k/out",
      partitionKey: "random",
      role: undefined,
      recordFormat: "ndjson",
      recordCompression: "none",
      compressionLevel: 6,
      groupPrefix: "/kinesyslog",
    },
    {
      name: "apps",
      streams: ["app-logs"],
      service: "kinesis",
      outputDir: undefined,
      partitionKey: "source",
      role: { arn: "arn:aws:iam::123456789012:role/apps", externalId: "apps-1", sessionName: "kinesyslog" },
      recordFormat: "kpl",
      recordCompression: "gzip",
      compressionLevel: 6,
      groupPrefix: "/kinesyslog",
    },
  ]);
  assertEquals(pipeline.routes.map((r) => [r.name, r.match, r.sinks, r.drop, r.final, r.sample, r.rateLimit]), [
    ["noise", { sources: ["10.9.0.0/16"], severity: 7 }, [], true, false, 1, undefined],
    ["fw", { listeners: ["firewalls"], facilities: [4, 10], severity: 4 }, ["security"], false, true, 1, undefined],
    ["sampled", { appNames: ["metrics"], message: "^cpu " }, ["archive"], false, false, 10, undefined],
    ["capped", { hostnames: ["chatty"] }, ["archive"], false, false, 1, { messages: 50, burst: 100 }],
  ]);
  assertEquals(pipeline.defaultSink, "archive");
});

Deno.test("parseConfigFile() reports every problem at once, each with its line and key", () => {
  const text = [
    "sources:", //                                       1
    "  - { transport: sctp, port: 70000 }", //          2
    "  - { transport: udp, port: 514, time_zone: Mars/Olympus, max_connections: 5, max_message_size: 1G }", // 3
    "sinks:", //                                         4
    "  a: { streams: [s], record_format: xml }", //      5
    "routes:", //                                        6
    "  - name: r", //                                    7
    "    match: { severity: loud, source: 10.0.0.0/33 }", // 8
    "    sinks: [b]", //                                 9
    "spool: { max_size: 2P, nope: 1 }", //               10
    "colour: blue", //                                   11
  ].join("\n");
  let problems: string[] = [];
  try {
    parseConfigFile("k.yaml", text);
  } catch (error) {
    assert(error instanceof ConfigFileError);
    problems = error.problems;
  }
  const has = (prefix: string, words: string) =>
    assert(
      problems.some((p) => p.startsWith(prefix) && p.includes(words)),
      `${prefix} ${words}:\n${problems.join("\n")}`,
    );
  has("k.yaml:2: sources[0].transport:", "give one of udp, tcp, tls");
  has("k.yaml:2: sources[0].port:", "1 to 65535");
  has("k.yaml:3: sources[1].time_zone:", "unknown time zone 'Mars/Olympus'");
  has("k.yaml:3: sources[1].max_connections:", "connection limits are for tcp and tls sources");
  has("k.yaml:3: sources[1].max_message_size:", "from 64 bytes to 256 KiB");
  has("k.yaml:5: sinks.a.record_format:", "give one of");
  has("k.yaml:8: routes[0].match.severity:", "unknown severity 'loud'");
  has("k.yaml:8: routes[0].match.source:", "10.0.0.0/33");
  has("k.yaml:9: routes[0].sinks:", "no sink 'b'");
  has("k.yaml:10: spool.max_size:", "2P");
  has("k.yaml:10: spool.nope:", "unknown option");
  has("k.yaml:11: colour:", "unknown section");
  assertEquals(problems.length, 12, problems.join("\n"));
});

Deno.test("a sink's options that do not go together are refused in the file's words", () => {
  const text = [
    "sources: [{ transport: udp, port: 5514 }]",
    "sinks:",
    "  a: { streams: [s], record_format: kpl }",
    "  b: { streams: [t], partition_key: source }",
    "  c: { kinesis_streams: [k], output_dir: /tmp/x }",
    "  d: { kinesis_streams: [k], partition_key: sideways }",
    "default_sink: a",
  ].join("\n");
  let problems: string[] = [];
  try {
    parseConfigFile("k.yaml", text).pipeline(DEFAULTS, new Set());
  } catch (error) {
    assert(error instanceof ConfigFileError);
    problems = error.problems;
  }
  const has = (words: string) => assert(problems.some((p) => p.includes(words)), `${words}:\n${problems.join("\n")}`);
  has("sinks.c: give one of streams (Firehose), kinesis_streams");
  has("sinks.d.partition_key: give one of random, source");
  // The rest are judged once the file reads: a second pass.
  const second = text.split("\n").filter((l) => !l.includes("  c:") && !l.includes("  d:")).join("\n");
  try {
    parseConfigFile("k.yaml", second).pipeline({ ...DEFAULTS, partitionKey: "random" }, new Set());
    problems = [];
  } catch (error) {
    assert(error instanceof ConfigFileError);
    problems = error.problems;
  }
  has("sinks.a: record_format kpl needs kinesis_streams");
  has("sinks.b: partition_key source needs kinesis_streams");
});

Deno.test("parseConfigFile() says where YAML that does not parse goes wrong", () => {
  try {
    parseConfigFile("k.yaml", "spool:\n  dir: [a\nlog: {}\n");
    throw new Error("parsed");
  } catch (error) {
    assert(error instanceof ConfigFileError);
    assert(/^k\.yaml:\d+: /.test(error.problems[0]!), error.problems[0]);
  }
});

Deno.test("listen --config: flags and variables win over the file, the file over the defaults", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/k.yaml`;
    await Deno.writeTextFile(path, "batching: { flush_interval: 5, flush_size: 1M }\nlog: { level: warn }\n");
    Deno.env.set("KINESYSLOG_FLUSH_SIZE", "2M");
    const errors: string[] = [];
    const result = parseCli(
      [
        "listen",
        "--config",
        path,
        "--output-dir",
        dir,
        "--tcp-port",
        "5514",
        "--tls-port",
        "0",
        "--log-level",
        "error",
      ],
      () => {},
      (text) => errors.push(text),
    );
    if (result.kind !== "listen") throw new Error(errors.join(""));
    assertEquals(
      [result.config.flushInterval, result.config.flushSize, result.config.logLevel, result.config.spoolWorkers > 0],
      [5, 2 * 1_048_576, "error", true],
    );
  } finally {
    Deno.env.delete("KINESYSLOG_FLUSH_SIZE");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("listen --config refuses a flag that the file's section replaces", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/k.yaml`;
    await Deno.writeTextFile(path, "sources: [{ transport: udp, port: 5514 }]\nsinks: { a: { output_dir: /tmp } }\n");
    const errors: string[] = [];
    const result = parseCli(["listen", "--config", path, "--udp-port", "514"], () => {}, (t) => errors.push(t));
    assertEquals(result, { kind: "exit", code: 2 });
    assertEquals(
      errors.join(""),
      "kinesyslog: --udp-port and the --config file's sources both say it: give one or the other\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check-config reports the file's problems with exit code 2 and reads a good one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = `${dir}/bad.yaml`;
    await Deno.writeTextFile(bad, "sources: [{ transport: udp, port: 5514 }]\nsinks: { a: { streams: [] } }\n");
    const errors: string[] = [];
    assertEquals(parseCli(["check-config", bad], () => {}, (t) => errors.push(t)), { kind: "exit", code: 2 });
    assertEquals(
      errors.join(""),
      `kinesyslog: ${bad}:2: sinks.a: give one of streams (Firehose), kinesis_streams (Kinesis Data Streams) or output_dir (local files)\n`,
    );
    const good = `${dir}/good.yaml`;
    await Deno.writeTextFile(good, `sources: [{ transport: udp, port: 5514 }]\nsinks: { a: { output_dir: ${dir} } }\n`);
    const result = parseCli(["check-config", good], () => {}, () => {});
    assertEquals(result.kind === "check-config" && result.config.pipeline.sinks.map((s) => s.name), ["a"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every example in contrib/config passes check-config", async () => {
  const dir = new URL("../../contrib/config/", import.meta.url).pathname;
  let count = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".yaml")) continue;
    const errors: string[] = [];
    const result = parseCli(["check-config", `${dir}${entry.name}`], () => {}, (t) => errors.push(t));
    assertEquals(result.kind, "check-config", `${entry.name}: ${errors.join("")}`);
    count++;
  }
  assert(count >= 4, `${count} examples`);
});

Deno.test("readConfigFile() refuses a file larger than MAX_CONFIG_FILE_BYTES, and one that is not a file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const big = `${dir}/big.yaml`;
    await Deno.writeTextFile(big, `# ${"x".repeat(MAX_CONFIG_FILE_BYTES)}\n`);
    assertThrows(() => readConfigFile(big), ConfigError, `Cannot read --config '${big}': larger than`);
    assertThrows(() => readConfigFile(dir), ConfigError, `Cannot read --config '${dir}': not a file`);
    assertThrows(() => readConfigFile(`${dir}/none.yaml`), ConfigError, "not found");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
