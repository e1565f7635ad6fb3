/**
 * Watches that a sink has AWS credentials. Without any, it says so once, naming where they
 * were looked for, reports the problem (for `/ready`), and looks again every
 * {@linkcode CREDENTIALS_RETRY_MS}, since a role or a container agent may come later; it says
 * so when they resolve.
 *
 * @module
 */
import type { Logger } from "../log.ts";

/** How often credentials are looked for again while there are none, in ms. */
export const CREDENTIALS_RETRY_MS = 5_000;

/** Where credentials come from: why there are none (undefined once there are), and where they were looked for. */
export interface CredentialsSource {
  /** Resolves credentials; undefined once there are some, else why there are none. */
  check(): Promise<string | undefined>;
  /** The providers looked in, for the log line. */
  sources(): string[];
}

/** Looks for credentials until there are some. */
export class CredentialsWatch {
  readonly #source: CredentialsSource;
  readonly #log: Logger;
  #problem: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** Creates the watch; {@linkcode CredentialsWatch.check} starts it. */
  constructor(source: CredentialsSource, log: Logger) {
    this.#source = source;
    this.#log = log;
  }

  /** Why there are no credentials, while there are none. */
  get problem(): string | undefined {
    return this.#problem;
  }

  /** Looks once; while there are none, looks again every {@linkcode CREDENTIALS_RETRY_MS}. */
  async check(): Promise<void> {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    const error = await this.#source.check();
    if (error === undefined) {
      if (this.#problem !== undefined) this.#log.info("AWS credentials resolved; /ready no longer waits for them");
      this.#problem = undefined;
      return;
    }
    if (this.#problem === undefined) {
      this.#log.error(
        "No AWS credentials from any provider, or a role that cannot be assumed; /ready is false until they " +
          "resolve (looked again every " +
          `${CREDENTIALS_RETRY_MS / 1000} s)`,
        { tried: this.#source.sources().join(", "), error },
      );
    }
    this.#problem = error;
    clearTimeout(this.#timer);
    if (!this.#closed) this.#timer = setTimeout(() => void this.check(), CREDENTIALS_RETRY_MS);
  }

  /** Stops looking. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}
