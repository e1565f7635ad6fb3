/**
 * Pacing of one delivery stream at its quota. Firehose gives each stream a quota of bytes,
 * records and calls per second (1 MiB/s, 100,000 records/s and 1,000 calls/s in most regions;
 * 5 MiB/s, 500,000 and 2,000 in the largest:
 * https://docs.aws.amazon.com/firehose/latest/dev/limits.html) and refuses what goes past it
 * record by record ("Slow down.") or, past the calls quota, whole calls. The quota is not
 * published to the client, so the pacer learns it from what the stream accepts and refuses.
 *
 * A per-record refusal does not say whether bytes or records ran out, so both are learned as
 * one byte rate: at the default quotas a stream is records-bound only for records under
 * 11 bytes (1 MiB / 100,000), which a gzip record never is, and where a stream's records
 * quota was set lower, its byte equivalent at the relay's steady record size is what the
 * pacer finds. Whole calls refused are learned as a call rate.
 *
 * - Until the first refusal a stream is not paced; the first sets each rate from what the
 *   stream accepted over the last {@linkcode RATE_WINDOW_MS} (at least one second).
 * - A refusal (taken once a second at most) marks the rate it came at as about the quota (no
 *   more than {@linkcode OVERSHOOT} times what the stream accepted of late) and cuts the rate
 *   to {@linkcode CUT} of it.
 * - While the pacer is what holds records back, the rate climbs back along a cubic curve (as
 *   TCP CUBIC probes a link): to the quota, slowly around it, then ever faster past it, so a
 *   raised quota is found within seconds and a refusal now and then keeps the rate at the
 *   quota. A record refused is tried again once {@linkcode RETRY_SHARE} of its bytes are
 *   back in the bucket: the service's bucket was short of it, likely by little.
 * - Calls are sized and timed by token buckets of one second's worth at the learned rates, the
 *   way the service meters them: a 1 MiB/s stream is sent about 1 MiB each second, not a
 *   4 MiB call that is three quarters refused and then a long pause.
 *
 * Pure: the clock is passed in.
 *
 * @module
 */

/** The span over which accepted traffic is measured, in ms (several full records at 1 MiB/s). */
export const RATE_WINDOW_MS = 5_000;
/** What a refusal leaves of the quota it found. */
export const CUT = 0.98;
/**
 * The cubic curve the rate climbs after a cut (as TCP CUBIC probes a link): it is back at the
 * rate the refusal came at after {@linkcode CURVE_S} seconds of pacing from the curve's
 * start, levels off there, then grows by {@linkcode CURVE_GROWTH} of it in the next
 * {@linkcode CURVE_S}, and ever faster after (3 times it about 6 s after a cut).
 */
export const CURVE_S = 2;
/** See {@linkcode CURVE_S}. */
export const CURVE_GROWTH = 0.15;
/**
 * After a refusal, the share of the refused record's size left in the bucket: a record the
 * size of a second's quota is tried again after a fiftieth of its time instead of a whole one.
 */
export const RETRY_SHARE = 0.98;
/** How far above the rate accepted of late a refusal's rate is still taken as the quota (5%). */
export const OVERSHOOT = 1.05;
/** Refusals within this long of a cut do not cut again, in ms. */
export const CUT_INTERVAL_MS = 1_000;
/** Lowest learned byte rate, in bytes/s (a stream is never paced to a standstill). */
export const MIN_BYTES_PER_SECOND = 16_384;
/** Lowest learned call rate, per second. */
export const MIN_PER_SECOND = 1;
/** The token buckets hold this many seconds of their rate (the service's burst is one second). */
export const BURST_SECONDS = 1;

/** A learned limit: a rate and its token bucket. */
class Bucket {
  /** Per second; Infinity while not learned. */
  rate = Infinity;
  tokens = 0;
  /** The rate the last refusal came at: about the quota. */
  #ceiling = Infinity;
  /** Seconds of pacing since the last cut. */
  #pacedS = 0;

  constructor(readonly minimum: number) {}

  refill(elapsedS: number): void {
    if (this.rate === Infinity) return;
    this.tokens = Math.min(this.rate * BURST_SECONDS, this.tokens + this.rate * elapsedS);
  }

  /** Whether `amount` may go now: the tokens cover it, or a full bucket covers what it can. */
  fits(amount: number): boolean {
    return this.rate === Infinity || this.tokens >= Math.min(amount, this.rate * BURST_SECONDS);
  }

  /** Seconds until `amount` fits. */
  waitS(amount: number): number {
    if (this.fits(amount)) return 0;
    return (Math.min(amount, this.rate * BURST_SECONDS) - this.tokens) / this.rate;
  }

  /**
   * A refusal: the quota is about the rate the refusal came at (as TCP CUBIC takes the window
   * at a loss), but no less than the rate accepted of late (`measured`) and no more than
   * {@linkcode OVERSHOOT} times that (the first time, and after an overshoot, `measured` is all
   * there is); the rate drops to {@linkcode CUT} of it (the point of the curve where it is
   * that), and the bucket is emptied but for a retry.
   */
  refused(measured: number, size: number): void {
    const at = this.rate === Infinity ? measured : Math.min(Math.max(this.rate, measured), OVERSHOOT * measured);
    this.#ceiling = Math.max(this.minimum, at);
    this.#pacedS = CURVE_S * (1 - Math.cbrt((1 - CUT) / CURVE_GROWTH));
    this.rate = Math.max(this.minimum, CUT * this.#ceiling);
    this.retry(size);
  }

  /**
   * After a refusal: a record as large as the bucket is tried again soon (the service's
   * bucket was short of it, likely by little); small ones wait for the bucket to refill.
   */
  retry(size: number): void {
    this.tokens = RETRY_SHARE * Math.min(size, this.rate * BURST_SECONDS);
  }

  /** `elapsedS` more seconds of pacing: the rate follows the cubic curve from the last cut. */
  grow(elapsedS: number): void {
    if (this.rate === Infinity) return;
    this.#pacedS += elapsedS;
    const t = (this.#pacedS - CURVE_S) / CURVE_S;
    this.rate = Math.max(this.minimum, this.#ceiling * (1 + CURVE_GROWTH * t ** 3));
  }
}

/** The pacing of one stream. */
export class StreamPacer {
  readonly #bytes = new Bucket(MIN_BYTES_PER_SECOND);
  readonly #calls = new Bucket(MIN_PER_SECOND);
  #last: number;
  /** Accepted traffic: [time, bytes, calls], oldest first, within the window. */
  readonly #accepted: [number, number, number][] = [];
  /** When the stream was first used, for a window shorter than {@linkcode RATE_WINDOW_MS}. */
  #since: number | undefined;
  /** Whether the pacer held records back since the last result (demand above the rates). */
  #holding = false;
  /** When the rates were last cut. */
  #cutAt = -Infinity;

  /** Creates the pacer of a stream at clock reading `now`, in ms. */
  constructor(now: number) {
    this.#last = now;
  }

  /** The learned rates (Infinity while not learned). */
  get rates(): { bytesPerSecond: number; callsPerSecond: number } {
    return { bytesPerSecond: this.#bytes.rate, callsPerSecond: this.#calls.rate };
  }

  /**
   * How many of the leading records (their sizes in bytes, in order) may go in one call now;
   * their bytes and the call are taken from the buckets. 0 means wait
   * {@linkcode StreamPacer.waitMs}.
   */
  take(sizes: readonly number[], now: number): number {
    this.#refill(now);
    this.#since ??= now;
    if (sizes.length === 0) return 0;
    if (!this.#calls.fits(1) || !this.#bytes.fits(sizes[0]!)) {
      this.#holding = true;
      return 0;
    }
    let n = 0;
    let bytes = 0;
    for (const size of sizes) {
      // The first record goes when a full bucket covers it; the others only within the tokens.
      const within = n === 0 || this.#bytes.rate === Infinity || this.#bytes.tokens - bytes >= size;
      if (!within) break;
      n++;
      bytes += size;
    }
    if (n < sizes.length) this.#holding = true;
    if (this.#bytes.rate !== Infinity) this.#bytes.tokens -= bytes;
    if (this.#calls.rate !== Infinity) this.#calls.tokens -= 1;
    return n;
  }

  /** Ms until a record of `size` bytes may go. */
  waitMs(size: number, now: number): number {
    this.#refill(now);
    return 1000 * Math.max(this.#calls.waitS(1), this.#bytes.waitS(size));
  }

  /**
   * The outcome of a call: the bytes and records accepted, and the size of the first record
   * refused for the quota (undefined when none was). A refusal drops the rate to just under
   * what was accepted of late; a call without one lets it grow while records are held back.
   */
  result(now: number, accepted: { bytes: number; records: number }, throttledBytes: number | undefined): void {
    this.#refill(now);
    this.#accepted.push([now, accepted.bytes, 1]);
    if (throttledBytes !== undefined) {
      if (now - this.#cutAt >= CUT_INTERVAL_MS) {
        this.#cutAt = now;
        this.#bytes.refused(this.#acceptedRate(now, 1), throttledBytes);
      } else {
        this.#bytes.retry(throttledBytes);
      }
    }
    this.#holding = false;
  }

  /** A whole call refused for the quota: the call rate drops to the calls accepted of late. */
  callThrottled(now: number): void {
    this.#refill(now);
    if (now - this.#cutAt < CUT_INTERVAL_MS) return;
    this.#cutAt = now;
    this.#calls.refused(this.#acceptedRate(now, 2), 1);
    this.#holding = false;
  }

  #refill(now: number): void {
    const elapsedS = Math.max(0, now - this.#last) / 1000;
    this.#last = now;
    if (this.#holding) {
      this.#bytes.grow(elapsedS);
      this.#calls.grow(elapsedS);
    }
    this.#bytes.refill(elapsedS);
    this.#calls.refill(elapsedS);
    while (this.#accepted.length > 0 && this.#accepted[0]![0] <= now - RATE_WINDOW_MS) this.#accepted.shift();
  }

  /**
   * What the stream accepted of late per second, of field `field` (1 bytes, 2 calls): over
   * the window, the traffic after its first acceptance divided by the time since it (while
   * records wait, acceptances follow the service's refill, so this is its rate); with fewer
   * than two acceptances, all of it over the time since first use, at least one second.
   */
  #acceptedRate(now: number, field: 1 | 2): number {
    const accepted = this.#accepted.filter((a) => a[field] > 0);
    const span = accepted.length >= 2 ? (accepted.at(-1)![0] - accepted[0]![0]) / 1000 : 0;
    if (span >= 0.5) {
      let sum = 0;
      for (let i = 1; i < accepted.length; i++) sum += accepted[i]![field];
      return sum / span;
    }
    let sum = 0;
    for (const a of accepted) sum += a[field];
    return sum / Math.max(1, Math.min(RATE_WINDOW_MS, now - (this.#since ?? now)) / 1000);
  }
}
