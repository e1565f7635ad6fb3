import { type BufferKey, EventBuffer, type EventFormat, type PackedEvents } from "./event_buffer.ts";

export type { BufferKey };
import { MAX_RECORD_BYTES } from "./record_builder.ts";
import type { Runs } from "../journal/journal_runs.ts";
import { type EventRuns, type EventStream, renumberStreams } from "./event_runs.ts";

/** A batch of raw events of one buffer, ready for the spool worker. */
export interface Batch extends PackedEvents, BufferKey {
  /** Clock reading when the first event of the batch arrived. */
  firstAt: number;
  /**
   * Whether the worker may hand back the events after the last full record (see
   * {@linkcode Batcher.requeue}): true for a batch flushed for its size, false for one
   * flushed for its age or at shutdown.
   */
  carry: boolean;
  /** The journal segments of the events, in order (empty without a journal). */
  runs: Runs;
  /** The events' sequence numbers, transports and streams (indexes into `streams`), in order. */
  origins: EventRuns;
  /** Whose events the batch holds: one stream, or several where the sink's records carry each event's. */
  streams: EventStream[];
}

/**
 * Records' worth of raw bytes a buffer is flushed at once the compression is known: a little
 * more than one, so the worker fills a record to the brim and hands the rest back to be
 * batched again, instead of making a small record (Firehose bills each record in 5 KB units
 * and limits records per second).
 */
export const FLUSH_RECORDS = 1.05;

/** Default raw bytes that trigger a flush of one buffer (`--flush-size`). */
export const DEFAULT_FLUSH_BYTES = 4_194_304;
/** Default age in ms that triggers a flush of one buffer (`--flush-interval` 60 s). */
export const DEFAULT_FLUSH_INTERVAL_MS = 60_000;
/**
 * Default bound on the memory held across all buffers, in bytes: what their chunks allocated
 * plus {@linkcode BUFFER_OVERHEAD_BYTES} each. With many senders, per-sender buffers of
 * `--flush-size` each would be unbounded in total; past this bound the largest is flushed.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1_048_576;
/**
 * Default bound on open sender buffers (`--max-open-buffers`): one per (log group, log
 * stream) holding events. A fleet of quiet senders opens one each; past this bound the
 * buffer with the oldest first event is flushed (as a record of its own).
 */
export const DEFAULT_MAX_OPEN_BUFFERS = 10_000;
/**
 * Memory an open buffer costs beyond its chunks' bytes, in bytes: the buffer object, its map
 * entry and key, its arrays, and the allocator's cost of a chunk. Measured over 200,000
 * buffers of one 200-byte message each, with the compile task's V8 flags: heap +686 bytes and
 * RSS +1,479 bytes per buffer, of which 512 are its chunk.
 */
export const BUFFER_OVERHEAD_BYTES = 1_024;
/**
 * Memory a buffer shared by many sources costs per source beyond the first, in bytes: its
 * entry in the stream table (an object, two strings, a map entry). An estimate, of the same
 * kind as {@linkcode BUFFER_OVERHEAD_BYTES}'s measured share that is not the chunk.
 */
export const STREAM_OVERHEAD_BYTES = 256;

/** Every reason a buffer is flushed for (the `reason` label of `kinesyslog_batches_flushed_total`). */
export const FLUSH_REASONS = [
  "size",
  "age",
  "memory",
  "open_buffers",
  "journal",
  "acknowledge",
  "reload",
  "shutdown",
] as const;
/** Why a buffer was flushed (`kinesyslog_batches_flushed_total{reason}`). */
export type FlushReason = typeof FLUSH_REASONS[number];

/** Weight of the newest observation in a running compression estimate. */
export const ESTIMATE_WEIGHT = 0.3;

/**
 * A running (exponentially weighted) compression estimate after one more observation.
 *
 * @example
 * ```ts
 * let ratio: number | undefined;
 * ratio = updateEstimate(ratio, 0.25); // 0.25
 * ```
 */
export function updateEstimate(estimate: number | undefined, observed: number): number {
  return estimate === undefined ? observed : estimate + ESTIMATE_WEIGHT * (observed - estimate);
}

/** Options of {@linkcode Batcher}. */
export interface BatcherOptions {
  /** Receives every flushed batch, with why it was flushed. */
  onFlush: (batch: Batch, reason: FlushReason) => void;
  /** Called when a buffer opens (its age counts from now): whoever calls `flushDue` wakes up. */
  onOpen?: () => void;
  /**
   * Raw message bytes of one buffer that trigger its flush.
   * @default {4194304}
   */
  flushBytes?: number;
  /**
   * Age of a buffer's first event, in ms, that triggers its flush.
   * @default {60000}
   */
  flushIntervalMs?: number;
  /**
   * Memory held across all buffers (chunks allocated, plus {@linkcode BUFFER_OVERHEAD_BYTES}
   * each) before the largest is flushed early.
   * @default {67108864}
   */
  maxBufferedBytes?: number;
  /**
   * Open buffers (holding events) at most; past it the one with the oldest first event is flushed.
   * @default {10000}
   */
  maxOpenBuffers?: number;
  /**
   * By sink index: whether the sink's records carry each event's source and port (NDJSON), so
   * that one buffer holds the events of every source (of one format and time zone) instead of
   * one buffer, and one record at least, per source.
   * @default {[] (none)}
   */
  sharedSinks?: readonly boolean[];
  /** The clock, in ms; injectable for tests. @default {Date.now} */
  now?: () => number;
}

/**
 * Groups raw events by (log group, log stream), or by sink where the sink's records carry each
 * event's source (`sharedSinks`), and flushes each group when it reaches the
 * flush size or age, when all groups together exceed their memory bound (the largest goes),
 * or when a new group would exceed the bound on open buffers (the oldest goes). A buffer is
 * forgotten once flushed, so the open buffers are exactly those holding events, in the order
 * of their first event. Pure: it owns no timer; the owner calls {@linkcode Batcher.flushDue}
 * periodically.
 *
 * @example
 * ```ts
 * const batcher = new Batcher({ onFlush: (batch) => worker.postMessage(batch, batch.chunks) });
 * const buffer = batcher.buffer({
 *   sink: 0,
 *   sinkName: "default",
 *   format: "syslog",
 *   logGroup: "/kinesyslog/syslog/514",
 *   logStream: "10.0.0.1",
 *   timeZone: undefined,
 * });
 * buffer.append(bytes, Date.now());
 * batcher.afterAppend(buffer);
 * ```
 */
export class Batcher {
  readonly #onFlush: (batch: Batch, reason: FlushReason) => void;
  readonly #onOpen: (() => void) | undefined;
  readonly #maxFlushBytes: number;
  #flushBytes: number;
  #ratio: number | undefined;
  readonly #flushIntervalMs: number;
  readonly #maxBufferedBytes: number;
  readonly #maxOpenBuffers: number;
  readonly #now: () => number;
  readonly #shared: boolean[];
  /** The open buffers, oldest first event first (a buffer leaves when flushed). */
  readonly #buffers = new Map<string, GroupBuffer>();
  /** Memory across all buffers as of the last {@linkcode Batcher.afterAppend}. */
  #buffered = 0;
  /** Raw message bytes across all buffers, likewise. */
  #messageBytes = 0;

  /** Creates a batcher; see {@linkcode BatcherOptions}. */
  constructor(options: BatcherOptions) {
    this.#onFlush = options.onFlush;
    this.#onOpen = options.onOpen;
    this.#maxFlushBytes = options.flushBytes ?? DEFAULT_FLUSH_BYTES;
    this.#flushBytes = this.#maxFlushBytes;
    this.#flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.#maxOpenBuffers = options.maxOpenBuffers ?? DEFAULT_MAX_OPEN_BUFFERS;
    this.#now = options.now ?? Date.now;
    this.#shared = [...(options.sharedSinks ?? [])];
  }

  /**
   * The buffer of one (log group, log stream). Append to it, then call
   * {@linkcode Batcher.afterAppend} once for the whole run of appends.
   */
  buffer(of: BufferKey): GroupBuffer {
    const key = this.#name(of);
    let buffer = this.#buffers.get(key);
    if (buffer === undefined) {
      while (this.#buffers.size >= this.#maxOpenBuffers) {
        const oldest = this.#buffers.values().next().value!;
        this.#flush(oldest, false, "open_buffers");
      }
      buffer = new GroupBuffer(key, of);
      buffer.firstAt = this.#now();
      this.#buffers.set(key, buffer);
      this.#onOpen?.();
    }
    return buffer;
  }

  /** Flushes what a run of appends to `buffer` filled up, and enforces the memory bound. */
  afterAppend(buffer: GroupBuffer): void {
    if (buffer.count === 0) {
      // Nothing was appended after all: not an open buffer.
      if (this.#buffers.get(buffer.key) === buffer) this.#buffers.delete(buffer.key);
      return;
    }
    const cost = buffer.allocatedBytes + BUFFER_OVERHEAD_BYTES +
      Math.max(0, buffer.streams.length - 1) * STREAM_OVERHEAD_BYTES;
    this.#buffered += cost - buffer.accounted;
    this.#messageBytes += buffer.messageBytes - buffer.accountedMessageBytes;
    buffer.accounted = cost;
    buffer.accountedMessageBytes = buffer.messageBytes;
    if (buffer.messageBytes >= this.#flushBytes) this.#flush(buffer, true, "size");
    while (this.#buffered > this.#maxBufferedBytes) {
      let largest: GroupBuffer | undefined;
      for (const b of this.#buffers.values()) {
        if (largest === undefined || b.accounted > largest.accounted) largest = b;
      }
      if (largest === undefined) break;
      this.#flush(largest, true, "memory");
    }
  }

  /** Flushes every buffer whose first event is older than the flush interval. */
  flushDue(): void {
    const now = this.#now();
    for (const buffer of this.#buffers.values()) {
      if (now - buffer.firstAt >= this.#flushIntervalMs) this.#flush(buffer, false, "age");
    }
  }

  /**
   * Flushes, allowing no hand-back, every buffer whose first event arrived at or before
   * `time` (the journal asks, to free its oldest segment).
   */
  flushBefore(time: number): void {
    for (const buffer of this.#buffers.values()) {
      if (buffer.firstAt <= time) this.#flush(buffer, false, "journal");
    }
  }

  /**
   * Flushes the buffer of `key` now, allowing no hand-back (a sender waits for the
   * acknowledgement of its events, which come only once they are spooled).
   */
  flushGroup(key: BufferKey, reason: FlushReason): void {
    const buffer = this.#buffers.get(this.#name(key));
    if (buffer !== undefined && buffer.count > 0) this.#flush(buffer, false, reason);
  }

  /**
   * Flushes sink `sink`'s buffers, allowing no hand-back, and from now on keys its buffers as
   * `shared` says (a reload changed what its records are: what was buffered goes as it was).
   */
  resetSink(sink: number, shared: boolean): void {
    for (const buffer of this.#buffers.values()) if (buffer.sink === sink) this.#flush(buffer, false, "reload");
    this.#shared[sink] = shared;
  }

  /** Flushes every buffer that holds events (at shutdown), allowing no hand-back. */
  flushAll(): void {
    for (const buffer of this.#buffers.values()) this.#flush(buffer, false, "shutdown");
  }

  /**
   * Takes back events a worker handed back (they did not fill a record): they go before the
   * events buffered since, keep their age, and count toward the next flush.
   */
  requeue(events: Omit<Batch, "carry">): void {
    if (events.count === 0) return;
    const buffer = this.buffer(events);
    buffer.firstAt = buffer.count === 0 ? events.firstAt : Math.min(buffer.firstAt, events.firstAt);
    // Its age is its oldest event's: it goes back in that place among the open buffers.
    this.#buffers.delete(buffer.key);
    this.#reinsert(buffer);
    buffer.prepend(events);
    buffer.runs = [...events.runs, ...buffer.runs];
    const streams = events.streams.map((s) => buffer.streamOf(s.logGroup, s.logStream));
    buffer.origins = [...renumberStreams(events.origins, streams), ...buffer.origins];
    this.afterAppend(buffer);
  }

  /**
   * Learns how much one raw byte compresses to in records, and flushes at the raw size of
   * {@linkcode FLUSH_RECORDS} records, never more than the configured flush size.
   */
  observeCompression(compressedPerRawByte: number): void {
    if (!(compressedPerRawByte > 0)) return;
    this.#ratio = updateEstimate(this.#ratio, compressedPerRawByte);
    const fill = Math.floor((FLUSH_RECORDS * MAX_RECORD_BYTES) / this.#ratio);
    this.#flushBytes = Math.max(1, Math.min(this.#maxFlushBytes, fill));
  }

  /** Raw bytes of one buffer that trigger its flush now. */
  get flushBytes(): number {
    return this.#flushBytes;
  }

  /** Raw message bytes held across all buffers. */
  get bufferedBytes(): number {
    return this.#messageBytes;
  }

  /** Memory held across all buffers: chunks allocated, plus the cost of each open buffer. */
  get allocatedBytes(): number {
    return this.#buffered;
  }

  /** Open buffers (each holding events). */
  get openBuffers(): number {
    return this.#buffers.size;
  }

  /** Puts `buffer` back among the open ones in the order of its first event. */
  #reinsert(buffer: GroupBuffer): void {
    const younger: GroupBuffer[] = [];
    for (const b of this.#buffers.values()) if (b.firstAt > buffer.firstAt) younger.push(b);
    for (const b of younger) this.#buffers.delete(b.key);
    this.#buffers.set(buffer.key, buffer);
    for (const b of younger) this.#buffers.set(b.key, b);
  }

  #flush(buffer: GroupBuffer, carry: boolean, reason: FlushReason): void {
    if (this.#buffers.get(buffer.key) === buffer) this.#buffers.delete(buffer.key);
    if (buffer.count === 0) return;
    this.#buffered -= buffer.accounted;
    this.#messageBytes -= buffer.accountedMessageBytes;
    buffer.accounted = 0;
    buffer.accountedMessageBytes = 0;
    const { sink, sinkName, format, logGroup, logStream, timeZone, firstAt, runs, origins, streams } = buffer;
    buffer.runs = [];
    buffer.origins = [];
    buffer.forgetStreams();
    this.#onFlush(
      {
        sink,
        sinkName,
        format,
        logGroup,
        logStream,
        timeZone,
        firstAt,
        carry,
        runs,
        origins,
        streams,
        ...buffer.take(),
      },
      reason,
    );
  }

  /**
   * The name of a buffer among the open ones: what its records carry once (the sink alone
   * where they carry each event's source), and how the worker reads its events (format, time
   * zone: they differ between two listeners of one port only when configured so).
   */
  #name(key: BufferKey): string {
    const whose = this.#shared[key.sink] ? key.format : key.logGroup + "\n" + key.logStream;
    return key.sink + "\n" + whose + "\n" + (key.timeZone ?? "");
  }
}

/** The event buffer of one sink's (log group, log stream). */
export class GroupBuffer extends EventBuffer implements BufferKey {
  /** Memory of this buffer already added to the batcher's total. */
  accounted = 0;
  /** Raw message bytes of this buffer already added to the batcher's total. */
  accountedMessageBytes = 0;
  /** The journal segments of the events held (see `journal_runs.ts`). */
  runs: Runs = [];
  /** The sequence numbers, transports and streams of the events held (see `event_runs.ts`). */
  origins: EventRuns = [];
  /** Whose events are held, by the stream numbers of `origins`. */
  streams: EventStream[] = [];
  readonly #streamNumbers = new Map<string, number>();

  readonly sink: number;
  readonly sinkName: string;
  readonly format: EventFormat;
  readonly logGroup: string;
  readonly logStream: string;
  readonly timeZone: string | undefined;

  /** Creates the buffer of `of`; `key` names it in the batcher. */
  constructor(readonly key: string, of: BufferKey) {
    super();
    this.sink = of.sink;
    this.sinkName = of.sinkName;
    this.format = of.format;
    this.logGroup = of.logGroup;
    this.logStream = of.logStream;
    this.timeZone = of.timeZone;
  }

  /** The number of the stream (`logGroup`, `logStream`) in this buffer's table, added if new. */
  streamOf(logGroup: string, logStream: string): number {
    const name = logGroup + "\n" + logStream;
    let n = this.#streamNumbers.get(name);
    if (n === undefined) {
      n = this.streams.length;
      this.streams.push({ logGroup, logStream });
      this.#streamNumbers.set(name, n);
    }
    return n;
  }

  /** Starts a new stream table (the events and their runs were handed over). */
  forgetStreams(): void {
    this.streams = [];
    this.#streamNumbers.clear();
  }
}
