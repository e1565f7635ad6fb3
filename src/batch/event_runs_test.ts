import { assertEquals } from "../../tests/assert.ts";
import { addEventRun, type EventRuns, eventRunsCount, eventRunsFrom, forEachEventOrigin } from "./event_runs.ts";

Deno.test("addEventRun() merges runs whose numbers follow on and that arrived the same way", async (t) => {
  const cases: [string, [number, number, "udp" | "tcp"][], EventRuns][] = [
    ["following on, one transport", [[10, 2, "tcp"], [12, 3, "tcp"]], [10, 5, 2]],
    ["a gap in the numbers", [[10, 2, "tcp"], [20, 3, "tcp"]], [10, 2, 2, 20, 3, 2]],
    ["another transport", [[10, 2, "tcp"], [12, 3, "udp"]], [10, 2, 2, 12, 3, 1]],
    ["an empty run", [[10, 2, "tcp"], [12, 0, "udp"]], [10, 2, 2]],
  ];
  for (const [name, adds, expected] of cases) {
    await t.step(name, () => {
      const runs: EventRuns = [];
      for (const [sequence, count, transport] of adds) addEventRun(runs, sequence, count, transport);
      assertEquals(runs, expected);
    });
  }
});

Deno.test("eventRunsFrom() keeps the numbers of the events after those skipped", () => {
  const runs = [100, 3, 2, 500, 2, 1];
  assertEquals(eventRunsFrom(runs, 0), runs);
  assertEquals(eventRunsFrom(runs, 1), [101, 2, 2, 500, 2, 1]);
  assertEquals(eventRunsFrom(runs, 4), [501, 1, 1]);
  assertEquals(eventRunsFrom(runs, 5), []);
  assertEquals(eventRunsCount(eventRunsFrom(runs, 2)), 3);
});

Deno.test("forEachEventOrigin() numbers each event and gives events past the runs none", () => {
  const seen: [number, number, string][] = [];
  forEachEventOrigin([7, 2, 1, 40, 1, 3], 4, (i, sequence, transport) => seen.push([i, sequence, transport]));
  assertEquals(seen, [[0, 7, "udp"], [1, 8, "udp"], [2, 40, "tls"], [3, -1, "unknown"]]);
});
