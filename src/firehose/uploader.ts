import { MAX_RECORD_BYTES } from "../batch/record_builder.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { checkRecord } from "../spool/record_check.ts";
import type { SpoolDir, SpoolEntry } from "../spool/spool_dir.ts";
import { isRefusal, type RecordSink, SinkError, type SinkRecord, THROTTLE_CODES } from "./record_sink.ts";
import { StreamPacer } from "./stream_pacer.ts";
import { releaseBuffer } from "../release_buffer.ts";
import { timerDelay } from "../timer.ts";

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
/** Longest retry delay during the last delivery attempt at shutdown, in ms. */
export const DRAIN_RETRY_CAP_MS = 500;
/** Pause between attempts to delete delivered records whose files could not be deleted, in ms. */
export const DELETE_RETRY_MS = 1_000;
/** Failed calls in a row (nothing accepted, not for the quota) that take a destination out of rotation. */
export const OUT_AFTER_FAILED_CALLS = 2;
/**
 * How long a destination may refuse every record for its quota (a quota of zero, a stream
 * throttled to a standstill) before it is taken out of rotation while another is in it, in
 * ms. A relay's only destination is never taken out for its quota: pacing times its calls.
 */
export const OUT_AFTER_THROTTLED_MS = 2_000;
/** Longest pause between probes of a destination out of rotation, in ms. */
export const PROBE_CAP_MS = 5_000;

/** Options of {@linkcode Uploader}. */
export interface UploaderOptions {
  /** The spool the records live in. */
  spool: SpoolDir;
  /** Where records go: one or more destinations (delivery streams), each paced on its own. */
  sinks: readonly NamedSink[];
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

/** A destination of records and the name its metrics carry (`stream` label). */
export interface NamedSink {
  /** The delivery stream's name (or `local` for a directory). */
  name: string;
  /** Where the records go. */
  sink: RecordSink;
}

/** What the uploader knows of a destination: its learned rate and whether records go to it. */
export interface StreamState {
  name: string;
  /** Infinity while it has refused nothing for its quota. */
  bytesPerSecond: number;
  inRotation: boolean;
}

/** A destination as the uploader drives it: one call in flight at most, paced at its quota. */
interface Lane extends NamedSink {
  pacer: StreamPacer;
  /** A call is in flight. */
  busy: boolean;
  /** After a failed call: no call before this clock reading. */
  pausedUntil: number;
  /** Failed calls in a row. */
  callFailures: number;
  /**
   * Whether records go to it: false once it failed {@linkcode OUT_AFTER_FAILED_CALLS} calls
   * in a row or refused everything for its quota for {@linkcode OUT_AFTER_THROTTLED_MS}
   * while another was in rotation;
   * then it is sent one record at a time (a probe) after each pause, and back in rotation
   * once one is accepted.
   */
  inRotation: boolean;
  /** Since when its calls have accepted nothing; undefined after one accepted a record. */
  emptySince: number | undefined;
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
  /** In a call in flight. */
  reserved: boolean;
}

/**
 * Delivers spooled records, oldest first, in calls of at most 500 records and 4 MiB. A
 * record's file is deleted only once the sink accepted it. Failed records are retried with
 * exponential backoff and full jitter; a call refused as invalid is split into single
 * records, and a single record refused as invalid is quarantined, so it never blocks others.
 *
 * With several destinations (`--stream` given more than once) each has one call in flight at
 * most and a {@linkcode StreamPacer} that learns its quota: each record goes to exactly one,
 * whichever is free and has room by its learned rate, and a record one refused for its quota
 * may go to another next. Records refused for the quota are not backed off: the pacing times
 * the calls, and a refused record waits a random part of its own time at the pacing rate
 * while the records behind it may go.
 */
export class Uploader {
  readonly #o: UploaderOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  #queue: Pending[] = [];
  /** Entries of the queue marked done and not yet compacted away. */
  #done = 0;
  #lanes: Lane[];
  readonly #calls = new Set<Promise<void>>();
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #stopping = false;
  /** Shutting down: retries are capped at {@linkcode DRAIN_RETRY_CAP_MS}. */
  #draining = false;
  /** When deliveries began failing with nothing delivered since; undefined while delivering. */
  #failingSince: number | undefined;
  /** Since when every answer was a refusal or a passing failure, with the last refusal; undefined after a delivery. */
  #refusal: { since: number; reason: string } | undefined;
  /** Delivered records whose files could not be deleted yet: name to bytes. */
  readonly #undeleted = new Map<string, number>();
  #deleteTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  /** Creates an uploader; call {@linkcode Uploader.start}. */
  constructor(options: UploaderOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#lanes = this.#lanesOf(options.sinks, []);
  }

  /** Lanes for `sinks`; one named as a lane of `kept` keeps its learned pace. */
  #lanesOf(sinks: readonly NamedSink[], kept: readonly Lane[]): Lane[] {
    const now = this.#now();
    return sinks.map((s) => ({
      ...s,
      pacer: kept.find((l) => l.name === s.name)?.pacer ?? new StreamPacer(now),
      busy: false,
      pausedUntil: 0,
      callFailures: 0,
      inRotation: true,
      emptySince: undefined,
    }));
  }

  /**
   * Sends records to `sinks` from now on (a reload that changed the sink's streams or role):
   * calls in flight finish on the old destinations, which are closed then; a record they fail
   * goes to the new ones. A destination of the same name keeps the pace it learned.
   */
  setDestinations(sinks: readonly NamedSink[]): void {
    const old = this.#lanes;
    this.#lanes = this.#lanesOf(sinks, old);
    const inFlight = [...this.#calls];
    void Promise.allSettled(inFlight).then(() => {
      for (const lane of old) if (!sinks.some((s) => s.sink === lane.sink)) lane.sink.close();
    });
    this.#signal();
  }

  /**
   * Queues records that are now in the spool, in order (oldest first); with `verify`, each
   * is checked before it is sent, and a damaged one is quarantined.
   */
  add(entries: readonly SpoolEntry[], options: { verify?: boolean } = {}): void {
    const verify = options.verify ?? false;
    const now = this.#now();
    // A failure streak ends when nothing is left to deliver (records set aside), not only on a delivery.
    if (this.pendingRecords === 0) [this.#failingSince, this.#refusal] = [undefined, undefined];
    for (const e of entries) {
      this.#queue.push({ ...e, done: false, attempts: 0, notBefore: now, alone: false, verify, reserved: false });
    }
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

  /**
   * Since when the sinks have refused records (`isRefusal()`: an answer the operator must act
   * on) with none delivered, and the last refusal; undefined while records are delivered or
   * none wait.
   */
  get refusing(): { since: number; reason: string } | undefined {
    return this.pendingRecords === 0 ? undefined : this.#refusal;
  }

  /** Notes a failed call or record: a refusal starts (or goes on with) the refusal streak. */
  #failed(code: string, message: string, now: number): void {
    this.#failingSince ??= now;
    if (!isRefusal(code)) return;
    this.#refusal = {
      since: this.#refusal?.since ?? now,
      reason: message.startsWith(code) ? message : `${code}: ${message}`,
    };
  }

  /**
   * How long the pacing holds the oldest waiting record back now, in ms: the shortest wait of
   * any destination (0 when nothing waits or a destination is free to take it).
   */
  get paceMs(): number {
    const oldest = this.#queue.find((p) => !p.done && !p.reserved);
    if (oldest === undefined) return 0;
    const now = this.#now();
    return Math.min(...this.#lanes.map((l) => l.pacer.waitMs(oldest.bytes, now)));
  }

  /** Each destination's learned byte rate (Infinity while it has refused nothing) and whether it is in rotation. */
  get streams(): StreamState[] {
    return this.#lanes.map((l) => ({
      name: l.name,
      bytesPerSecond: l.pacer.rates.bytesPerSecond,
      inRotation: l.inRotation,
    }));
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
      for (const lane of this.#lanes) lane.pausedUntil = Math.min(lane.pausedUntil, now);
      for (const p of this.#queue) p.notBefore = Math.min(p.notBefore, now);
      this.#signal();
      while (this.pendingRecords > 0 && this.#now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    this.#stopping = true;
    this.#signal();
    await this.#running;
    this.#stopped = true;
    clearTimeout(this.#deleteTimer);
    if (this.#undeleted.size > 0) await this.#retryDeletes();
    if (this.#undeleted.size > 0) {
      this.#o.log.error("Delivered records could not be deleted; the next start sends them again", {
        records: this.#undeleted.size,
      });
    }
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      const now = this.#now();
      let wake = Infinity;
      let launched = false;
      for (const lane of this.#lanes) {
        if (lane.busy) continue;
        if (now < lane.pausedUntil) {
          wake = Math.min(wake, lane.pausedUntil);
          continue;
        }
        const due = this.#pick(now);
        if (due.length === 0) break;
        const n = lane.pacer.take(due.map((p) => p.bytes), now);
        if (n === 0) {
          // Stretched or shortened at random (the mean kept): relays of a fleet paced alike
          // would otherwise reach the service's bucket in the same order every time, the
          // first taking each refill and the others finding it empty.
          const jittered = lane.pacer.waitMs(due[0]!.bytes, now) * (0.5 + this.#random());
          wake = Math.min(wake, now + Math.max(1, jittered));
          continue;
        }
        launched = true;
        // Out of rotation, a destination is probed with one record at a time.
        this.#launch(lane, due.slice(0, lane.inRotation ? n : 1));
      }
      if (launched) continue;
      // Due records with every destination busy wait for a call to end (it signals).
      for (const p of this.#queue) if (!p.done && !p.reserved && p.notBefore > now) wake = Math.min(wake, p.notBefore);
      await this.#sleep(wake === Infinity ? undefined : Math.max(1, wake - now));
    }
    await Promise.all(this.#calls);
  }

  /** Starts one call on `lane`; when it ends, the lane and its records are free again. */
  #launch(lane: Lane, batch: Pending[]): void {
    lane.busy = true;
    for (const p of batch) p.reserved = true;
    const call = this.#send(lane, batch)
      .catch((error) => {
        // A local failure (deleting or moving a spool file): keep going after a pause.
        this.#o.log.limited("error", "uploader", "Delivery loop failed; retrying", {
          error: (error as Error).message,
        });
        lane.pausedUntil = this.#now() + RETRY_CAP_MS / 30;
      })
      .finally(() => {
        for (const p of batch) p.reserved = false;
        lane.busy = false;
        this.#calls.delete(call);
        this.#signal();
      });
    this.#calls.add(call);
  }

  /** Oldest-first records that are due and in no call, within the call limits. */
  #pick(now: number): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    for (const p of this.#queue) {
      if (p.done || p.reserved || p.notBefore > now) continue;
      if (p.alone) {
        if (batch.length === 0) batch.push(p);
        break;
      }
      // A record over a call's limit (a file that grew after it was listed) goes alone: read,
      // it is found too large and set aside, instead of stopping every delivery behind it.
      if (batch.length === 0 && p.bytes > MAX_BATCH_BYTES) {
        batch.push(p);
        break;
      }
      if (batch.length >= MAX_BATCH_RECORDS || bytes + p.bytes > MAX_BATCH_BYTES) break;
      batch.push(p);
      bytes += p.bytes;
    }
    return batch;
  }

  async #send(lane: Lane, batch: Pending[]): Promise<void> {
    const { spool, metrics, log } = this.#o;
    const stream = lane.name;
    const records: SinkRecord[] = [];
    const sent: Pending[] = [];
    for (const p of batch) {
      let data: Uint8Array;
      try {
        data = await spool.read(p.name);
      } catch (error) {
        if (error instanceof RangeError || (error as { code?: string }).code === "ELOOP") {
          // Larger than any record, or a symlink planted in its place: not the relay's.
          await this.#quarantine(p, (error as Error).message, "damaged");
          continue;
        }
        log.error("Cannot read spooled record; leaving it for the next start", {
          record: p.name,
          error: (error as Error).message,
        });
        this.#forget(p);
        continue;
      }
      if (data.length > MAX_RECORD_BYTES || data.length === 0) {
        await this.#quarantine(p, `record of ${data.length} bytes is outside 1..${MAX_RECORD_BYTES}`, "damaged");
        continue;
      }
      if (p.verify) {
        const check = checkRecord(data);
        if ("damage" in check) {
          await this.#quarantine(p, check.damage, "damaged");
          continue;
        }
        p.events = check.events;
        p.verify = false;
      }
      records.push({ name: p.name, data });
      sent.push(p);
    }
    if (records.length === 0) return;

    let results;
    const timer = metrics.putDuration.startTimer();
    try {
      // Sent or not, the records' bytes are read again for another attempt: freed now (`release_buffer.ts`).
      results = await lane.sink.put(records).finally(() => records.forEach((r) => releaseBuffer(r.data)));
      timer();
      metrics.putCalls.inc({ result: "ok", stream });
    } catch (error) {
      timer();
      const e = error instanceof SinkError ? error : new SinkError((error as Error).message, "Error");
      metrics.putCalls.inc({ result: e.code, stream });
      if (e.options.throttled) {
        // The whole call was over the stream's quota: the pacing times the next, no backoff.
        metrics.throttles.inc({ stream });
        lane.pacer.callThrottled(this.#now());
        log.limited("warn", `call-throttled-${stream}`, "Firehose refused a call for the stream's quota; pacing", {
          stream,
          error: e.message,
          callsPerSecond: Math.round(lane.pacer.rates.callsPerSecond),
        });
        this.#acceptedNothing(lane, this.#now(), "throttled", e.message);
        return;
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
      this.#failed(e.code, e.message, this.#now());
      const delay = this.#callFailed(lane, this.#now(), e.message);
      metrics.recordsFailed.inc({ code: e.code, stream }, sent.length);
      metrics.recordRetries.inc(sent.length);
      log.limited("warn", `put-failed-${stream}`, "PutRecordBatch failed; retrying", {
        stream,
        error: e.message,
        records: sent.length,
        retryInMs: Math.round(delay),
      });
      return;
    }
    let delivered = 0;
    let deliveredBytes = 0;
    let deliveredEvents = 0;
    let undeleted = 0;
    let undeletedBytes = 0;
    let throttled = 0;
    let throttledBytes: number | undefined;
    const refused: Pending[] = [];
    let failure: string | undefined;
    const now = this.#now();
    // A record this destination failed goes to another in rotation at once, if there is one.
    const elsewhere = this.#othersInRotation(lane);
    for (let i = 0; i < sent.length; i++) {
      const p = sent[i]!;
      const result = results[i]!;
      if (result.ok) {
        this.#forget(p);
        delivered++;
        deliveredBytes += p.bytes;
        deliveredEvents += p.events ?? 0;
        if (!(await this.#remove(p))) {
          undeleted++;
          undeletedBytes += p.bytes;
        }
        continue;
      }
      p.attempts++;
      this.#failed(result.code, result.message, now);
      metrics.recordsFailed.inc({ code: result.code, stream });
      metrics.recordRetries.inc();
      if (THROTTLE_CODES.test(result.code)) {
        // Throttling is about the stream's rate, not this record: no backoff of its own (its
        // next try is timed below, once the pacing took the refusal in).
        metrics.throttles.inc({ stream });
        throttled++;
        throttledBytes ??= p.bytes;
        refused.push(p);
      } else {
        p.notBefore = now + (elsewhere ? 0 : this.#backoff(p.attempts));
        failure ??= `${result.code}: ${result.message}`;
      }
      if (THROTTLE_CODES.test(result.code)) continue;
      log.limited("warn", `record-failed-${result.code}`, "Firehose did not accept a record; retrying", {
        stream,
        code: result.code,
        error: result.message,
        attempts: p.attempts,
      });
    }
    lane.pacer.result(now, { bytes: deliveredBytes, records: delivered }, throttledBytes);
    // A refused record waits a random part of the time its bytes take at the pacing rate,
    // while the records behind it may go: one larger than the others a fleet sends (made
    // before the stream was paced) would otherwise be refused on every try, each a whole
    // upload, for as long as smaller ones keep the service's bucket from filling up to it.
    // With another destination in rotation, it may go there at once instead.
    const rate = lane.pacer.rates.bytesPerSecond;
    const wait = (p: Pending) => elsewhere || rate === Infinity ? 0 : this.#random() * 1000 * p.bytes / rate;
    for (const p of refused) p.notBefore = now + wait(p);
    if (throttled > 0) {
      log.limited("info", `throttled-${stream}`, "Firehose refused records for the stream's quota; pacing to it", {
        stream,
        throttled,
        bytesPerSecond: Math.round(lane.pacer.rates.bytesPerSecond),
      });
    }
    metrics.recordsDelivered.inc({ stream }, delivered);
    metrics.deliveredBytes.inc({ stream }, deliveredBytes);
    metrics.eventsDelivered.inc({ stream }, deliveredEvents);
    if (delivered > 0) {
      this.#acceptedSome(lane, now);
    } else if (failure !== undefined) {
      // Every record failed, not for the quota: the destination pauses as a whole.
      this.#callFailed(lane, now, failure);
    } else {
      this.#acceptedNothing(lane, now, "throttled", "every record refused for the stream's quota");
    }
    if (delivered > 0) {
      this.#failingSince = undefined;
      this.#refusal = undefined;
      metrics.lastDelivery.set(now / 1000);
      const removed = delivered - undeleted;
      if (removed > 0) this.#o.onRemoved?.(deliveredBytes - undeletedBytes, removed);
    }
  }

  /**
   * A call to `lane` failed (the call, or every record of it, not for the quota): counted in
   * {@linkcode Lane.callFailures}, the destination pauses (backoff with full jitter, no longer
   * than {@linkcode PROBE_CAP_MS} once it is out of rotation: a probe is one record) and may
   * leave rotation. Returns the pause, in ms.
   */
  #callFailed(lane: Lane, now: number, reason: string): number {
    lane.callFailures++;
    const backoff = this.#backoff(lane.callFailures);
    const delay = lane.callFailures >= OUT_AFTER_FAILED_CALLS ? Math.min(PROBE_CAP_MS, backoff) : backoff;
    lane.pausedUntil = now + delay;
    this.#acceptedNothing(lane, now, "failed", reason);
    return delay;
  }

  /** Whether a destination other than `lane` is in rotation. */
  #othersInRotation(lane: Lane): boolean {
    return this.#lanes.some((l) => l !== lane && l.inRotation);
  }

  /**
   * A call to `lane` accepted nothing: after {@linkcode OUT_AFTER_FAILED_CALLS} failed calls
   * in a row, or {@linkcode OUT_AFTER_THROTTLED_MS} of refusals for the quota while another
   * destination is in rotation, it leaves rotation (logged) and is probed one record at a
   * time (when there are records to send).
   */
  #acceptedNothing(lane: Lane, now: number, kind: "failed" | "throttled", reason: string): void {
    lane.emptySince ??= now;
    const out = kind === "failed"
      ? lane.callFailures >= OUT_AFTER_FAILED_CALLS
      : now - lane.emptySince >= OUT_AFTER_THROTTLED_MS && this.#othersInRotation(lane);
    if (!out) return;
    if (kind === "throttled") lane.pausedUntil = Math.max(lane.pausedUntil, now + this.#random() * PROBE_CAP_MS);
    if (!lane.inRotation) return;
    lane.inRotation = false;
    const others = this.#lanes.filter((l) => l.inRotation).length;
    this.#o.log.warn(
      others > 0
        ? "A delivery stream accepts nothing: taken out of rotation, its records go to the others; probing it"
        : "A delivery stream accepts nothing: taken out of rotation; probing it with one record at a time",
      { stream: lane.name, reason, inRotation: others },
    );
  }

  /** A call to `lane` accepted records: its failures are over, and it is back in rotation if it was out. */
  #acceptedSome(lane: Lane, now: number): void {
    const since = lane.emptySince;
    lane.emptySince = undefined;
    lane.callFailures = 0;
    if (lane.inRotation) return;
    lane.inRotation = true;
    this.#o.log.info("A delivery stream accepts records again: back in rotation", {
      stream: lane.name,
      outForSeconds: since === undefined ? 0 : Math.round((now - since) / 100) / 10,
    });
  }

  /**
   * Deletes a delivered record's file. When it cannot be deleted (a read-only or failing
   * disk), the record is remembered as delivered, never sent again by this run, and its
   * deletion retried every {@linkcode DELETE_RETRY_MS}. Returns whether it is gone.
   */
  async #remove(p: Pending): Promise<boolean> {
    try {
      await this.#o.spool.remove(p.name);
      return true;
    } catch (error) {
      this.#undeleted.set(p.name, p.bytes);
      this.#o.metrics.spoolDeleteErrors.inc();
      this.#o.log.limited("error", "spool-delete", "Cannot delete a delivered record; it is not sent again, retrying", {
        record: p.name,
        error: (error as Error).message,
        undeleted: this.#undeleted.size,
      });
      this.#deleteTimer ??= setTimeout(() => void this.#retryDeletes(), DELETE_RETRY_MS);
      return false;
    }
  }

  /** Retries deleting delivered records whose files could not be deleted. */
  async #retryDeletes(): Promise<void> {
    this.#deleteTimer = undefined;
    let bytes = 0;
    let records = 0;
    for (const [name, size] of [...this.#undeleted]) {
      try {
        await this.#o.spool.remove(name);
      } catch {
        break;
      }
      this.#undeleted.delete(name);
      bytes += size;
      records++;
    }
    if (records > 0) this.#o.onRemoved?.(bytes, records);
    if (this.#undeleted.size > 0 && !this.#stopped) {
      this.#deleteTimer = setTimeout(() => void this.#retryDeletes(), DELETE_RETRY_MS);
    }
  }

  /** Delivered records whose files could not be deleted yet (sent again after a restart). */
  get undeletedRecords(): number {
    return this.#undeleted.size;
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
      if (ms !== undefined) timer = setTimeout(done, timerDelay(ms));
      this.#wake = done;
    });
  }

  #signal(): void {
    this.#wake?.();
  }
}
