import { assertEquals } from "../../tests/assert.ts";
import type { SinkSpec } from "../config/pipeline.ts";
import type { NamedSink } from "../firehose/uploader.ts";
import { SpoolDir } from "../spool/spool_dir.ts";
import type { WorkerSink } from "../spool/worker_protocol.ts";
import type { ReloadPlan } from "./reload_plan.ts";
import { applySinks, ingestSinksOf, type RunningSink } from "./sink_slots.ts";

const spec = (name: string, more: Partial<SinkSpec> = {}): SinkSpec => ({
  name,
  streams: [name],
  service: "firehose",
  partitionKey: "random",
  role: undefined,
  outputDir: undefined,
  recordFormat: "cwl",
  recordCompression: "gzip",
  compressionLevel: 6,
  groupPrefix: "/kinesyslog",
  ...more,
});
const to = (
  name: string,
): NamedSink[] => [{ name, sink: { maxRecordBytes: 1_024_000 } as unknown as NamedSink["sink"] }];

Deno.test("applySinks retires, adds and changes sinks in their slots, flushing before the workers build anew", () => {
  const calls: string[] = [];
  const sinks: RunningSink[] = ["a", "b", "c"].map((name) => ({
    spec: spec(name),
    active: true,
    spool: new SpoolDir(`/spool/${name}`),
    destinations: to(name),
  }));
  const plan: ReloadPlan = {
    added: [],
    removed: [],
    routes: false,
    sinks: [
      { spec: spec("a"), slot: 0, change: "same" },
      { spec: spec("c", { streams: ["c2"] }), slot: 2, change: "destinations" },
      { spec: spec("d", { recordFormat: "ndjson" }), slot: 3, change: "added" },
      { spec: spec("b", { recordFormat: "ndjson" }), slot: 1, change: "records" },
    ],
    retired: [],
    revived: [],
    changed: [],
  };
  // b is first retired by another plan, then revived with new records by this one.
  applySinks(sinks, { ...plan, sinks: plan.sinks.slice(0, 1), retired: [1, 2] }, [], {
    batcher: { resetSink: (i, shared) => calls.push(`reset ${i} ${shared}`) },
    worker: { setSinks: (w: WorkerSink[]) => calls.push(`workers ${w.length}`) },
    deliveries: { addSink: () => 0, setDestinations: () => {} },
    spoolOf: (name) => new SpoolDir(`/spool/${name}`),
  });
  assertEquals([sinks.map((s) => s.active), calls], [[true, false, false], ["reset 1 false", "reset 2 false"]]);
  calls.length = 0;
  applySinks(sinks, plan, [to("c2"), to("d"), to("b")], {
    batcher: { resetSink: (i, shared) => calls.push(`reset ${i} ${shared}`) },
    worker: { setSinks: (w: WorkerSink[]) => calls.push(`workers ${w.map((s) => s.recordFormat).join(",")}`) },
    deliveries: {
      addSink: (d) => (calls.push(`deliver ${d.name} ${d.spool.dir}`), 3),
      setDestinations: (i, d) => calls.push(`destinations ${i} ${d.map((x) => x.name)}`),
    },
    spoolOf: (name) => new SpoolDir(`/spool/${name}`),
  });
  assertEquals(calls, [
    "destinations 2 c2",
    "deliver d /spool/d",
    "reset 3 true",
    "reset 1 true",
    "destinations 1 b",
    "workers cwl,ndjson,cwl,ndjson",
  ]);
  assertEquals(sinks.map((s) => [s.spec.name, s.active, s.destinations[0]!.name]), [
    ["a", true, "a"],
    ["b", true, "b"],
    ["c", true, "c2"],
    ["d", true, "d"],
  ]);
  assertEquals(ingestSinksOf(sinks, "d").fallback, 3);
  sinks[0]!.active = false;
  assertEquals(ingestSinksOf(sinks, undefined).fallback, 1, "without a default: the first active sink");
});
