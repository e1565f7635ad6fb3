/**
 * Which journal segments a run of buffered events came from: `[segment, count, segment,
 * count, ...]` in event order. A buffer, a batch in flight and the events a worker hands
 * back each carry theirs, so the journal knows when every event of a segment is in the spool.
 *
 * @module
 */

/** Segment numbers and event counts, in pairs, in event order. */
export type Runs = number[];

/** Notes `count` more events from `segment` at the end of `runs`. */
export function addRun(runs: Runs, segment: number, count: number): void {
  if (count <= 0) return;
  if (runs.length >= 2 && runs[runs.length - 2] === segment) runs[runs.length - 1]! += count;
  else runs.push(segment, count);
}

/** Events counted by `runs`. */
export function runsCount(runs: Runs): number {
  let sum = 0;
  for (let i = 1; i < runs.length; i += 2) sum += runs[i]!;
  return sum;
}

/**
 * Splits `runs` after the first `count` events: the runs of those events and of the rest.
 *
 * @example
 * ```ts
 * splitRuns([7, 3, 8, 2], 4); // [[7, 3, 8, 1], [8, 1]]
 * ```
 */
export function splitRuns(runs: Runs, count: number): [Runs, Runs] {
  const head: Runs = [];
  const tail: Runs = [];
  let left = count;
  for (let i = 0; i < runs.length; i += 2) {
    const segment = runs[i]!;
    const n = runs[i + 1]!;
    const taken = Math.max(0, Math.min(left, n));
    left -= taken;
    addRun(head, segment, taken);
    addRun(tail, segment, n - taken);
  }
  return [head, tail];
}
