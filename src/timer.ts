/**
 * Delays as timers take them. `setTimeout` and `setInterval` (HTML, Node, Deno) keep a delay
 * in a signed 32-bit count of ms: a larger one is taken as 1 ms and fires at once, so a huge
 * timeout would turn into none. Every delay that comes from the configuration passes through
 * {@linkcode timerDelay} where it is scheduled.
 *
 * @module
 */

/** The longest delay a timer keeps, in ms: 2^31 - 1, about 24.8 days. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `ms` as a timer keeps it: at most {@linkcode MAX_TIMER_MS}, at least 0.
 *
 * @example
 * ```ts
 * setTimeout(fire, timerDelay(99_999_999_999_999)); // fires in 24.8 days, not at once
 * ```
 */
export function timerDelay(ms: number): number {
  return Number.isNaN(ms) ? 0 : Math.min(Math.max(0, ms), MAX_TIMER_MS);
}
