import type { Batch } from "../batch/batcher.ts";
import { MAX_RECORD_BYTES } from "../batch/record_builder.ts";
import { INSTANCE_ID_DIGITS } from "../batch/event_id.ts";
import type { Runs } from "../journal/journal_runs.ts";
import { GZIP_LEVEL } from "./gzip_deflater.ts";
import type { SpoolEntry } from "./spool_dir.ts";
import type { FromWorker, RecordCompression, ToWorker, WorkerSink } from "./worker_protocol.ts";
import type { RecordFormatName } from "../batch/record_formats.ts";

/** What the spool worker reports back for each batch. */
export interface SpoolWorkerEvents {
  /** Records of one batch are in the spool (of the sink `report.sink`). */
  onSpooled: (
    entries: SpoolEntry[],
    report: {
      sink: number;
      events: number;
      timestampFallbacks: number;
      oversizeEvents: number;
      compressedPerRawByte: number;
      carried: Omit<Batch, "carry" | "runs"> | undefined;
    },
    runs: Runs,
  ) => void;
  /** A batch could not be turned into records (a bug: counted and logged, never silent). */
  onFailed: (events: number, error: string, runs: Runs) => void;
  /** A record write failed and is being retried. */
  onSpoolError: (error: string, attempt: number) => void;
  /** The worker died (a bug or a missing permission): the relay cannot go on. */
  onCrash: (error: string) => void;
  /** Another worker was started, all being busy; `running` now. */
  onStarted?: (running: number) => void;
  /** A worker past the first was stopped, idle for {@linkcode SCALE_DOWN_MS}; `running` now. */
  onStopped?: (running: number) => void;
  /**
   * All were busy, but another worker did not fit the memory limit; `running` still. Called
   * again after each further {@linkcode SCALE_UP_MS} of busy workers while it does not fit.
   */
  onHeldBack?: (running: number) => void;
}

/**
 * Default number of spool workers: one per core, at most 4. JSON and gzip are their cost;
 * the main thread, which reads the sockets, frames and journals, needs little of a core
 * (idle 87% of the time under a TCP load one worker cannot keep up with), so a worker per
 * core, sharing the main thread's, uses the machine. Measured on 2 cores (`deno task bench`,
 * TCP, 4 connections, 200-byte RFC 5424, 2026-11-30): one worker 79,370 messages/s at 162 MB
 * peak RSS; two 128,007/s at 198 MB, and 119,568 to 123,079/s beside rsyslog's 71,201 to
 * 73,953 (imtcp, omfile zipLevel 6) in `deno task bench --peer rsyslog`: x1.62 to x1.73.
 * `--spool-workers 1` is the choice where memory counts more than throughput. Workers past
 * the first start only when the load needs them ({@linkcode SCALE_UP_MS}).
 */
export const DEFAULT_SPOOL_WORKERS = Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));

/** Most spool workers `--spool-workers` allows; each is an isolate of about 10 MB at rest. */
export const MAX_SPOOL_WORKERS = 32;

/**
 * Another worker is started (up to the count) once every running worker has had batches
 * waiting or in work, without a break, for this long, in ms. A worker is an isolate of about
 * 11 MB at rest, and more once it has worked: a load one worker keeps up with, bursts
 * included, does not pay for the others. On 2 cores one worker moved about 79,000 TCP
 * messages/s of 200 bytes (2026-11-30), so loggen's burst at 50,000/s (0.9 s of it at once)
 * keeps it busy for about 1.5 s: in `deno task bench --peer rsyslog`, whose generator shares
 * the cores, the second worker started in 2 of 4 runs at 50,000/s (about 20 MB more), and 3 s
 * instead of 2 slowed TCP's ramp (x1.36 rsyslog in one run, against x1.39 to x1.70).
 */
export const SCALE_UP_MS = 2_000;

/**
 * A worker past the first that has had nothing to do for this long, in ms, is stopped (its
 * memory handed back); another starts again as the load needs it ({@linkcode SCALE_UP_MS}).
 */
export const SCALE_DOWN_MS = 60_000;

/**
 * Resident memory a spool worker adds once it has worked, in bytes: the isolate with the
 * `node:` modules it loads (about 12 MiB at rest, measured by starting workers one by one)
 * and its heap, compressor and buffers at work. Measured on 2 cores (2026-12-01), UDP offered
 * at 200,000/s, past what the relay takes: peak RSS 145 and 147 MiB with one worker, 166 and
 * 167 with two (which took in no more).
 */
export const WORKER_COST_BYTES = 20 * 1_048_576;

/**
 * What `--worker-memory-limit` defaults to, in MiB, for `workers` spool workers at most: the
 * relay at work with one worker (about 130 MiB, its bounded buffers full) and
 * {@linkcode WORKER_COST_BYTES} for each further one. 150 MiB for the 2 workers of a 2-core
 * machine, the peak issue 17 asks of the relay there.
 */
export function defaultWorkerMemoryLimitMiB(workers: number): number {
  return 110 + 20 * workers;
}

/** Options of {@linkcode SpoolWorkerClient}. */
export interface SpoolWorkerOptions {
  /**
   * Most workers; the first starts at once, the others as the load needs them.
   * @default {DEFAULT_SPOOL_WORKERS}
   */
  count?: number;
  /**
   * How long every running worker must have been busy before another starts, in ms.
   * @default {SCALE_UP_MS}
   */
  scaleUpMs?: number;
  /**
   * How long a worker past the first must have been idle before it is stopped, in ms.
   * @default {SCALE_DOWN_MS}
   */
  scaleDownMs?: number;
  /** The clock, in ms. @default {Date.now} */
  now?: () => number;
  /**
   * Whether `bytes` more resident memory fits the limit (`--worker-memory-limit`): another
   * worker starts only if {@linkcode WORKER_COST_BYTES} does.
   * @default {always}
   */
  fits?: (bytes: number) => boolean;
  /**
   * gzip level of the records, 1 to 9.
   * @default {6}
   */
  compressionLevel?: number;
  /**
   * `--record-format`.
   * @default {"cwl"}
   */
  recordFormat?: RecordFormatName;
  /**
   * `--record-compression`.
   * @default {"gzip"}
   */
  recordCompression?: RecordCompression;
  /**
   * Every sink's records, by the sink's index (a batch's `sink`); without it, one sink in
   * `spoolDir` made as the three options above say.
   */
  sinks?: WorkerSink[];
  /**
   * The relay's instance id, the first part of every event id (`batch/event_id.ts`).
   * @default {"00000000000000000000"}
   */
  instance?: string;
}

/** A running worker: its raw bytes not yet spooled, and since when it has had none. */
interface Slot {
  worker: Worker;
  backlog: number;
  idleSince: number | undefined;
}

/**
 * Owns the spool workers (`spool_worker.ts`): hands each batch, without copying its bytes,
 * to the worker with the smallest backlog, starts another worker while all are busy (up to
 * the count, within the memory limit) and stops one idle for {@linkcode SCALE_DOWN_MS},
 * tracks the raw bytes not spooled yet, and drains them at shutdown.
 */
export class SpoolWorkerClient {
  readonly #workers: Slot[] = [];
  readonly #events: SpoolWorkerEvents;
  readonly #init: Extract<ToWorker, { type: "init" }>;
  readonly #max: number;
  readonly #scaleUpMs: number;
  readonly #scaleDownMs: number;
  readonly #now: () => number;
  readonly #fits: (bytes: number) => boolean;
  /** The record owner, once known (sent to workers started later too). */
  #owner: string | undefined;
  /** Since when every running worker has had a backlog; undefined while one has none. */
  #busySince: number | undefined;
  readonly #drains = new Map<number, () => void>();
  /** The journal runs of each batch in a worker, by batch id (they stay on this thread). */
  readonly #runs = new Map<number, Runs>();
  #nextId = 1;
  #terminated = false;
  /** The worker died: nothing it was handed will be spooled. */
  #dead = false;

  /** Starts the first worker for `spoolDir`. */
  constructor(spoolDir: string, events: SpoolWorkerEvents, options: SpoolWorkerOptions = {}) {
    this.#events = events;
    this.#max = Math.max(1, options.count ?? DEFAULT_SPOOL_WORKERS);
    this.#scaleUpMs = options.scaleUpMs ?? SCALE_UP_MS;
    this.#scaleDownMs = options.scaleDownMs ?? SCALE_DOWN_MS;
    this.#now = options.now ?? Date.now;
    this.#fits = options.fits ?? (() => true);
    this.#init = {
      type: "init",
      instance: options.instance ?? "0".repeat(INSTANCE_ID_DIGITS),
      sinks: options.sinks ?? [{
        spoolDir,
        compressionLevel: options.compressionLevel ?? GZIP_LEVEL,
        recordFormat: options.recordFormat ?? "cwl",
        recordCompression: options.recordCompression ?? "gzip",
        maxRecordBytes: MAX_RECORD_BYTES,
      }],
    };
    this.#start();
  }

  /**
   * Builds every sink's records as `sinks` says from the batches submitted after the call on
   * (a reload added a sink or changed what one's records are); workers started later too.
   */
  setSinks(sinks: WorkerSink[]): void {
    this.#init.sinks = sinks;
    for (const { worker } of this.#workers) worker.postMessage({ type: "sinks", sinks } satisfies ToWorker);
  }

  /** Workers running now. */
  get running(): number {
    return this.#workers.length;
  }

  /** Sets the record owner; a worker builds no record before it has one. */
  setOwner(owner: string): void {
    this.#owner = owner;
    for (const { worker } of this.#workers) worker.postMessage({ type: "owner", owner } satisfies ToWorker);
  }

  #start(): void {
    const slot: Slot = {
      worker: new Worker(new URL("./spool_worker.ts", import.meta.url), { type: "module" }),
      backlog: 0,
      idleSince: this.#now(),
    };
    slot.worker.onmessage = (event: MessageEvent<FromWorker>) => this.#receive(slot, event.data);
    slot.worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#dead = true;
      for (const resolve of this.#drains.values()) resolve();
      this.#drains.clear();
      this.#events.onCrash(event.message);
    };
    slot.worker.postMessage(this.#init);
    if (this.#owner !== undefined) slot.worker.postMessage({ type: "owner", owner: this.#owner } satisfies ToWorker);
    this.#workers.push(slot);
    this.#busySince = undefined;
  }

  /**
   * Starts another worker when every running one has been busy for {@linkcode SCALE_UP_MS}
   * and it fits the memory limit; if it does not, waits as long again before asking again.
   */
  #scale(): void {
    if (this.#workers.length >= this.#max || this.#terminated || this.#dead) return;
    if (this.#workers.some((slot) => slot.backlog === 0)) {
      this.#busySince = undefined;
      return;
    }
    const now = this.#now();
    this.#busySince ??= now;
    if (now - this.#busySince < this.#scaleUpMs) return;
    if (!this.#fits(WORKER_COST_BYTES)) {
      this.#busySince = now;
      this.#events.onHeldBack?.(this.#workers.length);
      return;
    }
    this.#start();
    this.#events.onStarted?.(this.#workers.length);
  }

  /** Hands a batch to the worker; its buffer is transferred, not copied. */
  submit(batch: Batch): void {
    this.#scale();
    const byteLength = batch.lengths.reduce((sum, n) => sum + n, 0);
    let slot = this.#workers[0]!;
    for (const s of this.#workers) if (s.backlog < slot.backlog) slot = s;
    slot.backlog += byteLength;
    slot.idleSince = undefined;
    const { runs, ...packed } = batch;
    const id = this.#nextId++;
    this.#runs.set(id, runs);
    const message: ToWorker = { type: "batch", id, byteLength, ...packed };
    slot.worker.postMessage(message, batch.chunks);
  }

  /**
   * Stops the workers past the first that have been idle for {@linkcode SCALE_DOWN_MS}
   * (called about once a second; not while a drain waits for them).
   */
  tick(): void {
    if (this.#terminated || this.#dead || this.#drains.size > 0) return;
    const now = this.#now();
    for (let i = this.#workers.length - 1; i >= 1; i--) {
      const slot = this.#workers[i]!;
      if (slot.backlog > 0 || slot.idleSince === undefined || now - slot.idleSince < this.#scaleDownMs) continue;
      this.#workers.splice(i, 1);
      slot.worker.terminate();
      this.#events.onStopped?.(this.#workers.length);
    }
  }

  /** Raw bytes handed to the worker and not yet spooled. */
  get backlogBytes(): number {
    return this.#workers.reduce((sum, slot) => sum + slot.backlog, 0);
  }

  /** Resolves once every batch submitted before the call is spooled. */
  async drain(): Promise<void> {
    if (this.#dead || this.#terminated) return;
    await Promise.all(this.#workers.map(({ worker }) => {
      const id = this.#nextId++;
      return new Promise<void>((resolve) => {
        this.#drains.set(id, resolve);
        worker.postMessage({ type: "drain", id } satisfies ToWorker);
      });
    }));
  }

  /** Stops the worker; idempotent. */
  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    for (const { worker } of this.#workers) worker.terminate();
    for (const resolve of this.#drains.values()) resolve();
    this.#drains.clear();
  }

  /** `byteLength` of `slot`'s backlog is spooled (or failed). */
  #done(slot: Slot, byteLength: number): void {
    slot.backlog -= byteLength;
    if (slot.backlog > 0) return;
    this.#busySince = undefined;
    slot.idleSince = this.#now();
  }

  #takeRuns(id: number): Runs {
    const runs = this.#runs.get(id) ?? [];
    this.#runs.delete(id);
    return runs;
  }

  #receive(slot: Slot, message: FromWorker): void {
    switch (message.type) {
      case "spooled":
        this.#done(slot, message.byteLength);
        this.#events.onSpooled(message.entries, message, this.#takeRuns(message.id));
        break;
      case "failed":
        this.#done(slot, message.byteLength);
        this.#events.onFailed(message.events, message.error, this.#takeRuns(message.id));
        break;
      case "spool_error":
        this.#events.onSpoolError(message.error, message.attempt);
        break;
      case "drained":
        this.#drains.get(message.id)?.();
        this.#drains.delete(message.id);
        break;
    }
  }
}
