/**
 * The ingest of a TCP intake worker (`tcp_intake_worker.ts`): what the worker's stream
 * listener hands it (frames, counter changes) is packed and handed to the main thread, whose
 * {@linkcode Ingest} journals and batches it (`tcp_intake.ts`).
 *
 * Frames are copied into a pack of {@linkcode PACK_BYTES} (a frame that does not fit starts
 * the next); a pack is handed over once full or after {@linkcode PACK_INTERVAL_MS}. Back-pressure
 * crosses the thread boundary as acknowledgements: the main thread acknowledges a pack once it
 * has taken it in and its own bounds let intake go on, and while more than
 * {@linkcode MAX_IN_FLIGHT_BYTES} are unacknowledged {@linkcode IntakeForwarder.pressure}
 * holds the worker's readers back, so that the kernel slows the senders, as on the main
 * thread.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import {
  countDropped,
  countTruncated,
  type GaugePort,
  type ListenerInfo,
  STREAM_METRICS,
  type StreamIngest,
  type StreamMetric,
  type StreamMetrics,
} from "./ingest.ts";
import type { FromIntake, IntakeGroup, MetricDelta } from "./tcp_intake_protocol.ts";

/** Size of a pack's buffer, in bytes (a longer frame gets a pack of its own length). */
export const PACK_BYTES = 262_144;
/** Frames in one pack at most (a pack of short frames is handed over when it has this many). */
export const PACK_FRAMES = 8_192;
/** A pack that is not full is handed over after at most this long, in ms. */
export const PACK_INTERVAL_MS = 5;
/**
 * Bytes handed over and not yet acknowledged past which the worker's readers wait: four packs,
 * enough to keep the main thread busy while the next are read.
 */
export const MAX_IN_FLIGHT_BYTES = 4 * PACK_BYTES;

/** What a pack is handed over with. */
export type PackMessage = Extract<FromIntake, { type: "pack" }>;

/** Packs a worker's frames and counter changes for the main thread. */
export class IntakeForwarder implements StreamIngest {
  readonly metrics: StreamMetrics;
  readonly pressure = { ready: (): Promise<void> | undefined => this.#ready() };
  readonly #hand: (pack: PackMessage) => void;
  #data = new Uint8Array(PACK_BYTES);
  #used = 0;
  /** Where each frame of the pack ends (copied when the pack is handed over). */
  readonly #ends = new Uint32Array(PACK_FRAMES);
  #frames = 0;
  #groups: IntakeGroup[] = [];
  #deltas = new Map<string, MetricDelta>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = 0;
  #waiting: (() => void)[] = [];
  #released = false;

  /** Hands packs to `hand` (the worker's `postMessage`, transferring the pack's buffers). */
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

  /** Packs the frames of one read. */
  accept(info: ListenerInfo, source: string, frames: readonly Uint8Array[], receivedMs: number): void {
    let group: IntakeGroup | undefined;
    for (const frame of frames) {
      if (this.#used + frame.length > this.#data.length || this.#frames === PACK_FRAMES) {
        this.flush();
        group = undefined;
        if (frame.length > this.#data.length) this.#data = new Uint8Array(frame.length);
      }
      if (group === undefined) {
        group = { logGroup: info.logGroup, source, receivedMs, count: 0 };
        this.#groups.push(group);
      }
      this.#data.set(frame, this.#used);
      this.#used += frame.length;
      this.#ends[this.#frames++] = this.#used;
      group.count++;
    }
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

  /** The main thread took in `bytes` of packs: readers held back may go on. */
  ack(bytes: number): void {
    this.#inFlight -= bytes;
    if (this.#inFlight < MAX_IN_FLIGHT_BYTES) this.#wake();
  }

  /** Hands over what is packed and the counters' changes, if anything. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#frames === 0 && this.#deltas.size === 0) return;
    // A copy of what the pack holds, so that its buffers are used again.
    const data = this.#data.slice(0, this.#used);
    const ends = this.#ends.slice(0, this.#frames);
    this.#inFlight += data.length;
    this.#hand({ type: "pack", data, ends, groups: this.#groups, metrics: [...this.#deltas.values()] });
    if (this.#data.length > PACK_BYTES) this.#data = new Uint8Array(PACK_BYTES);
    this.#used = 0;
    this.#frames = 0;
    this.#groups = [];
    this.#deltas = new Map();
  }

  /** Readers are no longer held back (shutdown: what is in flight must be taken in). */
  release(): void {
    this.#released = true;
    this.#wake();
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
 * Takes a pack into `ingest` (the main thread's): its frames by group, in order, and its
 * counter changes. `info` is the listener's; a group's log group replaces its own.
 */
export function takePack(
  pack: PackMessage,
  info: ListenerInfo,
  ingest: Pick<StreamIngest, "accept" | "metrics">,
): void {
  let at = 0;
  let i = 0;
  for (const group of pack.groups) {
    const frames: Uint8Array[] = [];
    for (let n = 0; n < group.count; n++, i++) {
      const end = pack.ends[i]!;
      frames.push(pack.data.subarray(at, end));
      at = end;
    }
    const groupInfo = group.logGroup === info.logGroup ? info : { ...info, logGroup: group.logGroup };
    ingest.accept(groupInfo, group.source, frames, group.receivedMs);
  }
  for (const { metric, labels, value } of pack.metrics) {
    if (metric === "connectionsOpen" && value < 0) ingest.metrics.connectionsOpen.dec(labels, -value);
    // Also 0: a connection opened and closed within one pack still makes its series.
    else ingest.metrics[metric].inc(labels, value);
  }
}
