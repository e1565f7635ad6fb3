/**
 * A rate limit per source address: a token bucket for each (rsyslog's `ratelimit.interval`
 * and `ratelimit.burst`, Fluent Bit's `throttle`, as one rule): `messages` per second on
 * average, `burst` at once, the excess refused. Pure: the clock is passed in.
 *
 * @module
 */

/**
 * Source addresses whose buckets are remembered, at most: 65,536 buckets of about 100 bytes.
 * Past it the least recently used is forgotten (and starts full when it sends again), so a
 * fleet of addresses cannot grow the map; it can only earn each forgotten address a burst.
 */
export const MAX_TRACKED_SOURCES = 65_536;

/** Options of {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /** Messages per second, on average. */
  messages: number;
  /** Messages at once, at most (the bucket's size). */
  burst: number;
  /**
   * Buckets remembered at most.
   * @default {MAX_TRACKED_SOURCES}
   */
  maxSources?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets per source.
 *
 * @example
 * ```ts
 * const limit = new RateLimiter({ messages: 10, burst: 20 });
 * limit.take("10.0.0.1", 25, Date.now()); // 20: the burst; 5 refused
 * ```
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxSources: number;
  readonly #buckets = new Map<string, Bucket>();

  /** Creates the limiter; see {@linkcode RateLimiterOptions}. */
  constructor(options: RateLimiterOptions) {
    this.#rate = options.messages / 1000;
    this.#burst = options.burst;
    this.#maxSources = options.maxSources ?? MAX_TRACKED_SOURCES;
  }

  /** Takes up to `count` messages of `source` at `nowMs`; returns how many pass (the rest are over the limit). */
  take(source: string, count: number, nowMs: number): number {
    let bucket = this.#buckets.get(source);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxSources) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { tokens: this.#burst, at: nowMs };
    } else {
      // Most recently used last: the first key is the one to forget.
      this.#buckets.delete(source);
      bucket.tokens = Math.min(this.#burst, bucket.tokens + Math.max(0, nowMs - bucket.at) * this.#rate);
      bucket.at = nowMs;
    }
    this.#buckets.set(source, bucket);
    const passed = Math.min(count, Math.floor(bucket.tokens));
    bucket.tokens -= passed;
    return passed;
  }

  /** Sources remembered now. */
  get sources(): number {
    return this.#buckets.size;
  }
}
