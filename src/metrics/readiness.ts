/**
 * What `/ready` answers: whether this relay should be given traffic now. A load balancer or
 * Kubernetes takes an unready relay out of rotation; it keeps running and delivering.
 *
 * @module
 */

/** Default of `--ready-delivery-timeout`, in seconds: five minutes of failed deliveries. */
export const DEFAULT_READY_DELIVERY_TIMEOUT_S = 300;

/** The relay's state, as far as readiness goes. */
export interface ReadinessState {
  /** Every listener is bound and serving. */
  started: boolean;
  /** A shutdown has begun. */
  stopping: boolean;
  /** Why the spool directory cannot be written now (the last probe or record write), if it cannot. */
  spoolError: string | undefined;
  /** Why intake is held back (`spool_full`, `worker_backlog`, `journal_backlog`), if it is. */
  pressure: string | undefined;
  /** How long deliveries have been failing with nothing delivered, in ms, if they are. */
  failingForMs: number | undefined;
  /** How long deliveries may fail before the relay is unready, in ms; 0 is never. */
  failingLimitMs: number;
  /** How long the sinks have refused records with none delivered, in ms, and the last refusal, if they have. */
  refusing?: { forMs: number; reason: string } | undefined;
  /** How long the sinks may refuse records before the relay is unready, in ms: `--flush-interval`. */
  refusingLimitMs?: number;
  /** Why no AWS credentials could be had, while none can. */
  credentialsError?: string | undefined;
}

/** The answer of `/ready`. */
export interface Readiness {
  /** Whether to send traffic here. */
  ready: boolean;
  /** One line per reason it is not ready; empty when ready. */
  problems: string[];
}

/**
 * Judges readiness.
 *
 * @example
 * ```ts
 * const r = judgeReadiness({ started: true, stopping: false, spoolError: undefined, pressure: "spool_full",
 *   failingForMs: undefined, failingLimitMs: 300_000 });
 * // r.ready === false, r.problems[0] starts with "spool full"
 * ```
 */
export function judgeReadiness(state: ReadinessState): Readiness {
  const problems: string[] = [];
  if (!state.started) problems.push("starting: listeners not serving yet");
  if (state.stopping) problems.push("shutting down");
  if (state.spoolError !== undefined) problems.push(`spool not writable: ${state.spoolError}`);
  if (state.pressure === "spool_full") problems.push("spool full (--spool-max-size): TCP/TLS held back, UDP dropped");
  if (state.pressure === "worker_backlog") problems.push("records are built slower than messages arrive");
  if (state.pressure === "journal_backlog") problems.push("the journal cannot be written as fast as messages arrive");
  if (state.credentialsError !== undefined) problems.push(`no AWS credentials: ${state.credentialsError}`);
  const refusing = state.refusing;
  if (refusing !== undefined && refusing.forMs >= (state.refusingLimitMs ?? 0)) {
    problems.push(`the sink refuses every record (for ${Math.round(refusing.forMs / 1000)} s): ${refusing.reason}`);
  }
  const failing = state.failingForMs;
  if (failing !== undefined && state.failingLimitMs > 0 && failing >= state.failingLimitMs) {
    problems.push(
      `delivery failing for ${Math.round(failing / 1000)} s (--ready-delivery-timeout ${state.failingLimitMs / 1000})`,
    );
  }
  return { ready: problems.length === 0, problems };
}

/**
 * A check `/ready` makes (the spool directory written and read back), run at most once every
 * `intervalMs` however often `/ready` is asked; a failure is reported once per run.
 */
export class CachedProbe {
  #last: { at: number; result: Promise<string | undefined> } | undefined;

  constructor(
    readonly probe: () => Promise<void>,
    readonly intervalMs: number,
    readonly onError: (error: string) => void,
  ) {}

  /** Why the last run failed, if it did; runs the check again when that run is older than the interval. */
  result(now = Date.now()): Promise<string | undefined> {
    if (this.#last === undefined || now - this.#last.at >= this.intervalMs) {
      const result = this.probe().then(() => undefined, (error: Error) => error.message);
      this.#last = { at: now, result };
      void result.then((error) => {
        if (error !== undefined) this.onError(error);
      });
    }
    return this.#last.result;
  }
}
