/**
 * The bytes of one accepted connection, read one chunk at a time, with a way to put back what
 * a look-ahead took (a PROXY header's tail, the first bytes checked for a TLS hello). Records
 * when it last waited for and got data, so the listener can end idle connections.
 *
 * Each read gets a buffer of its own (chunks are handed on, never reused), sized by what the
 * last reads brought: from {@linkcode MIN_READ_BYTES}, doubled after a read that filled it, up
 * to {@linkcode MAX_READ_BYTES}, halved after one that filled less than a quarter. `conn.readable` allocates 64 KiB for every read instead, so a
 * connection waiting for data holds 64 KiB, and one that trickles a byte a second makes 64 KiB
 * of garbage a second: measured, 1,000 such connections took the relay from 71 MB to 392 MB.
 *
 * @module
 */

/** The first read buffer of a connection, and the smallest, in bytes. */
export const MIN_READ_BYTES = 1_024;
/** The largest read buffer, in bytes (what `conn.readable` reads at a time). */
export const MAX_READ_BYTES = 65_536;

/** What {@linkcode ConnInput} reads from: a `Deno.Conn`, or anything that reads like one. */
export interface ByteSource {
  /** Reads into `buffer`; the number of bytes, or null at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Closes the source: a pending read ends. */
  close(): void;
}

/** Why reading a connection ended. */
export type InputEnd = "eof" | "reset" | "broken_pipe" | "closed" | "read_error";

/** Pull-based input of one connection. */
export class ConnInput {
  readonly #source: ByteSource;
  readonly #now: () => number;
  /** Size of the next read's buffer. */
  #readBytes = MIN_READ_BYTES;
  #leftover: Uint8Array | undefined;
  /** When the last read started or returned data, in ms. */
  lastActivityMs: number;
  /** Whether a read is waiting for the peer. */
  waiting = false;
  /** Why reading ended, once it has. */
  ended: InputEnd | undefined;
  /** The error that ended it, for the log. */
  error: Error | undefined;

  /** Reads from `source`; `now` is the clock (injectable for tests). */
  constructor(source: ByteSource, now: () => number = Date.now) {
    this.#source = source;
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
      const buffer = new Uint8Array(this.#readBytes);
      const n = await this.#source.read(buffer);
      if (this.ended !== undefined) return undefined;
      if (n === null) {
        this.ended = "eof";
        return undefined;
      }
      this.lastActivityMs = this.#now();
      // A full read doubles the next; one under a quarter full halves it: a busy connection
      // stays at 64 KiB, a trickling one comes down to 1 KiB within a few reads.
      if (n === buffer.length) this.#readBytes = Math.min(MAX_READ_BYTES, 2 * n);
      else if (n < buffer.length / 4) this.#readBytes = Math.max(MIN_READ_BYTES, buffer.length / 2);
      return n === buffer.length ? buffer : buffer.subarray(0, n);
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

  /** Ends reading (shutdown, a limit) by closing the source: a pending read returns undefined. Idempotent. */
  cancel(): void {
    if (this.ended === undefined) {
      this.ended = "closed";
      try {
        this.#source.close();
      } catch { /* already closed */ }
    }
    this.#leftover = undefined;
  }
}

function inputEnd(error: unknown): InputEnd {
  if (error instanceof Deno.errors.ConnectionReset) return "reset";
  if (error instanceof Deno.errors.BrokenPipe) return "broken_pipe";
  if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) return "closed";
  return "read_error";
}
