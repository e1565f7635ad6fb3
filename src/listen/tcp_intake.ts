/**
 * The main thread's side of a TCP intake worker (`tcp_intake_worker.ts`, `--tcp-workers`):
 * starts the worker on a port the main thread bound with `reusePort`, takes the packs of
 * frames it hands over into the ingest, and acknowledges each once the relay's bounds let
 * intake go on (so a worker's readers wait, as the main thread's do, while the spool is full
 * or the workers are behind).
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { type PackMessage, takePack } from "./intake_forwarder.ts";
import type { Ingest, StreamIngest } from "./ingest.ts";
import type { ConnectionLimits } from "./stream_listener.ts";
import type { FromIntake, IntakeOptions, ToIntake } from "./tcp_intake_protocol.ts";
import { timerDelay } from "../timer.ts";

/** How long past its grace a closing worker may take to say it has closed, in ms. */
export const CLOSE_MARGIN_MS = 5_000;

/** Where a worker's packs go: the main thread's ingest. */
export type IntakeTarget = Pick<Ingest, "acceptEntries" | "metrics"> & Pick<StreamIngest, "pressure">;

/**
 * Part `index` of `total` split over `parts` as evenly as whole numbers allow (the first get
 * one more); 0 (no limit) stays 0.
 */
export function shareOf(total: number, parts: number, index: number): number {
  if (total === 0) return 0;
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}

/**
 * The limits of acceptor `index` of `acceptors` on one port (the main thread is 0): the
 * connection limit is split, so that together they hold no more than `--max-connections`;
 * the per-source cap is split too, rounded up, so that a source holds at most about its cap
 * in all (the kernel spreads one source's connections by their ports, not by source).
 */
export function limitsOf(limits: ConnectionLimits, acceptors: number, index: number): ConnectionLimits {
  return {
    ...limits,
    maxConnections: shareOf(limits.maxConnections, acceptors, index),
    maxConnectionsPerSource: Math.ceil(limits.maxConnectionsPerSource / acceptors),
  };
}

/** A TCP listener on a worker of its own, sharing its port with the main thread's. */
export class TcpIntake {
  readonly #worker: Worker;
  readonly #options: IntakeOptions;
  readonly #log: Logger;
  #ingest: IntakeTarget | undefined;
  /** Packs that came before {@linkcode TcpIntake.serve}. */
  readonly #early: PackMessage[] = [];
  readonly #closed = Promise.withResolvers<void>();
  #closing: Promise<void> | undefined;

  private constructor(worker: Worker, options: IntakeOptions, log: Logger) {
    this.#worker = worker;
    this.#options = options;
    this.#log = log;
  }

  /**
   * Starts a worker listening on `options.port` (bound already, with `reusePort`, by the main
   * thread); throws an `Error` with the system's message when it cannot listen.
   */
  static start(options: IntakeOptions, log: Logger): Promise<TcpIntake> {
    const worker = new Worker(new URL("./tcp_intake_worker.ts", import.meta.url), { type: "module" });
    const intake = new TcpIntake(worker, options, log);
    const listening = Promise.withResolvers<TcpIntake>();
    worker.onmessage = (event: MessageEvent<FromIntake>) => {
      const message = event.data;
      if (message.type === "listening") {
        worker.onmessage = (e: MessageEvent<FromIntake>) => intake.#receive(e.data);
        listening.resolve(intake);
      } else if (message.type === "listen_error") {
        worker.terminate();
        listening.reject(new Error(message.error));
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      intake.#failed(event.message);
      listening.reject(new Error(event.message));
    };
    worker.postMessage({ type: "listen", ...options } satisfies ToIntake);
    return listening.promise;
  }

  /** Hands the frames received so far, and from now on, to `ingest`. */
  serve(ingest: IntakeTarget): void {
    this.#ingest = ingest;
    for (const pack of this.#early.splice(0)) this.#take(pack);
  }

  /**
   * Stops accepting, lets the worker's connections end for `graceMs`, ends them, and takes in
   * every frame they sent. Idempotent.
   */
  close(graceMs: number): Promise<void> {
    this.#closing ??= (async () => {
      this.#worker.postMessage({ type: "close", graceMs } satisfies ToIntake);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((
        resolve,
      ) => (timer = setTimeout(() => resolve(true), timerDelay(graceMs + CLOSE_MARGIN_MS))));
      if (await Promise.race([this.#closed.promise.then(() => false), late])) {
        this.#log.error("A TCP intake worker did not close in time; ended", { listener: this.#options.info.label });
      }
      clearTimeout(timer);
      this.#worker.terminate();
    })();
    return this.#closing;
  }

  #receive(message: FromIntake): void {
    if (message.type === "pack") {
      if (this.#ingest === undefined) this.#early.push(message);
      else this.#take(message);
    } else if (message.type === "closed") {
      this.#closed.resolve();
    }
  }

  /** Takes a pack in, then acknowledges it once the relay's bounds let intake go on. */
  #take(pack: PackMessage): void {
    const ingest = this.#ingest!;
    takePack(pack, this.#options.info, ingest);
    const bytes = pack.data.length;
    const buffer = pack.data.buffer;
    const ack = () => this.#worker.postMessage({ type: "ack", bytes, buffer } satisfies ToIntake, [buffer]);
    const wait = ingest.pressure.ready();
    if (wait === undefined) ack();
    else void wait.then(ack);
  }

  #failed(error: string): void {
    // Its connections are cut, with what they had sent and it had not handed over: counted.
    this.#ingest?.metrics.connectionErrors.inc({ listener: this.#options.info.label, reason: "intake_worker_failed" });
    this.#log.error("A TCP intake worker failed; its connections are lost, the main thread goes on accepting", {
      listener: this.#options.info.label,
      error,
    });
    this.#closed.resolve();
  }
}
