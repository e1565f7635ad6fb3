/**
 * Delivery for every sink of the pipeline: one {@linkcode Uploader} per sink, each over its
 * own spool directory and its own destinations, so that a sink that cannot deliver holds back
 * only its own records. What the relay reads of delivery (readiness, gauges) is read across
 * them here.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { recordCreatedMs, type SpoolDir, type SpoolEntry } from "../spool/spool_dir.ts";
import { type NamedSink, type StreamState, Uploader } from "./uploader.ts";

/** One sink's spool and destinations. */
export interface SinkDelivery {
  /** The sink's name. */
  name: string;
  /** Its spool directory. */
  spool: SpoolDir;
  /** Its destinations (delivery streams, or one directory). */
  destinations: readonly NamedSink[];
}

/** Options of {@linkcode Deliveries}. */
export interface DeliveriesOptions {
  /** The sinks, by index. */
  sinks: readonly SinkDelivery[];
  metrics: Metrics;
  log: Logger;
  /** Called after records left a spool (delivered or quarantined). */
  onRemoved: (bytes: number, records: number) => void;
}

/** The uploaders of every sink. */
export class Deliveries {
  readonly #uploaders: Uploader[];
  readonly #options: DeliveriesOptions;
  #started = false;

  /** Creates an uploader per sink; none runs before {@linkcode Deliveries.start}. */
  constructor(options: DeliveriesOptions) {
    this.#options = options;
    this.#uploaders = options.sinks.map((sink) => this.#uploader(sink));
  }

  #uploader(sink: SinkDelivery): Uploader {
    const { metrics, log, onRemoved } = this.#options;
    return new Uploader({ spool: sink.spool, sinks: sink.destinations, metrics, log, onRemoved });
  }

  /**
   * Delivers a sink a reload added, as the next index (running at once once the others are);
   * queue what its spool holds with {@linkcode Deliveries.add}.
   */
  addSink(sink: SinkDelivery): number {
    const uploader = this.#uploader(sink);
    this.#uploaders.push(uploader);
    if (this.#started) uploader.start();
    return this.#uploaders.length - 1;
  }

  /** Queues records spooled for sink `sink` (left by an earlier run: `verify`). */
  add(sink: number, entries: readonly SpoolEntry[], options: { verify?: boolean } = {}): void {
    this.#uploaders[sink]!.add(entries, options);
  }

  /** Sends sink `sink`'s records to `destinations` from now on (`Uploader.setDestinations`). */
  setDestinations(sink: number, destinations: readonly NamedSink[]): void {
    this.#uploaders[sink]!.setDestinations(destinations);
  }

  /** Starts every uploader. */
  start(): void {
    this.#started = true;
    for (const u of this.#uploaders) u.start();
  }

  /** A last delivery attempt until `deadline`, then stops every uploader. */
  async stop(deadline: number): Promise<void> {
    await Promise.all(this.#uploaders.map((u) => u.stop(deadline)));
  }

  /** Records waiting, across the sinks. */
  get pendingRecords(): number {
    return this.#uploaders.reduce((sum, u) => sum + u.pendingRecords, 0);
  }

  /** Since when the longest-failing sink has failed; undefined while none fails. */
  get failingSince(): number | undefined {
    return earliest(this.#uploaders.map((u) => u.failingSince));
  }

  /** The longest refusal among the sinks (an answer the operator must act on), if any. */
  get refusing(): { since: number; reason: string } | undefined {
    let first: { since: number; reason: string } | undefined;
    for (const u of this.#uploaders) {
      const r = u.refusing;
      if (r !== undefined && (first === undefined || r.since < first.since)) first = r;
    }
    return first;
  }

  /** The longest pause pacing imposes on a sink now, in ms. */
  get paceMs(): number {
    return Math.max(0, ...this.#uploaders.map((u) => u.paceMs));
  }

  /** Each destination's learned rate and whether it is in rotation. */
  get streams(): StreamState[] {
    return this.#uploaders.flatMap((u) => u.streams);
  }

  /** When the oldest record waiting in any sink's spool was spooled, in ms; undefined when none waits. */
  get oldestPendingMs(): number | undefined {
    return earliest(this.#uploaders.map((u) => {
      const name = u.oldestPending;
      return name === undefined ? undefined : recordCreatedMs(name);
    }));
  }
}

function earliest(times: (number | undefined)[]): number | undefined {
  let first: number | undefined;
  for (const t of times) if (t !== undefined && (first === undefined || t < first)) first = t;
  return first;
}
