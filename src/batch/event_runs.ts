/**
 * What each buffered event carries besides its bytes and time, kept per run rather than per
 * event: its sequence number (its id, with the relay's instance id: `event_id.ts`), how it
 * arrived, and whose it is (its log group and log stream, an index into the buffer's
 * {@linkcode EventStream} table). One journal block (one read of one source) is one run;
 * consecutive blocks merge when their numbers follow on and the rest is the same, so a busy
 * source's buffer holds a few runs, and a buffer may mix transports (and, for a record format
 * whose events each say their source, sources) without being split for them.
 *
 * `[first sequence, count, transport, stream, ...]` in event order (transport: an index into
 * {@linkcode TRANSPORTS}). A flat array of numbers, so that it is copied to a worker cheaply.
 *
 * @module
 */
import type { Transport } from "./event_buffer.ts";

/** Sequence numbers, counts, transports and streams of runs of events, in fours, in event order. */
export type EventRuns = number[];

/** Whose events a run holds: the log group (`<prefix>/<syslog|gelf>/<port>`) and log stream (the source). */
export interface EventStream {
  logGroup: string;
  logStream: string;
}

/** Transports by index (the journal keeps the same numbering). */
export const TRANSPORTS: readonly Transport[] = ["unknown", "udp", "tcp", "tls", "relp"];

/** Numbers per run in {@linkcode EventRuns}. */
const RUN = 4;

/**
 * Notes `count` more events numbered from `sequence`, arrived by `transport`, of stream number
 * `stream`, at the end of `runs`.
 */
export function addEventRun(
  runs: EventRuns,
  sequence: number,
  count: number,
  more: { transport: Transport; stream: number },
): void {
  if (count <= 0) return;
  const t = TRANSPORTS.indexOf(more.transport);
  const last = runs.length - RUN;
  if (
    last >= 0 && runs[last + 2] === t && runs[last + 3] === more.stream && runs[last]! + runs[last + 1]! === sequence
  ) {
    runs[last + 1]! += count;
  } else {
    runs.push(sequence, count, t, more.stream);
  }
}

/**
 * `runs` with each stream number `i` replaced by `map[i]` (runs moved into a buffer whose
 * stream table numbers them otherwise).
 */
export function renumberStreams(runs: EventRuns, map: readonly number[]): EventRuns {
  const out = runs.slice();
  for (let i = 3; i < out.length; i += RUN) out[i] = map[out[i]!]!;
  return out;
}

/**
 * The runs of the events after the first `skip`.
 *
 * @example
 * ```ts
 * eventRunsFrom([100, 3, 2, 0, 500, 2, 1, 0], 4); // [501, 1, 1, 0]
 * ```
 */
export function eventRunsFrom(runs: EventRuns, skip: number): EventRuns {
  const out: EventRuns = [];
  let left = skip;
  for (let i = 0; i < runs.length; i += RUN) {
    const count = runs[i + 1]!;
    const taken = Math.min(left, count);
    left -= taken;
    if (count > taken) out.push(runs[i]! + taken, count - taken, runs[i + 2]!, runs[i + 3]!);
  }
  return out;
}

/** Events counted by `runs`. */
export function eventRunsCount(runs: EventRuns): number {
  let sum = 0;
  for (let i = 1; i < runs.length; i += RUN) sum += runs[i]!;
  return sum;
}

/** Each event's sequence number, transport (an index into {@linkcode TRANSPORTS}) and stream number. */
export interface EventOrigins {
  sequences: Float64Array;
  transports: Uint8Array;
  streams: Uint32Array;
}

/**
 * The origins of `count` events from their runs, in order: events past the runs (a batch from
 * before runs were kept) get sequence -1, transport `unknown` and stream 0. Arrays rather than
 * a callback per event: the worker reads them once per event.
 */
export function eventOrigins(runs: EventRuns, count: number): EventOrigins {
  const origins = {
    sequences: new Float64Array(count).fill(-1),
    transports: new Uint8Array(count),
    streams: new Uint32Array(count),
  };
  let i = 0;
  for (let r = 0; r < runs.length && i < count; r += RUN) {
    const first = runs[r]!;
    const n = Math.min(runs[r + 1]!, count - i);
    const transport = runs[r + 2]! < TRANSPORTS.length ? runs[r + 2]! : 0;
    origins.transports.fill(transport, i, i + n);
    origins.streams.fill(runs[r + 3]!, i, i + n);
    for (let k = 0; k < n; k++) origins.sequences[i++] = first + k;
  }
  return origins;
}
