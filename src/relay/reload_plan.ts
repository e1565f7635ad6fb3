/**
 * What a SIGHUP reload changes, read from the running configuration and the next one: sources
 * added and removed (matched by where they listen), whether the routes changed, each sink of
 * the next configuration against the slot it takes, the sinks retired, and what cannot be
 * applied without a restart. Pure: the relay applies the plan.
 *
 * Sinks keep their slot (their index in the ingest's sink sets, the batcher, the spool workers
 * and the uploaders) for the life of the process: a retired sink keeps delivering what it
 * spooled, and comes back in its slot if a later reload names it again.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { MAX_SINKS, type SinkSpec, type SourceSpec } from "../config/pipeline.ts";
import { placeOf } from "../listen/listener_set.ts";

/** A sink of the running relay: its last configuration, and whether the pipeline still names it. */
export interface SinkSlot {
  spec: SinkSpec;
  active: boolean;
}

/**
 * How a sink of the next configuration differs from its slot: `same`; `destinations` (its
 * streams, service or role, nothing else); `records` (what its records are: format,
 * compression, level, log group prefix, partition key, or a local directory; its destinations
 * are opened anew too); `added` (a new slot).
 */
export type SinkChange = "same" | "destinations" | "records" | "added";

/** One sink of the next configuration. */
export interface PlannedSink {
  spec: SinkSpec;
  /** Its slot: the one of its name, or the next free one. */
  slot: number;
  change: SinkChange;
}

/** What a reload changes, and what it cannot apply. */
export interface ReloadPlan {
  added: SourceSpec[];
  removed: SourceSpec[];
  /** The routes or the default sink changed. */
  routes: boolean;
  /** Every sink of the next configuration, in its order. */
  sinks: PlannedSink[];
  /** Slots of sinks that were active and that the next configuration does not name. */
  retired: number[];
  /** Slots of retired sinks that the next configuration names again. */
  revived: number[];
  /** What needs a restart (nothing is applied when any): option names, `sources(<label>)`, `sinks`. */
  changed: string[];
}

/** A sink's configuration but where its records go. */
function recordsOf({ streams: _s, service: _v, role: _r, ...spec }: SinkSpec): string {
  return JSON.stringify(spec);
}

/** Plans the reload from `running` (whose sinks are in `slots`) to `next`. */
export function planReload(running: Config, slots: readonly SinkSlot[], next: Config): ReloadPlan {
  const changed: string[] = [];
  const left = running as unknown as Record<string, unknown>, right = next as unknown as Record<string, unknown>;
  for (const key of new Set([...Object.keys(left), ...Object.keys(right)])) {
    if (key !== "pipeline" && JSON.stringify(left[key]) !== JSON.stringify(right[key])) changed.push(key);
  }
  let free = slots.length;
  const sinks = next.pipeline.sinks.map((spec): PlannedSink => {
    const slot = slots.findIndex((s) => s.spec.name === spec.name);
    if (slot < 0) return { spec, slot: free++, change: "added" };
    const was = slots[slot]!.spec;
    const change = JSON.stringify(was) === JSON.stringify(spec)
      ? "same"
      : recordsOf(was) === recordsOf(spec)
      ? "destinations"
      : "records";
    return { spec, slot, change };
  });
  // A message's sinks are a bit set: slots are not reused within a run.
  if (free > MAX_SINKS) changed.push(`sinks (${free} sinks since the start, at most ${MAX_SINKS})`);
  const named = new Set(sinks.map((s) => s.slot));
  const retired = slots.flatMap((s, i) => s.active && !named.has(i) ? [i] : []);
  const revived = slots.flatMap((s, i) => !s.active && named.has(i) ? [i] : []);
  const bound = new Map(running.pipeline.sources.map((s) => [placeOf(s), s]));
  const wanted = new Map(next.pipeline.sources.map((s) => [placeOf(s), s]));
  for (const [place, source] of wanted) {
    const old = bound.get(place);
    if (old !== undefined && JSON.stringify(old) !== JSON.stringify(source)) changed.push(`sources(${source.label})`);
  }
  return {
    added: [...wanted].filter(([place]) => !bound.has(place)).map(([, s]) => s),
    removed: [...bound].filter(([place]) => !wanted.has(place)).map(([, s]) => s),
    routes: JSON.stringify([running.pipeline.routes, running.pipeline.defaultSink]) !==
      JSON.stringify([next.pipeline.routes, next.pipeline.defaultSink]),
    sinks,
    retired,
    revived,
    changed,
  };
}

/** Whether the plan changes nothing. */
export function unchanged(plan: ReloadPlan): boolean {
  return plan.added.length + plan.removed.length + plan.retired.length + plan.revived.length === 0 && !plan.routes &&
    plan.sinks.every((s) => s.change === "same");
}
