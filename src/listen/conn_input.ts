/**
 * The bytes of one accepted connection, read one chunk at a time, with a way to put back what
 * a look-ahead took (a PROXY header's tail, the first bytes checked for a TLS hello). Records
 * when it last waited for and got data, so the listener can end idle connections.
 *
 * @module
 */

/** Why reading a connection ended. */
export type InputEnd = "eof" | "reset" | "broken_pipe" | "closed" | "read_error";

/** Pull-based input of one connection. */
export class ConnInput {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #now: () => number;
  #leftover: Uint8Array | undefined;
  /** When the last read started or returned data, in ms. */
  lastActivityMs: number;
  /** Whether a read is waiting for the peer. */
  waiting = false;
  /** Why reading ended, once it has. */
  ended: InputEnd | undefined;
  /** The error that ended it, for the log. */
  error: Error | undefined;

  /** Reads from `reader`; `now` is the clock (injectable for tests). */
  constructor(reader: ReadableStreamDefaultReader<Uint8Array>, now: () => number = Date.now) {
    this.#reader = reader;
    this.#now = now;
    this.lastActivityMs = now();
  }

  /** The next chunk, or undefined at the end (see {@linkcode ConnInput.ended}). Never throws. */
  async read(): Promise<Uint8Array | undefined> {
    if (this.#leftover !== undefined) {
      const chunk = this.#leftover;
      this.#leftover = undefined;
      return chunk;
    }
    if (this.ended !== undefined) return undefined;
    this.waiting = true;
    this.lastActivityMs = this.#now();
    try {
      const result = await this.#reader.read();
      if (result.done) {
        this.ended ??= "eof";
        return undefined;
      }
      this.lastActivityMs = this.#now();
      return result.value;
    } catch (error) {
      this.ended ??= inputEnd(error);
      this.error = error as Error;
      return undefined;
    } finally {
      this.waiting = false;
    }
  }

  /** Puts `bytes` back in front of the next read. */
  unshift(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.#leftover === undefined) {
      this.#leftover = bytes;
      return;
    }
    const joined = new Uint8Array(bytes.length + this.#leftover.length);
    joined.set(bytes);
    joined.set(this.#leftover, bytes.length);
    this.#leftover = joined;
  }

  /** Ends reading (shutdown, a limit): a pending read returns undefined. Idempotent. */
  cancel(): void {
    this.ended ??= "closed";
    this.#leftover = undefined;
    this.#reader.cancel().catch(() => {});
  }
}

function inputEnd(error: unknown): InputEnd {
  if (error instanceof Deno.errors.ConnectionReset) return "reset";
  if (error instanceof Deno.errors.BrokenPipe) return "broken_pipe";
  if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) return "closed";
  return "read_error";
}
