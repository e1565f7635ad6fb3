import { assertEquals } from "../../tests/assert.ts";
import { CachedProbe, judgeReadiness, type ReadinessState } from "./readiness.ts";

const healthy: ReadinessState = {
  started: true,
  stopping: false,
  spoolError: undefined,
  pressure: undefined,
  failingForMs: undefined,
  failingLimitMs: 300_000,
};

Deno.test("judgeReadiness() is ready only when started, not stopping, writable, unpressed and delivering", async (t) => {
  const cases: [Partial<ReadinessState>, string[]][] = [
    [{}, []],
    [{ started: false }, ["starting: listeners not serving yet"]],
    [{ stopping: true }, ["shutting down"]],
    [{ spoolError: "Permission denied" }, ["spool not writable: Permission denied"]],
    [{ pressure: "spool_full" }, ["spool full (--spool-max-size): TCP/TLS held back, UDP dropped"]],
    [{ pressure: "worker_backlog" }, ["records are built slower than messages arrive"]],
    [{ failingForMs: 299_999 }, []],
    [{ failingForMs: 300_000 }, ["delivery failing for 300 s (--ready-delivery-timeout 300)"]],
    [{ failingForMs: 10_000_000, failingLimitMs: 0 }, []],
    [{ stopping: true, spoolError: "x" }, ["shutting down", "spool not writable: x"]],
    [{ credentialsError: "Could not load credentials" }, ["no AWS credentials: Could not load credentials"]],
    [{ refusing: { forMs: 4_999, reason: "AccessDeniedException: no" }, refusingLimitMs: 5_000 }, []],
    [
      { refusing: { forMs: 5_000, reason: "AccessDeniedException: no" }, refusingLimitMs: 5_000 },
      ["the sink refuses every record (for 5 s): AccessDeniedException: no"],
    ],
  ];
  for (const [change, problems] of cases) {
    await t.step(JSON.stringify(change), () => {
      assertEquals(judgeReadiness({ ...healthy, ...change }), { ready: problems.length === 0, problems });
    });
  }
});

Deno.test("CachedProbe runs its check at most once per interval and reports each failed run once", async () => {
  let runs = 0;
  let failing = false;
  const errors: string[] = [];
  const probe = new CachedProbe(
    () => {
      runs++;
      return failing ? Promise.reject(new Error("read-only file system")) : Promise.resolve();
    },
    1_000,
    (error) => errors.push(error),
  );
  assertEquals(await probe.result(0), undefined);
  failing = true;
  assertEquals(await probe.result(999), undefined, "the last run's answer, within the interval");
  assertEquals(runs, 1);
  assertEquals(await probe.result(1_000), "read-only file system");
  assertEquals(await probe.result(1_500), "read-only file system");
  assertEquals([runs, errors], [2, ["read-only file system"]]);
});
