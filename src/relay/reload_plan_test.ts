import { assertEquals } from "../../tests/assert.ts";
import { parseCli } from "../cli.ts";
import type { Config } from "../config/config.ts";
import { MAX_SINKS } from "../config/pipeline.ts";
import { planReload, type SinkSlot, unchanged } from "./reload_plan.ts";

const dir = await Deno.makeTempDir({ prefix: "kinesyslog-reload-plan-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

/** The configuration `listen --config` makes of `yaml`. */
function configOf(yaml: string): Config {
  const path = `${dir}/kinesyslog.yaml`;
  Deno.writeTextFileSync(path, yaml);
  const result = parseCli(["listen", "--config", path], () => {}, (text) => {
    throw new Error(text);
  });
  if (result.kind !== "listen") throw new Error(`not a listen: ${result.kind}`);
  return result.config;
}

const file = (sinks: string, more = "") => `
sources: [{ transport: tcp, port: 5140 }]
sinks:
${sinks}
routes: [{ name: r, sinks: [a] }]
spool: { dir: ${dir}/spool }
${more}`;
const slotsOf = (config: Config): SinkSlot[] => config.pipeline.sinks.map((spec) => ({ spec, active: true }));

Deno.test("planReload: the same file changes nothing", () => {
  const running = configOf(file("  a: { streams: [a] }"));
  const plan = planReload(running, slotsOf(running), configOf(file("  a: { streams: [a] }")));
  assertEquals(unchanged(plan), true);
  assertEquals(plan.changed, []);
});

Deno.test("planReload: each sink against its slot (destinations, records, added), the others retired", () => {
  const running = configOf(file("  a: { streams: [a] }\n  b: { streams: [b] }\n  d: { streams: [d] }"));
  const next = configOf(
    file("  a: { streams: [x] }\n  d: { streams: [d], record_format: ndjson }\n  c: { streams: [c] }"),
  );
  const plan = planReload(running, slotsOf(running), next);
  assertEquals(plan.sinks.map((s) => [s.spec.name, s.slot, s.change]), [
    ["a", 0, "destinations"],
    ["d", 2, "records"],
    ["c", 3, "added"],
  ]);
  assertEquals([plan.retired, plan.revived, plan.changed], [[1], [], []]);
  assertEquals(unchanged(plan), false);
});

Deno.test("planReload: a retired sink named again comes back in its slot", () => {
  const running = configOf(file("  a: { streams: [a] }"));
  const slots = [...slotsOf(running), {
    spec: { ...running.pipeline.sinks[0]!, name: "b", streams: ["b"] },
    active: false,
  }];
  const plan = planReload(running, slots, configOf(file("  a: { streams: [a] }\n  b: { streams: [b] }")));
  assertEquals(plan.sinks.map((s) => [s.spec.name, s.slot, s.change]), [["a", 0, "same"], ["b", 1, "same"]]);
  assertEquals([plan.retired, plan.revived], [[], [1]]);
  assertEquals(unchanged(plan), false, "the revived sink is a change");
});

Deno.test("planReload: an option outside the pipeline, a source's settings on its port, or too many sinks need a restart", () => {
  const running = configOf(file("  a: { streams: [a] }"));
  const slots = slotsOf(running);
  assertEquals(planReload(running, slots, configOf(file("  a: { streams: [a] }", "log: { level: warn }"))).changed, [
    "logLevel",
  ]);
  const proxied = configOf(
    file("  a: { streams: [a] }").replace(
      "{ transport: tcp, port: 5140 }",
      "{ transport: tcp, port: 5140, proxy_protocol: true }",
    ),
  );
  assertEquals(planReload(running, slots, proxied).changed, ["sources(tcp/5140)"]);
  const full = Array.from(
    { length: MAX_SINKS },
    (_, i) => ({ spec: { ...slots[0]!.spec, name: `s${i}` }, active: false }),
  );
  full[0] = slots[0]!;
  const plan = planReload(running, full, configOf(file("  a: { streams: [a] }\n  z: { streams: [z] }")));
  assertEquals(plan.changed, [`sinks (${MAX_SINKS + 1} sinks since the start, at most ${MAX_SINKS})`]);
});
