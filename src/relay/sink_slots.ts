/**
 * The sinks of a running relay, by slot: each sink's configuration, spool directory and
 * destinations, and what the stages that index sinks (the ingest's sink sets, the batcher, the
 * spool workers) are told of them. A slot is kept for the life of the process
 * (`reload_plan.ts`): a reload appends sinks and retires them, never renumbers.
 *
 * @module
 */
import type { SinkSpec } from "../config/pipeline.ts";
import { RECORD_FORMATS } from "../batch/record_formats.ts";
import type { IngestSinks } from "../listen/ingest.ts";
import type { SpoolDir } from "../spool/spool_dir.ts";
import type { WorkerSink } from "../spool/worker_protocol.ts";
import { largestRecord } from "../firehose/record_sink.ts";
import type { NamedSink } from "../firehose/uploader.ts";
import type { SinkDelivery } from "../firehose/deliveries.ts";
import type { ReloadPlan, SinkSlot } from "./reload_plan.ts";

/** One sink of a running relay. */
export interface RunningSink extends SinkSlot {
  spool: SpoolDir;
  destinations: readonly NamedSink[];
}

/** Whether a sink's buffers hold every source's events (its records carry each event's source, and are not keyed by it). */
export function sharesBuffers(spec: SinkSpec): boolean {
  return RECORD_FORMATS[spec.recordFormat].eventsCarrySource && spec.partitionKey !== "source";
}

/** What the spool workers build for a sink. */
export function workerSinkOf(sink: RunningSink): WorkerSink {
  const { spec, spool, destinations } = sink;
  return {
    spoolDir: spool.dir,
    compressionLevel: spec.compressionLevel,
    recordFormat: spec.recordFormat,
    recordCompression: spec.recordCompression,
    maxRecordBytes: largestRecord(destinations.map((d) => d.sink)),
    partitionBySource: spec.partitionKey === "source",
  };
}

/**
 * What the ingest feeds: every slot's name and log group prefix, and where messages go without
 * routes (and replayed blocks of a sink no longer configured): the default sink, else the first
 * active one.
 */
export function ingestSinksOf(sinks: readonly RunningSink[], defaultSink: string | undefined): IngestSinks {
  const names = sinks.map((s) => s.spec.name);
  const preferred = defaultSink === undefined ? -1 : names.indexOf(defaultSink);
  return {
    names,
    groupPrefixes: sinks.map((s) => s.spec.groupPrefix),
    fallback: preferred >= 0 ? preferred : Math.max(0, sinks.findIndex((s) => s.active)),
  };
}

/** The stages a reload's sinks change. */
export interface SinkStages {
  batcher: { resetSink(sink: number, shared: boolean): void };
  worker: { setSinks(sinks: WorkerSink[]): void };
  deliveries: {
    addSink(sink: SinkDelivery): number;
    setDestinations(sink: number, destinations: readonly NamedSink[]): void;
  };
  /** A sink's spool directory, by its name. */
  spoolOf: (name: string) => SpoolDir;
}

/**
 * Applies a reload's sinks to `sinks` and the stages, without waiting: a retired sink's
 * buffers and those of a sink whose records change are flushed as they were (spooled and
 * delivered by the sink as it was), then the spool workers build the new records from the
 * next batch, the new destinations take the sink's records not yet accepted, and a new sink
 * is delivered. `destinations`: those opened for each sink of the plan that is not `same`,
 * in the plan's order.
 */
export function applySinks(
  sinks: RunningSink[],
  plan: ReloadPlan,
  destinations: readonly (readonly NamedSink[])[],
  stages: SinkStages,
): void {
  for (const i of plan.retired) {
    sinks[i]!.active = false;
    stages.batcher.resetSink(i, sharesBuffers(sinks[i]!.spec));
  }
  let reshaped = false;
  let k = 0;
  for (const { spec, slot, change } of plan.sinks) {
    if (change === "same") {
      sinks[slot]!.active = true;
      continue;
    }
    const to = destinations[k++]!;
    if (change === "added") {
      const spool = stages.spoolOf(spec.name);
      sinks.push({ spec, active: true, spool, destinations: to });
      stages.deliveries.addSink({ name: spec.name, spool, destinations: to });
      stages.batcher.resetSink(slot, sharesBuffers(spec));
      reshaped = true;
      continue;
    }
    if (change === "records") {
      stages.batcher.resetSink(slot, sharesBuffers(spec));
      reshaped = true;
    }
    sinks[slot] = { ...sinks[slot]!, spec, active: true, destinations: to };
    stages.deliveries.setDestinations(slot, to);
  }
  // After the flushes above: the batches already handed over are built as they were.
  if (reshaped) stages.worker.setSinks(sinks.map(workerSinkOf));
}
