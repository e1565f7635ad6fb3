/**
 * The packed form of a batch of raw events, written on the main thread and read in the
 * spool worker. Events are appended into fixed-size chunks (an entry never spans two), so
 * growing never copies and an idle buffer holds no memory. Each entry is
 * `u32 length (LE) | f64 time in ms (LE) | message bytes`; the time is the receive time of
 * a syslog message and the event time of a GELF one (see {@linkcode EventFormat}). The
 * chunks are transferred to the worker, not copied.
 *
 * @module
 */

/**
 * What the events of a buffer are: `syslog` events carry their receive time and the worker
 * reads the event time from the message; `gelf` events carry their event time already
 * (read from the JSON on the main thread, where the message was validated).
 */
export type EventFormat = "syslog" | "gelf";

/** Bytes of the per-entry header: u32 length and f64 receive time. */
export const ENTRY_HEADER_BYTES = 12;

/** Size of one chunk; an entry larger than this gets a chunk of its own size. */
export const CHUNK_BYTES = 262_144;

/** Packed events, as handed to the worker. */
export interface PackedEvents {
  /** The chunks' buffers (transferable). */
  chunks: ArrayBuffer[];
  /** Bytes in use in each chunk. */
  lengths: number[];
  /** Number of events. */
  count: number;
  /** Sum of the message lengths, without entry headers. */
  messageBytes: number;
}

/** A buffer of raw events for one (log group, log stream). */
export class EventBuffer {
  #chunks: ArrayBuffer[] = [];
  #lengths: number[] = [];
  #bytes: Uint8Array = new Uint8Array(0);
  #view: DataView = new DataView(this.#bytes.buffer);
  #used = 0;
  /** Number of events held. */
  count = 0;
  /** Sum of the message lengths held, without entry headers. */
  messageBytes = 0;
  /** Clock reading when the first event of the current batch arrived. */
  firstAt = 0;

  /** Appends one message received at `receivedMs` (copies it). */
  append(message: Uint8Array, receivedMs: number): void {
    const size = ENTRY_HEADER_BYTES + message.length;
    if (this.#used + size > this.#bytes.length) this.#newChunk(size);
    const at = this.#used;
    this.#view.setUint32(at, message.length, true);
    this.#view.setFloat64(at + 4, receivedMs, true);
    this.#bytes.set(message, at + ENTRY_HEADER_BYTES);
    this.#used = at + size;
    this.count++;
    this.messageBytes += message.length;
  }

  /** Hands over the packed events and empties this buffer. */
  take(): PackedEvents {
    this.#seal();
    const taken = { chunks: this.#chunks, lengths: this.#lengths, count: this.count, messageBytes: this.messageBytes };
    this.#chunks = [];
    this.#lengths = [];
    this.#bytes = new Uint8Array(0);
    this.#view = new DataView(this.#bytes.buffer);
    this.#used = 0;
    this.count = 0;
    this.messageBytes = 0;
    return taken;
  }

  #newChunk(size: number): void {
    this.#seal();
    this.#bytes = new Uint8Array(Math.max(CHUNK_BYTES, size));
    this.#view = new DataView(this.#bytes.buffer);
    this.#used = 0;
  }

  #seal(): void {
    if (this.#used > 0) {
      this.#chunks.push(this.#bytes.buffer as ArrayBuffer);
      this.#lengths.push(this.#used);
    }
  }
}

/**
 * Calls `each(message, receivedMs)` for every entry of packed events, in order.
 * The message is a view into a chunk.
 */
export function forEachEvent(
  packed: Pick<PackedEvents, "chunks" | "lengths">,
  each: (message: Uint8Array, receivedMs: number) => void,
): void {
  for (let c = 0; c < packed.chunks.length; c++) {
    const length = packed.lengths[c]!;
    const view = new DataView(packed.chunks[c]!, 0, length);
    const bytes = new Uint8Array(packed.chunks[c]!, 0, length);
    let at = 0;
    while (at + ENTRY_HEADER_BYTES <= length) {
      const size = view.getUint32(at, true);
      const receivedMs = view.getFloat64(at + 4, true);
      const start = at + ENTRY_HEADER_BYTES;
      if (start + size > length) {
        throw new RangeError(`Cannot read packed events: entry at ${at} runs past ${length} bytes`);
      }
      each(bytes.subarray(start, start + size), receivedMs);
      at = start + size;
    }
  }
}
