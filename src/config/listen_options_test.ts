import { assert, assertEquals } from "../../tests/assert.ts";
import { parseCli } from "../cli.ts";
import { openFileLimit } from "../open_file_limit.ts";
import { envName, LISTEN_OPTIONS, MAX_DESCRIPTORS } from "./listen_options.ts";

const BASE = ["listen", "--output-dir", "/tmp/kinesyslog-bounds-test", "--udp-port", "5514", "--tls-port", "0"];
/** Options whose largest value is also bounded by the descriptors the process may open. */
const DESCRIPTORS = new Set(["max-connections", "metrics-max-connections"]);

/** Parses `listen` with `args` added and `env` set for the call: the result and the error lines. */
function parse(args: string[], env: Record<string, string> = {}) {
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  try {
    const errors: string[] = [];
    const result = parseCli([...BASE, ...args], () => {}, (text) => errors.push(text.trim()));
    return { result, errors };
  } finally {
    for (const k of Object.keys(env)) Deno.env.delete(k);
  }
}

/** The largest value of `name` this process accepts: the table's, or the descriptor limit where lower. */
function largest(name: string, max: string): string {
  const limit = openFileLimit();
  if (!DESCRIPTORS.has(name) || limit === undefined) return max;
  return String(Math.min(Number(max), limit));
}

Deno.test("every bounded option takes its smallest and largest value, as a flag and as a variable", async (t) => {
  for (const spec of LISTEN_OPTIONS) {
    const edges = spec.value?.edges;
    if (edges === undefined) continue;
    for (const value of [edges.min, largest(spec.name, edges.max)]) {
      await t.step(`--${spec.name} ${value}`, () => {
        for (const given of [[[`--${spec.name}`, value], {}], [[], { [envName(spec)]: value }]] as const) {
          const { result, errors } = parse([...given[0]], given[1]);
          assertEquals(errors, []);
          assertEquals(result.kind, "listen");
        }
      });
    }
  }
});

Deno.test("every bounded option refuses a value past each bound with exit 2, naming the flag or the variable", async (t) => {
  for (const spec of LISTEN_OPTIONS) {
    const edges = spec.value?.edges;
    if (edges === undefined) continue;
    for (const value of [edges.below, edges.above]) {
      if (value === undefined) continue;
      await t.step(`--${spec.name} ${value}`, () => {
        const flag = parse([`--${spec.name}`, value]);
        assertEquals(flag.result, { kind: "exit", code: 2 });
        assertEquals(flag.errors.length, 1);
        assert(flag.errors[0]!.startsWith(`kinesyslog: Invalid --${spec.name} '${value}': give `), flag.errors[0]);
        const env = parse([], { [envName(spec)]: value });
        assertEquals(env.result, { kind: "exit", code: 2 });
        assert(
          env.errors[0]!.startsWith(`kinesyslog: Invalid ${envName(spec)} (--${spec.name}) '${value}': give `),
          env.errors[0],
        );
      });
    }
  }
});

Deno.test("--request-timeout 99999999999999 (a timer would take it as 1 ms) is refused", () => {
  const { result, errors } = parse(["--request-timeout", "99999999999999"]);
  assertEquals(result, { kind: "exit", code: 2 });
  assertEquals(errors, [
    "kinesyslog: Invalid --request-timeout '99999999999999': give a number of seconds from 1 to 600",
  ]);
});

Deno.test("a count of connections past the descriptors the process may open is refused, naming the option", () => {
  const limit = openFileLimit();
  if (limit === undefined || limit >= MAX_DESCRIPTORS) return;
  const { result, errors } = parse([], { KINESYSLOG_MAX_CONNECTIONS: String(limit + 1) });
  assertEquals(result, { kind: "exit", code: 2 });
  assertEquals(errors, [
    `kinesyslog: Invalid --max-connections (KINESYSLOG_MAX_CONNECTIONS) ${limit + 1}: more than the ${limit} ` +
    `descriptors this process may open (ulimit -n; LimitNOFILE= in a systemd unit); give at most ${limit}`,
  ]);
});

Deno.test("the table names each option once, and every variable is KINESYSLOG_ and the flag", () => {
  const names = LISTEN_OPTIONS.map((o) => o.name);
  assertEquals(new Set(names).size, names.length);
  for (const o of LISTEN_OPTIONS) assertEquals(envName(o), `KINESYSLOG_${o.name.toUpperCase().replaceAll("-", "_")}`);
});
