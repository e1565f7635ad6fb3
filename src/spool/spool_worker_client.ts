import type { Batch } from "../batch/batcher.ts";
import type { SpoolEntry } from "./spool_dir.ts";
import type { FromWorker, ToWorker } from "./worker_protocol.ts";

/** What the spool worker reports back for each batch. */
export interface SpoolWorkerEvents {
  /** Records of one batch are in the spool. */
  onSpooled: (
    entries: SpoolEntry[],
    report: { events: number; timestampFallbacks: number; oversizeEvents: number; compressedPerRawByte: number },
  ) => void;
  /** A batch could not be turned into records (a bug: counted and logged, never silent). */
  onFailed: (events: number, error: string) => void;
  /** A record write failed and is being retried. */
  onSpoolError: (error: string, attempt: number) => void;
  /** The worker died (a bug or a missing permission): the relay cannot go on. */
  onCrash: (error: string) => void;
}

/**
 * Owns the spool worker (`spool_worker.ts`): hands it batches without copying their bytes,
 * tracks the raw bytes it has not spooled yet (the backlog), and drains it at shutdown.
 */
export class SpoolWorkerClient {
  readonly #worker: Worker;
  readonly #events: SpoolWorkerEvents;
  readonly #drains = new Map<number, () => void>();
  #nextId = 1;
  #backlog = 0;
  #terminated = false;
  /** The worker died: nothing it was handed will be spooled. */
  #dead = false;

  /** Starts the worker for `spoolDir`. */
  constructor(spoolDir: string, events: SpoolWorkerEvents) {
    this.#events = events;
    this.#worker = new Worker(new URL("./spool_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<FromWorker>) => this.#receive(event.data);
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#dead = true;
      for (const resolve of this.#drains.values()) resolve();
      this.#drains.clear();
      this.#events.onCrash(event.message);
    };
    this.#post({ type: "init", spoolDir });
  }

  /** Sets the record owner; the worker builds no record before it has one. */
  setOwner(owner: string): void {
    this.#post({ type: "owner", owner });
  }

  /** Hands a batch to the worker; its buffer is transferred, not copied. */
  submit(batch: Batch): void {
    const byteLength = batch.lengths.reduce((sum, n) => sum + n, 0);
    this.#backlog += byteLength;
    const message: ToWorker = { type: "batch", id: this.#nextId++, byteLength, ...batch };
    this.#worker.postMessage(message, batch.chunks);
  }

  /** Raw bytes handed to the worker and not yet spooled. */
  get backlogBytes(): number {
    return this.#backlog;
  }

  /** Resolves once every batch submitted before the call is spooled. */
  drain(): Promise<void> {
    if (this.#dead || this.#terminated) return Promise.resolve();
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#drains.set(id, resolve);
      this.#post({ type: "drain", id });
    });
  }

  /** Stops the worker; idempotent. */
  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#worker.terminate();
    for (const resolve of this.#drains.values()) resolve();
    this.#drains.clear();
  }

  #post(message: ToWorker): void {
    this.#worker.postMessage(message);
  }

  #receive(message: FromWorker): void {
    switch (message.type) {
      case "spooled":
        this.#backlog -= message.byteLength;
        this.#events.onSpooled(message.entries, message);
        break;
      case "failed":
        this.#backlog -= message.byteLength;
        this.#events.onFailed(message.events, message.error);
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
