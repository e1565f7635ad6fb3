/**
 * The folders import one way (STYLE.md, "Imports go one way"): shared vocabulary, then framing
 * and parsing, listening and ingest (with routes), batching, journal and spool (and the record
 * reader), delivery, the relay, the command line. A module may import its own layer and the
 * layers before it, never a later one. Read from `deno info --json main.ts`: every import,
 * type-only ones included.
 */
import { assertEquals } from "./assert.ts";

/** Layers, first to last; a module's layer is the first rule that names it (a file, then its folder). */
const LAYERS: readonly { name: string; members: readonly string[] }[] = [
  {
    name: "vocabulary",
    members: [
      // Top-level helpers with no pipeline knowledge.
      "timer.ts",
      "libc.ts",
      "release_buffer.ts",
      "version.ts",
      "log.ts",
      "allocator.ts",
      "open_file_limit.ts",
      // The pipeline's terms: sources, sinks, routes, record format names; errors.
      "config/pipeline.ts",
      "config/config_error.ts",
      // The event, its transport and the entry format every stage shares.
      "batch/event_buffer.ts",
      // Which journal segments a run of buffered events came from, and their numbers and
      // transports, carried by every stage.
      "journal/journal_runs.ts",
      "batch/event_runs.ts",
      "metrics/",
    ],
  },
  { name: "framing and parsing", members: ["framing/", "parse/"] },
  { name: "listening, ingest and routes", members: ["listen/", "route/"] },
  { name: "batching and records", members: ["batch/"] },
  { name: "journal, spool and the record reader", members: ["journal/", "spool/", "decode/"] },
  { name: "delivery", members: ["firehose/"] },
  { name: "relay", members: ["relay.ts", "relay/", "known_series.ts", "config/config.ts"] },
  { name: "command line", members: ["cli.ts", "config/", "install/"] },
];

function layerOf(path: string): number {
  for (const exact of [true, false]) {
    const i = LAYERS.findIndex((l) =>
      l.members.some((m) => exact ? m === path : m.endsWith("/") && path.startsWith(m))
    );
    if (i >= 0) return i;
  }
  throw new Error(`${path} is in no layer: add it to LAYERS`);
}

Deno.test("modules import only their own layer and the layers before it", async () => {
  const root = new URL("../src/", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("../main.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[] }[];
  };
  const backward: string[] = [];
  let edges = 0;
  for (const m of info.modules) {
    if (!m.specifier.startsWith(root)) continue;
    const from = m.specifier.slice(root.length);
    for (const dep of m.dependencies ?? []) {
      for (const to of [dep.code?.specifier, dep.type?.specifier]) {
        if (to === undefined || !to.startsWith(root)) continue;
        edges++;
        const path = to.slice(root.length);
        const [a, b] = [layerOf(from), layerOf(path)];
        if (a < b) backward.push(`${from} (${LAYERS[a]!.name}) imports ${path} (${LAYERS[b]!.name})`);
      }
    }
  }
  assertEquals(edges > 100, true, `only ${edges} imports read`);
  assertEquals([...new Set(backward)].sort(), []);
});
