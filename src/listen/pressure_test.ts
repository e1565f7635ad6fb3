import { assertEquals } from "../../tests/assert.ts";
import { Pressure } from "./pressure.ts";

Deno.test("Pressure names the first bound crossed, and ready(except) still waits for the others", async () => {
  const state = { spool: 10, backlog: 0, journal: 0 };
  const pressure = new Pressure({
    spoolBytes: () => state.spool,
    spoolMaxBytes: 10,
    backlogBytes: () => state.backlog,
    maxBacklogBytes: 5,
    journalBacklogBytes: () => state.journal,
  });
  assertEquals(pressure.reason(), "spool_full");
  assertEquals(pressure.ready("spool_full"), undefined, "a full spool alone does not hold back the replay");
  state.backlog = 5;
  assertEquals(pressure.reason(), "spool_full");
  assertEquals(pressure.reason("spool_full"), "worker_backlog");
  let resolved = false;
  const waiting = pressure.ready("spool_full")!.then(() => (resolved = true));
  await new Promise((resolve) => setTimeout(resolve, 60));
  assertEquals(resolved, false, "the worker backlog still holds it back");
  state.backlog = 0;
  await waiting;
  assertEquals(resolved, true);
  pressure.release();
  assertEquals(pressure.reason(), undefined);
});
