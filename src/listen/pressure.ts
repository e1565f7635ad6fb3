/** How much is waiting, and the bounds that turn on back-pressure. */
export interface PressureOptions {
  /** Bytes in the spool, not yet delivered. */
  spoolBytes: () => number;
  /** Bound on `spoolBytes` (`--spool-max-size`). */
  spoolMaxBytes: number;
  /** Raw bytes handed to the spool worker and not yet spooled. */
  backlogBytes: () => number;
  /** Bound on `backlogBytes`. */
  maxBacklogBytes: number;
  /** Bytes the journal has not written yet (a slow or full disk). @default {() => 0} */
  journalBacklogBytes?: () => number;
}

/**
 * Bound on bytes the journal has not written yet: past it the disk is failing or slower than
 * intake, and intake is slowed or shed until the journal catches up.
 */
export const MAX_JOURNAL_BACKLOG_BYTES = 8 * 1_048_576;

/**
 * Default bound on raw bytes waiting for the spool workers: past it they are behind (busy,
 * a slow disk, or a disk error they are retrying), and intake is slowed or shed. About
 * three batches of 200-byte messages (one record's worth is about 3 MB raw): enough to keep
 * the workers busy; 16 MiB cost 10 MB more RSS for no throughput (`deno task bench`).
 */
export const DEFAULT_MAX_BACKLOG_BYTES = 6 * 1_048_576;

/** Why intake is held back (a UDP message dropped then counts under the same reason). */
export const PRESSURE_REASONS = ["spool_full", "worker_backlog", "journal_backlog"] as const;
/** Why intake is held back. */
export type PressureReason = typeof PRESSURE_REASONS[number];

/** How often a blocked reader looks again, in ms. */
const POLL_MS = 20;

/**
 * Back-pressure: UDP cannot be slowed, so its messages are dropped (and counted) while the
 * relay is over a bound; TCP and TLS readers wait in {@linkcode Pressure.ready}, so the kernel
 * stops the sender.
 */
export class Pressure {
  readonly #o: PressureOptions;
  #released = false;

  /** Creates the gate; see {@linkcode PressureOptions}. */
  constructor(options: PressureOptions) {
    this.#o = options;
  }

  /** Why intake should stop now, or `undefined` when it may go on; `except` is not looked at. */
  reason(except?: PressureReason): PressureReason | undefined {
    if (this.#released) return undefined;
    const o = this.#o;
    if (except !== "spool_full" && o.spoolBytes() >= o.spoolMaxBytes) return "spool_full";
    if (except !== "worker_backlog" && o.backlogBytes() >= o.maxBacklogBytes) return "worker_backlog";
    if (except !== "journal_backlog" && (o.journalBacklogBytes?.() ?? 0) >= MAX_JOURNAL_BACKLOG_BYTES) {
      return "journal_backlog";
    }
    return undefined;
  }

  /**
   * Resolves once intake may go on (at once when it may); with `except`, that reason does
   * not hold it back (the others still do).
   */
  ready(except?: PressureReason): Promise<void> | undefined {
    if (this.reason(except) === undefined) return undefined;
    return new Promise((resolve) => {
      const timer = setInterval(() => {
        if (this.reason(except) === undefined) {
          clearInterval(timer);
          resolve();
        }
      }, POLL_MS);
    });
  }

  /** Opens the gate for good (shutdown: what is in flight must be taken in). */
  release(): void {
    this.#released = true;
  }
}
