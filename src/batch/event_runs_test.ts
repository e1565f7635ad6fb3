import { assertEquals } from "../../tests/assert.ts";
import {
  addEventRun,
  eventOrigins,
  type EventRuns,
  eventRunsCount,
  eventRunsFrom,
  renumberStreams,
  TRANSPORTS,
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

Deno.test("eventOrigins() numbers each event and gives events past the runs none", () => {
  const { sequences, transports, streams } = eventOrigins([7, 2, 1, 0, 40, 1, 3, 5], 4);
  assertEquals([...sequences], [7, 8, 40, -1]);
  assertEquals([...transports].map((t) => TRANSPORTS[t]), ["udp", "udp", "tls", "unknown"]);
  assertEquals([...streams], [0, 0, 5, 0]);
  // More events in the runs than asked for: the first ones, no more.
  assertEquals([...eventOrigins([7, 2, 1, 0, 40, 1, 3, 5], 1).sequences], [7]);
});
