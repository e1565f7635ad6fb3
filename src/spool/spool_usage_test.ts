import { assertEquals } from "../../tests/assert.ts";
import { SpoolUsage } from "./spool_usage.ts";

Deno.test("SpoolUsage counts records, the journal and the workers' backlog; a failing write counts as the bound reached", () => {
  let backlog = 100;
  const journal = { diskBytes: 1_000, backlogBytes: 10 };
  const usage = new SpoolUsage(() => backlog, journal);
  assertEquals(usage.found([{ name: "a", bytes: 5_000 }]), 5_000);
  assertEquals(usage.written([{ name: "b", bytes: 300 }, { name: "c", bytes: 200 }]), 500);
  assertEquals([usage.bytes, usage.records, usage.counted], [5_500, 3, 5_500 + 100 + 1_010]);
  usage.writeError = "No space left on device (os error 28)";
  assertEquals(usage.counted, Infinity);
  usage.found([{ name: "d", bytes: 1 }]);
  assertEquals(usage.counted, Infinity, "records found do not say the spool writes");
  usage.written([]);
  usage.removed(5_001, 2);
  backlog = 0;
  assertEquals([usage.bytes, usage.records, usage.counted], [500, 2, 500 + 1_010]);
  assertEquals(new SpoolUsage(() => 7, undefined).counted, 7, "without a journal");
});
