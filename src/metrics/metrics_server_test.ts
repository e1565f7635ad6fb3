import { assertEquals } from "../../tests/assert.ts";
import { Metrics } from "./metrics.ts";
import { metricsRoutes, RELOAD_PATH } from "./metrics_server.ts";
import { judgeReadiness } from "./readiness.ts";

const ready = () =>
  Promise.resolve(judgeReadiness({
    started: true,
    stopping: false,
    spoolError: undefined,
    pressure: undefined,
    failingForMs: undefined,
    failingLimitMs: 0,
  }));

Deno.test("metricsRoutes: POST /-/reload reloads only where given, and answers by the result", async () => {
  const results: string[] = [];
  let next = "ok";
  const routes = metricsRoutes(new Metrics(), ready, () => {
    results.push(next);
    return Promise.resolve(next);
  });
  for (
    const [result, status] of [["ok", 200], ["unchanged", 200], ["invalid", 400], ["restart_needed", 409]] as const
  ) {
    next = result;
    const response = await routes(RELOAD_PATH, "POST");
    assertEquals([response.status, await response.json()], [status, { result }]);
  }
  const get = await routes(RELOAD_PATH, "GET");
  assertEquals([get.status, get.headers.get("allow")], [405, "POST"]);
  assertEquals((await routes("/metrics", "POST")).status, 405, "no other route takes a POST");
  assertEquals(results.length, 4, "a GET reloads nothing");
  // Without --metrics-reload: no such route, and no POST anywhere.
  const plain = metricsRoutes(new Metrics(), ready);
  assertEquals((await plain(RELOAD_PATH, "POST")).status, 405);
  assertEquals((await plain(RELOAD_PATH, "GET")).status, 404);
  assertEquals((await plain("/health", "GET")).status, 200);
});
