/**
 * What each buffered event carries besides its bytes and time, kept per run rather than per
 * event: its sequence number (its id, with the relay's instance id: `event_id.ts`) and how it
 * arrived. One journal block (one read of one source) is one run; consecutive blocks merge
 * when their numbers follow on and they arrived the same way, so a busy source's buffer holds
 * a few runs, and a buffer may mix transports without being split for it.
 *
 * `[first sequence, count, transport, ...]` in event order (transport: an index into
 * {@linkcode TRANSPORTS}). A flat array of numbers, so that it is copied to a worker cheaply.
 *
 * @module
 */
import type { Transport } from "./event_buffer.ts";

/** Sequence numbers, counts and transports of runs of events, in triples, in event order. */
export type EventRuns = number[];

/** Transports by index (the journal keeps the same numbering). */
export const TRANSPORTS: readonly Transport[] = ["unknown", "udp", "tcp", "tls", "relp"];

/** Numbers per run in {@linkcode EventRuns}. */
const RUN = 3;

/** Notes `count` more events numbered from `sequence`, arrived by `transport`, at the end of `runs`. */
export function addEventRun(runs: EventRuns, sequence: number, count: number, transport: Transport): void {
  if (count <= 0) return;
  const t = TRANSPORTS.indexOf(transport);
  const last = runs.length - RUN;
  if (last >= 0 && runs[last + 2] === t && runs[last]! + runs[last + 1]! === sequence) runs[last + 1]! += count;
  else runs.push(sequence, count, t);
}

/**
 * The runs of the events after the first `skip`.
 *
 * @example
 * ```ts
 * eventRunsFrom([100, 3, 2, 500, 2, 1], 4); // [501, 1, 1]
 * ```
 */
export function eventRunsFrom(runs: EventRuns, skip: number): EventRuns {
  const out: EventRuns = [];
  let left = skip;
  for (let i = 0; i < runs.length; i += RUN) {
    const count = runs[i + 1]!;
    const taken = Math.min(left, count);
    left -= taken;
    if (count > taken) out.push(runs[i]! + taken, count - taken, runs[i + 2]!);
  }
  return out;
}

/** Events counted by `runs`. */
export function eventRunsCount(runs: EventRuns): number {
  let sum = 0;
  for (let i = 1; i < runs.length; i += RUN) sum += runs[i]!;
  return sum;
}

/**
 * Calls `each(sequence, transport)` for the events of `runs` in order, `count` of them: events
 * past the runs (a batch from before runs were kept) get sequence -1 and `unknown`.
 */
export function forEachEventOrigin(
  runs: EventRuns,
  count: number,
  each: (i: number, sequence: number, transport: Transport) => void,
): void {
  let i = 0;
  for (let r = 0; r < runs.length && i < count; r += RUN) {
    const first = runs[r]!;
    const transport = TRANSPORTS[runs[r + 2]!] ?? "unknown";
    const n = Math.min(runs[r + 1]!, count - i);
    for (let k = 0; k < n; k++) each(i++, first + k, transport);
  }
  while (i < count) each(i++, -1, "unknown");
}
