import { MAX_RECORD_BYTES } from "../batch/record_builder.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { checkRecord } from "../spool/record_check.ts";
import type { SpoolDir, SpoolEntry } from "../spool/spool_dir.ts";
import { type RecordSink, SinkError, type SinkRecord, THROTTLE_CODES } from "./record_sink.ts";

/**
 * Most records in one PutRecordBatch call
 * (https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html).
 */
export const MAX_BATCH_RECORDS = 500;
/** Most bytes in one PutRecordBatch call, before base64 (same page: "4 MiB per call"). */
export const MAX_BATCH_BYTES = 4_194_304;
/** First retry delay, in ms; each further failure doubles it, up to the cap. */
export const RETRY_BASE_MS = 100;
/** Longest retry delay, in ms. */
export const RETRY_CAP_MS = 30_000;
/**
 * Adaptive slowdown. Each call with a throttled record (a per-record
 * `ServiceUnavailableException` "Slow down" in a 200 response, or a throttled call) halves
 * the records sent per call and doubles the pause between calls (from this first pause);
 * each call without one grows the records per call by a quarter and shrinks the pause by a
 * quarter, down to none; a call that empties the queue unthrottled ends the slowdown. Records
 * and pause together set the rate, so it settles near what the stream accepts instead of
 * resending most of each call.
 */
export const PACE_MIN_MS = 100;
/** Longest pause between calls after throttling, in ms. */
export const PACE_MAX_MS = 10_000;
/** Longest retry delay during the last delivery attempt at shutdown, in ms. */
export const DRAIN_RETRY_CAP_MS = 500;

/** Options of {@linkcode Uploader}. */
export interface UploaderOptions {
  /** The spool the records live in. */
  spool: SpoolDir;
  /** Where records go. */
  sink: RecordSink;
  /** Counters. */
  metrics: Metrics;
  /** Logs. */
  log: Logger;
  /** Called after records left the spool (delivered or quarantined). */
  onRemoved?: (bytes: number, records: number) => void;
  /** The clock, in ms. @default {Date.now} */
  now?: () => number;
  /** Random numbers in [0, 1) for jitter. @default {Math.random} */
  random?: () => number;
}

interface Pending extends SpoolEntry {
  /** Delivered or set aside: no longer in play (removed from the queue lazily). */
  done: boolean;
  /** Failed attempts so far. */
  attempts: number;
  /** Not to be sent before this clock reading. */
  notBefore: number;
  /** Send alone: a batch holding it was refused as invalid. */
  alone: boolean;
  /** Left by an earlier run: checked (`record_check.ts`) before it is sent. */
  verify: boolean;
}

/**
 * Delivers spooled records, oldest first, in calls of at most 500 records and 4 MiB. A
 * record's file is deleted only once the sink accepted it. Failed records are retried with
 * exponential backoff and full jitter; a call refused as invalid is split into single
 * records, and a single record refused as invalid is quarantined, so it never blocks others.
 */
export class Uploader {
  readonly #o: UploaderOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  #queue: Pending[] = [];
  /** Entries of the queue marked done and not yet compacted away. */
  #done = 0;
  #callFailures = 0;
  #pausedUntil = 0;
  /** Pause between calls while Firehose throttles, in ms (0 when it does not). */
  #pace = 0;
  /** Records per call now (fewer while Firehose throttles). */
  #window: number = MAX_BATCH_RECORDS;
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #stopping = false;
  /** Shutting down: retries are capped at {@linkcode DRAIN_RETRY_CAP_MS}. */
  #draining = false;
  /** When deliveries began failing with nothing delivered since; undefined while delivering. */
  #failingSince: number | undefined;

  /** Creates an uploader; call {@linkcode Uploader.start}. */
  constructor(options: UploaderOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /**
   * Queues records that are now in the spool, in order (oldest first); with `verify`, each
   * is checked before it is sent, and a damaged one is quarantined.
   */
  add(entries: readonly SpoolEntry[], options: { verify?: boolean } = {}): void {
    const verify = options.verify ?? false;
    const now = this.#now();
    // A failure streak ends when nothing is left to deliver (records set aside), not only on a delivery.
    if (this.pendingRecords === 0) this.#failingSince = undefined;
    for (const e of entries) this.#queue.push({ ...e, done: false, attempts: 0, notBefore: now, alone: false, verify });
    this.#signal();
  }

  /** Records waiting for delivery (including the call in flight). */
  get pendingRecords(): number {
    return this.#queue.length - this.#done;
  }

  /**
   * Clock reading at which deliveries began failing (a failed call or record) with no record
   * delivered since; `undefined` while records are delivered or none wait.
   */
  get failingSince(): number | undefined {
    return this.pendingRecords === 0 ? undefined : this.#failingSince;
  }

  /** The pause between calls that throttling imposes now, in ms. */
  get paceMs(): number {
    return this.#pace;
  }

  /** The name of the oldest record waiting, if any (the queue is in spool order, oldest first). */
  get oldestPending(): string | undefined {
    return this.#queue.find((p) => !p.done)?.name;
  }

  /** Starts the delivery loop. */
  start(): void {
    this.#running ??= this.#loop();
  }

  /**
   * Stops the loop after the call in flight. With `deadline`, first keeps delivering
   * until the queue is empty or the clock passes the deadline, with retries shortened so
   * the attempt fits.
   */
  async stop(deadline?: number): Promise<void> {
    if (deadline !== undefined) {
      // The last attempts: whatever waits for a retry is due now, and retries come quickly.
      this.#draining = true;
      const now = this.#now();
      this.#pausedUntil = Math.min(this.#pausedUntil, now);
      for (const p of this.#queue) p.notBefore = Math.min(p.notBefore, now);
      this.#signal();
      while (this.pendingRecords > 0 && this.#now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    this.#stopping = true;
    this.#signal();
    await this.#running;
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      const now = this.#now();
      if (now < this.#pausedUntil) {
        await this.#sleep(this.#pausedUntil - now);
        continue;
      }
      const batch = this.#pick(now);
      if (batch.length === 0) {
        let next = Infinity;
        for (const p of this.#queue) if (!p.done) next = Math.min(next, p.notBefore);
        await this.#sleep(next === Infinity ? undefined : Math.max(1, next - now));
        continue;
      }
      try {
        await this.#send(batch);
        if (this.#pace > 0) {
          const pace = this.#draining ? Math.min(this.#pace, DRAIN_RETRY_CAP_MS) : this.#pace;
          this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + pace);
        }
      } catch (error) {
        // A local failure (deleting or moving a spool file): keep going after a pause.
        this.#o.log.limited("error", "uploader", "Delivery loop failed; retrying", {
          error: (error as Error).message,
        });
        this.#pausedUntil = this.#now() + RETRY_CAP_MS / 30;
      }
    }
  }

  /** Oldest-first records that are due, within the call limits. */
  #pick(now: number): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    for (const p of this.#queue) {
      if (p.done || p.notBefore > now) continue;
      if (p.alone) {
        if (batch.length === 0) batch.push(p);
        break;
      }
      if (batch.length >= this.#window || bytes + p.bytes > MAX_BATCH_BYTES) break;
      batch.push(p);
      bytes += p.bytes;
    }
    return batch;
  }

  async #send(batch: Pending[]): Promise<void> {
    const { spool, sink, metrics, log } = this.#o;
    const records: SinkRecord[] = [];
    const sent: Pending[] = [];
    for (const p of batch) {
      let data: Uint8Array;
      try {
        data = await spool.read(p.name);
      } catch (error) {
        log.error("Cannot read spooled record; leaving it for the next start", {
          record: p.name,
          error: (error as Error).message,
        });
        this.#forget(p);
        continue;
      }
      if (data.length > MAX_RECORD_BYTES || data.length === 0) {
        await this.#quarantine(p, `record of ${data.length} bytes is outside 1..${MAX_RECORD_BYTES}`);
        continue;
      }
      if (p.verify) {
        const damage = checkRecord(data);
        if (damage !== undefined) {
          await this.#quarantine(p, damage, "damaged");
          continue;
        }
        p.verify = false;
      }
      records.push({ name: p.name, data });
      sent.push(p);
    }
    if (records.length === 0) return;

    let results;
    const timer = metrics.putDuration.startTimer();
    try {
      results = await sink.put(records);
      timer();
      metrics.putCalls.inc({ result: "ok" });
      this.#callFailures = 0;
    } catch (error) {
      timer();
      const e = error instanceof SinkError ? error : new SinkError((error as Error).message, "Error");
      metrics.putCalls.inc({ result: e.code });
      if (e.options.throttled) {
        metrics.throttles.inc();
        this.#slowDown();
      }
      if (e.options.expiredCredentials) {
        metrics.credentialRefreshes.inc();
        log.warn("Firehose refused the credentials as expired; fetching new ones", { error: e.message });
      }
      if (e.options.invalid) {
        if (sent.length === 1) {
          await this.#quarantine(sent[0]!, e.message);
        } else {
          log.warn("Firehose refused a batch as invalid; sending its records one by one", {
            records: sent.length,
            error: e.message,
          });
          for (const p of sent) p.alone = true;
        }
        return;
      }
      this.#callFailures++;
      this.#failingSince ??= this.#now();
      const delay = this.#backoff(this.#callFailures);
      this.#pausedUntil = this.#now() + delay;
      metrics.recordsFailed.inc({ code: e.code }, sent.length);
      metrics.recordRetries.inc(sent.length);
      log.limited("warn", "put-failed", "PutRecordBatch failed; retrying", {
        error: e.message,
        records: sent.length,
        retryInMs: Math.round(delay),
      });
      return;
    }
    let delivered = 0;
    let deliveredBytes = 0;
    let throttled = 0;
    const now = this.#now();
    for (let i = 0; i < sent.length; i++) {
      const p = sent[i]!;
      const result = results[i]!;
      if (result.ok) {
        await spool.remove(p.name);
        this.#forget(p);
        delivered++;
        deliveredBytes += p.bytes;
        continue;
      }
      p.attempts++;
      this.#failingSince ??= now;
      metrics.recordsFailed.inc({ code: result.code });
      metrics.recordRetries.inc();
      if (THROTTLE_CODES.test(result.code)) {
        // Throttling is about the stream's rate, not this record: the slowdown of every
        // call paces its retry, not a backoff of its own.
        metrics.throttles.inc();
        throttled++;
        p.notBefore = now;
      } else {
        p.notBefore = now + this.#backoff(p.attempts);
      }
      log.limited("warn", `record-failed-${result.code}`, "Firehose did not accept a record; retrying", {
        code: result.code,
        error: result.message,
        attempts: p.attempts,
      });
    }
    if (throttled > 0) this.#slowDown();
    else if (this.pendingRecords === 0) {
      // Caught up without being throttled: the stream takes what comes.
      this.#pace = 0;
      this.#window = MAX_BATCH_RECORDS;
    } else {
      this.#pace = this.#pace * 0.75 < PACE_MIN_MS ? 0 : this.#pace * 0.75;
      this.#window = Math.min(MAX_BATCH_RECORDS, Math.ceil(this.#window * 1.25));
    }
    metrics.recordsDelivered.inc(delivered);
    metrics.deliveredBytes.inc(deliveredBytes);
    if (delivered > 0) {
      this.#failingSince = undefined;
      metrics.lastDelivery.set(now / 1000);
      this.#o.onRemoved?.(deliveredBytes, delivered);
    }
  }

  /** Sets a record aside: `invalid` when Firehose refused it, `damaged` when the file is not a record. */
  async #quarantine(p: Pending, reason: string, why: "invalid" | "damaged" = "invalid"): Promise<void> {
    const { spool, metrics, log } = this.#o;
    if (why === "damaged") {
      log.error("Spooled record damaged; moved to quarantine, not sent", { record: p.name, reason });
      metrics.corruptFiles.inc({ kind: "spool" });
    } else {
      log.error("Record rejected as invalid; moved to quarantine", { record: p.name, reason });
      metrics.recordsQuarantined.inc();
    }
    try {
      await spool.quarantine(p.name);
    } catch (error) {
      log.error("Cannot move record to quarantine", { record: p.name, error: (error as Error).message });
    }
    this.#forget(p);
    this.#o.onRemoved?.(p.bytes, 1);
  }

  #forget(p: Pending): void {
    if (p.done) return;
    p.done = true;
    // Compact once half the queue is done: amortized O(1) per record.
    if (++this.#done * 2 > this.#queue.length) {
      this.#queue = this.#queue.filter((q) => !q.done);
      this.#done = 0;
    }
  }

  /** Firehose asked to slow down: fewer records per call, and a longer pause between calls. */
  #slowDown(): void {
    this.#pace = Math.min(PACE_MAX_MS, Math.max(PACE_MIN_MS, this.#pace * 2));
    this.#window = Math.max(1, Math.floor(this.#window / 2));
  }

  /** Full jitter: uniform in [0, min(cap, base * 2^attempts)). */
  #backoff(attempts: number): number {
    const cap = this.#draining ? DRAIN_RETRY_CAP_MS : RETRY_CAP_MS;
    return this.#random() * Math.min(cap, RETRY_BASE_MS * 2 ** attempts);
  }

  #sleep(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  #signal(): void {
    this.#wake?.();
  }
}
