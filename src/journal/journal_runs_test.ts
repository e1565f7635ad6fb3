import fc from "fast-check";
import { assertEquals } from "../../tests/assert.ts";
import { addRun, runsCount, splitRuns } from "./journal_runs.ts";

Deno.test("addRun merges events of the same segment and ignores empty runs", () => {
  const runs: number[] = [];
  addRun(runs, 3, 2);
  addRun(runs, 3, 1);
  addRun(runs, 4, 0);
  addRun(runs, 4, 5);
  assertEquals(runs, [3, 3, 4, 5]);
  assertEquals(runsCount(runs), 8);
});

Deno.test("splitRuns cuts inside a run and at its edges", () => {
  assertEquals(splitRuns([7, 3, 8, 2], 4), [[7, 3, 8, 1], [8, 1]]);
  assertEquals(splitRuns([7, 3, 8, 2], 3), [[7, 3], [8, 2]]);
  assertEquals(splitRuns([7, 3, 8, 2], 0), [[], [7, 3, 8, 2]]);
  assertEquals(splitRuns([7, 3, 8, 2], 5), [[7, 3, 8, 2], []]);
});

Deno.test("property: split halves add up to the runs, per segment", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(5), fc.integer({ min: 1, max: 9 }))), fc.nat(60), (pairs, k) => {
      const runs: number[] = [];
      for (const [s, n] of pairs) addRun(runs, s, n);
      const [head, tail] = splitRuns(runs, k);
      assertEquals(runsCount(head), Math.min(k, runsCount(runs)));
      assertEquals(runsCount(head) + runsCount(tail), runsCount(runs));
      const perSegment = (r: number[]) => {
        const m = new Map<number, number>();
        for (let i = 0; i < r.length; i += 2) m.set(r[i]!, (m.get(r[i]!) ?? 0) + r[i + 1]!);
        return m;
      };
      const joined = perSegment([...head, ...tail]);
      assertEquals(joined, perSegment(runs));
    }),
  );
});
