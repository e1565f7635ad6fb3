import { assertEquals } from "../../tests/assert.ts";
import { key } from "../../tests/keys.ts";
import { addRun, type Runs } from "./journal_runs.ts";
import { MemoryLedger } from "./memory_ledger.ts";

function block(ledger: MemoryLedger, runs: Runs, count: number): void {
  ledger.begin(key("/k/syslog/2514", "10.0.0.1"));
  for (let i = 0; i < count; i++) ledger.add(new Uint8Array(1), 0);
  const { segment, count: n } = ledger.end();
  addRun(runs, segment, n);
}

const settled = async (promise: Promise<void>) => {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
};

Deno.test("MemoryLedger: spooled() waits for every event counted before it, not for later ones", async () => {
  const ledger = new MemoryLedger();
  const first: Runs = [];
  block(ledger, first, 3);
  const wait = ledger.spooled();
  const later: Runs = [];
  block(ledger, later, 2);
  assertEquals(await settled(wait), false);
  // Spooled in two parts (a record's hand-back), the later events still waiting.
  ledger.release([first[0]!, 2]);
  assertEquals(await settled(wait), false);
  ledger.release([first[0]!, 1]);
  assertEquals(await settled(wait), true);
  // Nothing held under the tickets asked for: at once.
  const none = new MemoryLedger();
  assertEquals(await settled(none.spooled()), true);
});

Deno.test("MemoryLedger: close() ends every wait", async () => {
  const ledger = new MemoryLedger();
  block(ledger, [], 1);
  const wait = ledger.spooled();
  ledger.close();
  assertEquals(await settled(wait), true);
});
