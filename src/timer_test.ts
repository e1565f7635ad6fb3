import { assertEquals } from "../tests/assert.ts";
import { MAX_TIMER_MS, timerDelay } from "./timer.ts";

Deno.test("timerDelay() keeps a delay within what a timer holds", async (t) => {
  const table: [number, number][] = [
    [0, 0],
    [1_500, 1_500],
    [MAX_TIMER_MS, MAX_TIMER_MS],
    [MAX_TIMER_MS + 1, MAX_TIMER_MS],
    [99_999_999_999_999_000, MAX_TIMER_MS],
    [Infinity, MAX_TIMER_MS],
    [-5, 0],
    [NaN, 0],
  ];
  for (const [ms, expected] of table) await t.step(String(ms), () => assertEquals(timerDelay(ms), expected));
});

Deno.test("a timer given timerDelay() of a huge delay does not fire at once (without it, it does)", async () => {
  let clamped = false;
  let raw = false;
  const a = setTimeout(() => (clamped = true), timerDelay(99_999_999_999_999));
  // Node's and Deno's timers take a delay past 2^31 - 1 ms as 1 ms.
  const b = setTimeout(() => (raw = true), 99_999_999_999_999);
  await new Promise((resolve) => setTimeout(resolve, 50));
  clearTimeout(a);
  clearTimeout(b);
  assertEquals({ clamped, raw }, { clamped: false, raw: true });
});
