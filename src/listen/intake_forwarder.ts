/**
 * The ingest of a TCP intake worker (`tcp_intake_worker.ts`): what the worker's stream
 * listener hands it is checked (blank messages, GELF documents and their event times, as
 * {@linkcode Ingest} does), packed in the form of the relay's buffers and journal (entries of
 * `u32 length | f64 time | message`, `batch/event_buffer.ts`), and handed to the main thread
 * with the counters' changes. There each run of one sender is one copy into the journal and
 * one into its batch (`tcp_intake.ts`, {@linkcode Ingest.acceptEntries}), whatever the number
 * of messages: the main thread's work per message stays in the worker.
 *
 * A pack holds {@linkcode PACK_BYTES} (a longer message gets a pack of its own) and is handed
 * over once full or after {@linkcode PACK_INTERVAL_MS}: its buffer is transferred, not
 * copied, and comes back with the acknowledgement for a later pack (no garbage per pack on
 * either thread). Back-pressure crosses the thread
 * boundary as acknowledgements: the main thread acknowledges a pack once it has taken it in
 * and its own bounds let intake go on, and while more than {@linkcode MAX_IN_FLIGHT_BYTES}
 * are unacknowledged {@linkcode IntakeForwarder.pressure} holds the worker's readers back, so
 * that the kernel slows the senders, as on the main thread.
 *
 * @module
 */
import { ENTRY_HEADER_BYTES } from "../batch/event_buffer.ts";
import type { Logger } from "../log.ts";
import {
  countDropped,
  countTruncated,
  eventTime,
  type GaugePort,
  type Ingest,
  isBlank,
  type ListenerInfo,
  STREAM_METRICS,
  type StreamIngest,
  type StreamMetric,
  type StreamMetrics,
} from "./ingest.ts";
import type { FromIntake, IntakeGroup, MetricDelta } from "./tcp_intake_protocol.ts";

/** Size of a pack's buffer, in bytes (a longer message gets a pack of its own length). */
export const PACK_BYTES = 262_144;
/** A pack that is not full is handed over after at most this long, in ms. */
export const PACK_INTERVAL_MS = 5;
/**
 * Bytes handed over and not yet acknowledged past which the worker's readers wait: four packs,
 * enough to keep the main thread busy while the next are read.
 */
export const MAX_IN_FLIGHT_BYTES = 4 * PACK_BYTES;

/** What a pack is handed over with. */
export type PackMessage = Extract<FromIntake, { type: "pack" }>;

/** Packs a worker's messages and counter changes for the main thread. */
export class IntakeForwarder implements StreamIngest {
  readonly metrics: StreamMetrics;
  readonly pressure = { ready: (): Promise<void> | undefined => this.#ready() };
  readonly #hand: (pack: PackMessage) => void;
  #data = new Uint8Array(PACK_BYTES);
  #view = new DataView(this.#data.buffer);
  #used = 0;
  #groups: IntakeGroup[] = [];
  #deltas = new Map<string, MetricDelta>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = 0;
  #waiting: (() => void)[] = [];
  #released = false;
  /** Buffers of acknowledged packs, for the next ones (at most those in flight). */
  readonly #spare: ArrayBuffer[] = [];

  /** Hands packs to `hand` (the worker's `postMessage`, transferring the pack's buffer). */
  constructor(readonly log: Logger, hand: (pack: PackMessage) => void) {
    this.#hand = hand;
    const port = (metric: StreamMetric) => ({
      inc: (labels: Record<string, string>, value = 1) => this.#count(metric, labels, value),
      dec: (labels: Record<string, string>, value = 1) => this.#count(metric, labels, -value),
    });
    const metrics = {} as Record<StreamMetric, GaugePort>;
    for (const metric of STREAM_METRICS) metrics[metric] = port(metric);
    this.metrics = metrics;
  }

  /** Bytes handed over and not yet acknowledged. */
  get inFlightBytes(): number {
    return this.#inFlight;
  }

  /** Checks and packs the frames of one read (blank ones and refused GELF documents are counted, not packed). */
  accept(info: ListenerInfo, source: string, frames: readonly Uint8Array[], receivedMs: number): void {
    const gelf = info.format === "gelf";
    let group: IntakeGroup | undefined;
    let blank = 0;
    for (const frame of frames) {
      if (isBlank(frame)) {
        blank++;
        continue;
      }
      const time = gelf ? eventTime(this, info, source, frame, receivedMs) : receivedMs;
      if (time === undefined) continue;
      const size = ENTRY_HEADER_BYTES + frame.length;
      if (this.#used + size > this.#data.length) {
        this.flush();
        group = undefined;
        if (size > this.#data.length) this.#setData(new Uint8Array(size));
      }
      if (group === undefined) {
        group = { port: info.port, source, count: 0, bytes: 0, messageBytes: 0 };
        this.#groups.push(group);
      }
      const at = this.#used;
      this.#view.setUint32(at, frame.length, true);
      this.#view.setFloat64(at + 4, time, true);
      this.#data.set(frame, at + ENTRY_HEADER_BYTES);
      this.#used = at + size;
      group.count++;
      group.bytes += size;
      group.messageBytes += frame.length;
    }
    if (blank > 0) this.dropped(info, source, "empty", blank);
    this.#schedule();
  }

  /** Counts and logs (rate-limited) `count` messages not delivered. */
  dropped(info: ListenerInfo, source: string, reason: string, count = 1): void {
    countDropped(this, { info, source, reason, count });
  }

  /** Counts and logs (rate-limited) a message cut to `maxMessageBytes`. */
  truncated(info: ListenerInfo, source: string, bytes: number, maxMessageBytes: number): void {
    countTruncated(this, { info, source, bytes, maxMessageBytes });
  }

  /** The main thread took in `bytes` of packs (`buffer`: the pack's, back): readers held back may go on. */
  ack(bytes: number, buffer?: ArrayBuffer): void {
    if (buffer?.byteLength === PACK_BYTES && this.#spare.length < MAX_IN_FLIGHT_BYTES / PACK_BYTES) {
      this.#spare.push(buffer);
    }
    this.#inFlight -= bytes;
    if (this.#inFlight < MAX_IN_FLIGHT_BYTES) this.#wake();
  }

  /** Hands over what is packed and the counters' changes, if anything. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#groups.length === 0 && this.#deltas.size === 0) return;
    let data = new Uint8Array(0);
    if (this.#used > 0) {
      data = this.#data.subarray(0, this.#used);
      // The buffer goes with the pack (transferred); the next pack takes one that came back.
      this.#setData(new Uint8Array(this.#spare.pop() ?? new ArrayBuffer(PACK_BYTES)));
    }
    this.#inFlight += data.length;
    this.#hand({ type: "pack", data, groups: this.#groups, metrics: [...this.#deltas.values()] });
    this.#used = 0;
    this.#groups = [];
    this.#deltas = new Map();
  }

  /** Readers are no longer held back (shutdown: what is in flight must be taken in). */
  release(): void {
    this.#released = true;
    this.#wake();
  }

  #setData(data: Uint8Array<ArrayBuffer>): void {
    this.#data = data;
    this.#view = new DataView(data.buffer);
  }

  #ready(): Promise<void> | undefined {
    if (this.#released || this.#inFlight < MAX_IN_FLIGHT_BYTES) return undefined;
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const resolve of waiting) resolve();
  }

  #count(metric: StreamMetric, labels: Record<string, string>, value: number): void {
    const key = `${metric} ${JSON.stringify(labels)}`;
    const delta = this.#deltas.get(key);
    if (delta === undefined) this.#deltas.set(key, { metric, labels, value });
    else delta.value += value;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#used >= PACK_BYTES) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), PACK_INTERVAL_MS);
  }
}

/**
 * Takes a pack into `ingest` (the main thread's): each group's run of entries, in order, and
 * the counters' changes. `info` is the listener's; a group's log group replaces its own.
 */
export function takePack(
  pack: PackMessage,
  info: ListenerInfo,
  ingest: Pick<Ingest, "acceptEntries" | "metrics">,
): void {
  let at = 0;
  for (const group of pack.groups) {
    const groupInfo = group.port === info.port ? info : { ...info, port: group.port };
    ingest.acceptEntries(
      groupInfo,
      group.source,
      pack.data.subarray(at, at + group.bytes),
      group.count,
      group.messageBytes,
    );
    at += group.bytes;
  }
  for (const { metric, labels, value } of pack.metrics) {
    if (metric === "connectionsOpen" && value < 0) ingest.metrics.connectionsOpen.dec(labels, -value);
    // Also 0: a connection opened and closed within one pack still makes its series.
    else ingest.metrics[metric].inc(labels, value);
  }
}
