/**
 * Pacing of one delivery stream at its quota. Firehose gives each stream a quota of bytes,
 * records and calls per second (1 MiB/s, 100,000 records/s and 1,000 calls/s in most regions;
 * 5 MiB/s, 500,000 and 2,000 in the largest:
 * https://docs.aws.amazon.com/firehose/latest/dev/limits.html) and refuses what goes past it
 * record by record ("Slow down.") or, past the calls quota, whole calls. The quota is not
 * published to the client, and it is the stream's, shared by every caller: a relay that is
 * one of a fleet on one stream cannot tell its share from the quota. So the pacer does what
 * TCP flows sharing a link do (CUBIC, RFC 9438): it reads a refusal as "the callers together
 * went past the quota", not as the quota, and lets the fleet converge on fair shares.
 *
 * A per-record refusal does not say whether bytes or records ran out, so both are learned as
 * one byte rate: at the default quotas a stream is records-bound only for records under
 * 11 bytes (1 MiB / 100,000), which a gzip record never is, and where a stream's records
 * quota was set lower, its byte equivalent at the relay's steady record size is what the
 * pacer finds. Whole calls refused are learned as a call rate.
 *
 * - Until the first refusal a stream is not paced; the first sets each rate from what the
 *   stream accepted over the last {@linkcode RATE_WINDOW_MS} (at least one second).
 * - A later refusal (taken once a second at most) marks the relay's own sending rate as the
 *   ceiling (what it sent of late, not what was accepted: a relay whose records others'
 *   took the room of would otherwise read its shrinking share as the quota and starve) and
 *   cuts the rate to {@linkcode CUT} of it. A ceiling lower than the last one
 *   is lowered further (CUBIC's fast convergence): a caller that joined gets room sooner.
 * - While the pacer is what holds records back, the rate climbs back along a cubic curve:
 *   to the ceiling, slowly around it, then ever faster past it. The curve's constant is the
 *   same for every relay ({@linkcode CURVE_GROWTH} of {@linkcode CURVE_REFERENCE} over
 *   {@linkcode CURVE_S}), not a share of each one's rate: two relays grow by the same bytes
 *   per second and a refusal cuts the larger by more, so their shares converge. The deep cut
 *   costs little of the quota: the service's bucket keeps one second of it, which the
 *   callers spend when they climb past the quota again.
 * - After a refusal the bucket is refilled to {@linkcode RETRY_SHARE} of the refused
 *   record's size (the service's bucket was short of it, likely by little; the uploader
 *   times the record's own next try), and the rate never drops below the refused record's
 *   size per second: a relay of a fleet whose records are large for the quota keeps asking
 *   once a second instead of being paced to a standstill.
 * - Calls are sized and timed by token buckets of one second's worth at the learned rates, the
 *   way the service meters them: a 1 MiB/s stream is sent about 1 MiB each second, not a
 *   4 MiB call that is three quarters refused and then a long pause.
 *
 * Pure: the clock is passed in.
 *
 * @module
 */

/** The span over which accepted and sent traffic is measured, in ms (several full records at 1 MiB/s). */
export const RATE_WINDOW_MS = 5_000;
/**
 * What a refusal leaves of the ceiling it found (CUBIC's beta is 0.7, RFC 9438 section 4.6;
 * half, as TCP Reno's, made two and three relays converge on fair shares within seconds
 * instead of half a minute, and the service's one-second bucket keeps the deeper dip from
 * costing any of the quota: measured in `tests/fleet_test.ts`).
 */
export const CUT = 0.5;
/**
 * The cubic curve the rate climbs after a cut: `rate = ceiling + c (t - K)^3`, back at the
 * ceiling after K seconds, where `c` is {@linkcode CURVE_GROWTH} of the curve's reference
 * rate per {@linkcode CURVE_S} seconds cubed: a rate grows past its ceiling by 15% of the
 * reference {@linkcode CURVE_S} seconds after reaching it, by 120% after twice that.
 */
export const CURVE_S = 1.5;
/** See {@linkcode CURVE_S}. */
export const CURVE_GROWTH = 0.15;
/**
 * The curve's reference byte rate, in bytes/s: Firehose's largest default quota (a relay
 * left alone on a 5 MiB/s stream when the others' backlogs are gone takes it up within
 * seconds). The same for every relay, so that relays sharing a stream grow alike.
 */
export const CURVE_REFERENCE = 5_242_880;
/** The curve's reference call rate, per second (a tenth of the smallest default calls quota). */
export const CURVE_REFERENCE_CALLS = 100;
/**
 * After a refusal, the share of the refused record's size left in the bucket: a record the
 * size of a second's quota is tried again after a fiftieth of its time instead of a whole one.
 */
export const RETRY_SHARE = 0.98;
/** How far above the rate sent of late a refusal's rate is still taken as the ceiling (5%). */
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
  /** The rate the last refusal came at. */
  #ceiling = Infinity;
  /** Seconds of pacing since the last cut. */
  #pacedS = 0;
  /** Seconds from the last cut back to the ceiling (the curve's K). */
  #k = 0;
  /** The curve's constant, per second cubed. */
  readonly #c: number;

  constructor(readonly minimum: number, reference: number) {
    this.#c = CURVE_GROWTH * reference / CURVE_S ** 3;
  }

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
   * A refusal of a record of `size`. The first one takes the rate accepted of late
   * (`accepted`) as the ceiling; later ones the pacer's rate, but no more than
   * {@linkcode OVERSHOOT} times what it sent of late (`sent`: the rate may have climbed past
   * what the relay had to send). A ceiling below the last one is lowered halfway to the cut
   * (fast convergence). The rate drops to {@linkcode CUT} of the ceiling (no lower than
   * `size` per second), and the bucket is emptied but for a retry.
   */
  refused(accepted: number, sent: number, size: number): void {
    const learned = this.rate !== Infinity;
    const at = learned ? Math.min(this.rate, Math.max(accepted, OVERSHOOT * sent)) : accepted;
    this.#ceiling = Math.max(this.minimum, learned && at < this.#ceiling ? at * (1 + CUT) / 2 : at);
    this.rate = Math.max(this.minimum, size, CUT * this.#ceiling);
    this.#ceiling = Math.max(this.#ceiling, this.rate);
    this.#pacedS = 0;
    this.#k = Math.cbrt((this.#ceiling - this.rate) / this.#c);
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
    this.rate = Math.max(this.minimum, this.#ceiling + this.#c * (this.#pacedS - this.#k) ** 3);
  }
}

/** The pacing of one stream. */
export class StreamPacer {
  readonly #bytes = new Bucket(MIN_BYTES_PER_SECOND, CURVE_REFERENCE);
  readonly #calls = new Bucket(MIN_PER_SECOND, CURVE_REFERENCE_CALLS);
  #last: number;
  /** Accepted traffic: [time, bytes, calls], oldest first, within the window. */
  readonly #accepted: [number, number, number][] = [];
  /** Traffic let go: [time, bytes, calls], oldest first, within the window. */
  readonly #sent: [number, number, number][] = [];
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
    this.#sent.push([now, bytes, 1]);
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
   * refused for the quota (undefined when none was). A refusal cuts the byte rate (at most
   * once per {@linkcode CUT_INTERVAL_MS}); a call without one lets it grow while records are
   * held back.
   */
  result(now: number, accepted: { bytes: number; records: number }, throttledBytes: number | undefined): void {
    this.#refill(now);
    this.#accepted.push([now, accepted.bytes, 1]);
    if (throttledBytes !== undefined) {
      if (now - this.#cutAt >= CUT_INTERVAL_MS) {
        this.#cutAt = now;
        this.#bytes.refused(this.#rate(this.#accepted, now, 1), this.#rate(this.#sent, now, 1), throttledBytes);
      } else {
        this.#bytes.retry(throttledBytes);
      }
    }
    this.#holding = false;
  }

  /** A whole call refused for the quota: the call rate is cut as the byte rate is for a record. */
  callThrottled(now: number): void {
    this.#refill(now);
    if (now - this.#cutAt < CUT_INTERVAL_MS) return;
    this.#cutAt = now;
    this.#calls.refused(this.#rate(this.#accepted, now, 2), this.#rate(this.#sent, now, 2), 1);
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
    while (this.#sent.length > 0 && this.#sent[0]![0] <= now - RATE_WINDOW_MS) this.#sent.shift();
  }

  /**
   * The rate of `traffic` (accepted or sent) of late per second, of field `field` (1 bytes,
   * 2 calls): over the window, the traffic after its first entry divided by the time since
   * it (while records wait, acceptances follow the service's refill, so this is its rate);
   * with fewer than two entries, all of it over the time since first use, at least one second.
   */
  #rate(traffic: [number, number, number][], now: number, field: 1 | 2): number {
    const entries = traffic.filter((a) => a[field] > 0);
    const span = entries.length >= 2 ? (entries.at(-1)![0] - entries[0]![0]) / 1000 : 0;
    if (span >= 0.5) {
      let sum = 0;
      for (let i = 1; i < entries.length; i++) sum += entries[i]![field];
      return sum / span;
    }
    let sum = 0;
    for (const a of entries) sum += a[field];
    return sum / Math.max(1, Math.min(RATE_WINDOW_MS, now - (this.#since ?? now)) / 1000);
  }
}
