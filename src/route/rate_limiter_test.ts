import { assertEquals } from "../../tests/assert.ts";
import { RateLimiter } from "./rate_limiter.ts";

Deno.test("RateLimiter passes the burst at once and then the rate", () => {
  const limit = new RateLimiter({ messages: 10, burst: 20 });
  assertEquals(limit.take("a", 25, 0), 20);
  assertEquals(limit.take("a", 5, 0), 0);
  assertEquals(limit.take("a", 5, 300), 3);
  assertEquals(limit.take("a", 100, 10_300), 20);
});

Deno.test("RateLimiter keeps a bucket per source", () => {
  const limit = new RateLimiter({ messages: 1, burst: 2 });
  assertEquals(limit.take("a", 5, 0), 2);
  assertEquals(limit.take("b", 5, 0), 2);
  assertEquals(limit.take("a", 1, 0), 0);
});

Deno.test("RateLimiter forgets the least recently used source past its bound", () => {
  const limit = new RateLimiter({ messages: 1, burst: 1, maxSources: 2 });
  limit.take("a", 1, 0);
  limit.take("b", 1, 0);
  limit.take("a", 1, 0);
  limit.take("c", 1, 0);
  assertEquals(limit.sources, 2);
  // "b" was forgotten, not "a": "a" is still empty.
  assertEquals(limit.take("a", 1, 0), 0);
  assertEquals(limit.take("b", 1, 0), 1);
});
