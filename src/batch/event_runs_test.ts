import { assertEquals } from "../../tests/assert.ts";
import {
  addEventRun,
  type EventRuns,
  eventRunsCount,
  eventRunsFrom,
  forEachEventOrigin,
  renumberStreams,
} from "./event_runs.ts";

Deno.test("addEventRun() merges runs whose numbers follow on, of one transport and stream", async (t) => {
  const cases: [string, [number, number, "udp" | "tcp", number][], EventRuns][] = [
    ["following on, one transport", [[10, 2, "tcp", 0], [12, 3, "tcp", 0]], [10, 5, 2, 0]],
    ["a gap in the numbers", [[10, 2, "tcp", 0], [20, 3, "tcp", 0]], [10, 2, 2, 0, 20, 3, 2, 0]],
    ["another transport", [[10, 2, "tcp", 0], [12, 3, "udp", 0]], [10, 2, 2, 0, 12, 3, 1, 0]],
    ["another stream", [[10, 2, "tcp", 0], [12, 3, "tcp", 1]], [10, 2, 2, 0, 12, 3, 2, 1]],
    ["an empty run", [[10, 2, "tcp", 0], [12, 0, "udp", 0]], [10, 2, 2, 0]],
  ];
  for (const [name, adds, expected] of cases) {
    await t.step(name, () => {
      const runs: EventRuns = [];
      for (const [sequence, count, transport, stream] of adds) {
        addEventRun(runs, sequence, count, { transport, stream });
      }
      assertEquals(runs, expected);
    });
  }
});

Deno.test("eventRunsFrom() keeps the numbers of the events after those skipped", () => {
  const runs = [100, 3, 2, 0, 500, 2, 1, 1];
  assertEquals(eventRunsFrom(runs, 0), runs);
  assertEquals(eventRunsFrom(runs, 1), [101, 2, 2, 0, 500, 2, 1, 1]);
  assertEquals(eventRunsFrom(runs, 4), [501, 1, 1, 1]);
  assertEquals(eventRunsFrom(runs, 5), []);
  assertEquals(eventRunsCount(eventRunsFrom(runs, 2)), 3);
});

Deno.test("renumberStreams() maps each run's stream and leaves the rest", () => {
  assertEquals(renumberStreams([100, 3, 2, 0, 500, 2, 1, 1], [4, 7]), [100, 3, 2, 4, 500, 2, 1, 7]);
});

Deno.test("forEachEventOrigin() numbers each event and gives events past the runs none", () => {
  const seen: [number, number, string, number][] = [];
  forEachEventOrigin([7, 2, 1, 0, 40, 1, 3, 5], 4, (i, sequence, transport, stream) => {
    seen.push([i, sequence, transport, stream]);
  });
  assertEquals(seen, [[0, 7, "udp", 0], [1, 8, "udp", 0], [2, 40, "tls", 5], [3, -1, "unknown", 0]]);
});
