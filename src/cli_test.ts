import { assertEquals } from "../tests/assert.ts";
import { type CliResult, parseCli } from "./cli.ts";
import { parseBytes } from "./config/option_values.ts";

const BASE = ["listen", "--output-dir", "/tmp/kinesyslog-cli-test", "--udp-port", "5514", "--tls-port", "0"];

/** Parses `argv` with `env` set for the call; the result and the error lines. */
function parse(env: Record<string, string>, argv: string[] = BASE): { result: CliResult; errors: string[] } {
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  try {
    const errors: string[] = [];
    const result = parseCli(argv, () => {}, (text) => errors.push(text.trim()));
    return { result, errors };
  } finally {
    for (const k of Object.keys(env)) Deno.env.delete(k);
  }
}

Deno.test("on/off variables are on or off by their value, and refuse anything else", async (t) => {
  const table: [Record<string, string>, { gelf: boolean; journal: boolean } | string][] = [
    [{ KINESYSLOG_GELF: "false" }, { gelf: false, journal: true }],
    [{ KINESYSLOG_GELF: "0" }, { gelf: false, journal: true }],
    [{ KINESYSLOG_GELF: "off" }, { gelf: false, journal: true }],
    [{ KINESYSLOG_GELF: "No" }, { gelf: false, journal: true }],
    [{ KINESYSLOG_GELF: "true" }, { gelf: true, journal: true }],
    [{ KINESYSLOG_GELF: "1" }, { gelf: true, journal: true }],
    [{ KINESYSLOG_GELF: "YES" }, { gelf: true, journal: true }],
    [{ KINESYSLOG_NO_JOURNAL: "false" }, { gelf: false, journal: true }],
    [{ KINESYSLOG_NO_JOURNAL: "on" }, { gelf: false, journal: false }],
    [{ KINESYSLOG_GELF: "" }, "kinesyslog: Invalid KINESYSLOG_GELF '': give true or false (also 1/0, yes/no, on/off)"],
    [
      { KINESYSLOG_NO_JOURNAL: "maybe" },
      "kinesyslog: Invalid KINESYSLOG_NO_JOURNAL 'maybe': give true or false (also 1/0, yes/no, on/off)",
    ],
  ];
  for (const [env, expected] of table) {
    await t.step(JSON.stringify(env), () => {
      const { result, errors } = parse(env);
      if (typeof expected === "string") {
        assertEquals(result, { kind: "exit", code: 2 });
        assertEquals(errors, [expected]);
      } else {
        if (result.kind !== "listen") throw new Error(errors.join("\n"));
        assertEquals({
          gelf: result.config.pipeline.sources.some((s) => s.protocol === "gelf"),
          journal: result.config.journal,
        }, expected);
      }
    });
  }
});

Deno.test("an error in a value from a variable names the variable; the command line still wins", () => {
  const { result, errors } = parse({ KINESYSLOG_TCP_PORT: "abc" });
  assertEquals(result, { kind: "exit", code: 2 });
  assertEquals(errors, [
    "kinesyslog: Invalid KINESYSLOG_TCP_PORT (--tcp-port) 'abc': give a port number from 0 (off) to 65535",
  ]);
  const flag = parse({}, [...BASE, "--tcp-port", "abc"]);
  assertEquals(flag.errors, ["kinesyslog: Invalid --tcp-port 'abc': give a port number from 0 (off) to 65535"]);
  const wins = parse({ KINESYSLOG_TCP_PORT: "abc" }, [...BASE, "--tcp-port", "6000"]);
  assertEquals(
    wins.result.kind === "listen" &&
      wins.result.config.pipeline.sources.filter((s) => s.transport === "tcp").map((s) => s.port),
    [6000],
  );
});

Deno.test("byte sizes take units: K, M, G, T (and KiB, ...) of 1024, KB, MB, GB, TB of 1000", async (t) => {
  const table: [string, number | undefined][] = [
    ["1048576", 1_048_576],
    ["64K", 65_536],
    ["64KiB", 65_536],
    ["64kb", 64_000],
    ["512M", 536_870_912],
    ["10G", 10_737_418_240],
    ["1.5GB", 1_500_000_000],
    ["2 TiB", 2 * 1024 ** 4],
    ["10X", undefined],
    ["G", undefined],
    ["-1", undefined],
    ["", undefined],
  ];
  for (const [text, expected] of table) await t.step(text, () => assertEquals(parseBytes(text), expected));
  await t.step("--spool-max-size 10G", () => {
    const { result } = parse({}, [...BASE, "--spool-max-size", "10G"]);
    assertEquals(result.kind === "listen" && result.config.spoolMaxSize, 10_737_418_240);
  });
  await t.step("KINESYSLOG_FLUSH_SIZE=3X", () => {
    const { errors } = parse({ KINESYSLOG_FLUSH_SIZE: "3X" });
    assertEquals(errors, [
      "kinesyslog: Invalid KINESYSLOG_FLUSH_SIZE (--flush-size) '3X': give a size from 1 byte to 64 MiB, with a unit if you like (64K, 512M, 10G)",
    ]);
  });
});

Deno.test("--worker-memory-limit defaults to 110 MiB and 20 MiB per spool or TCP worker; 0 is no limit", async (t) => {
  const MiB = 1_048_576;
  const table: [string[], Record<string, string>, number][] = [
    [["--spool-workers", "1"], {}, 130 * MiB],
    [["--spool-workers", "2"], {}, 150 * MiB],
    [["--spool-workers", "4"], {}, 190 * MiB],
    [["--spool-workers", "2", "--tcp-workers", "2"], {}, 190 * MiB],
    [["--spool-workers", "2"], { KINESYSLOG_TCP_WORKERS: "1" }, 170 * MiB],
    [["--spool-workers", "2", "--worker-memory-limit", "300M"], {}, 300 * MiB],
    [["--spool-workers", "2"], { KINESYSLOG_WORKER_MEMORY_LIMIT: "0" }, 0],
  ];
  for (const [args, env, expected] of table) {
    await t.step(`${args.join(" ")} ${JSON.stringify(env)}`, () => {
      const { result, errors } = parse(env, [...BASE, ...args]);
      assertEquals(errors, []);
      assertEquals(result.kind === "listen" ? result.config.workerMemoryLimit : result, expected);
    });
  }
});
