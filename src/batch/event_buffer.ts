/**
 * The packed form of a batch of raw events, written on the main thread and read in the
 * spool worker. Each entry is `u32 length (LE) | f64 receive time in ms (LE) | message bytes`.
 * The whole buffer is transferred to the worker, not copied.
 *
 * @module
 */

/** Bytes of the per-entry header: u32 length and f64 receive time. */
export const ENTRY_HEADER_BYTES = 12;

const INITIAL_CAPACITY_BYTES = 16_384;

/** A growable buffer of raw events for one (log group, log stream). */
export class EventBuffer {
  #bytes: Uint8Array;
  #view: DataView;
  #length = 0;
  /** Number of events held. */
  count = 0;
  /** Sum of the message lengths held, without entry headers. */
  messageBytes = 0;
  /** Clock reading when the first event of the current batch arrived. */
  firstAt = 0;

  /** Creates an empty buffer. */
  constructor(initialCapacity = INITIAL_CAPACITY_BYTES) {
    this.#bytes = new Uint8Array(initialCapacity);
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** Appends one message received at `receivedMs` (copies it). */
  append(message: Uint8Array, receivedMs: number): void {
    const need = this.#length + ENTRY_HEADER_BYTES + message.length;
    if (need > this.#bytes.length) this.#grow(need);
    this.#view.setUint32(this.#length, message.length, true);
    this.#view.setFloat64(this.#length + 4, receivedMs, true);
    this.#bytes.set(message, this.#length + ENTRY_HEADER_BYTES);
    this.#length = need;
    this.count++;
    this.messageBytes += message.length;
  }

  /** Hands over the packed bytes and empties this buffer. */
  take(): { data: ArrayBuffer; byteLength: number; count: number; messageBytes: number } {
    const taken = {
      data: this.#bytes.buffer as ArrayBuffer,
      byteLength: this.#length,
      count: this.count,
      messageBytes: this.messageBytes,
    };
    this.#bytes = new Uint8Array(Math.min(Math.max(this.#length, INITIAL_CAPACITY_BYTES), 1 << 20));
    this.#view = new DataView(this.#bytes.buffer);
    this.#length = 0;
    this.count = 0;
    this.messageBytes = 0;
    return taken;
  }

  #grow(need: number): void {
    let capacity = this.#bytes.length * 2;
    while (capacity < need) capacity *= 2;
    const bigger = new Uint8Array(capacity);
    bigger.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = bigger;
    this.#view = new DataView(bigger.buffer);
  }
}

/**
 * Calls `each(message, receivedMs)` for every entry of a packed buffer, in order.
 * The message is a view into `data`.
 */
export function forEachEvent(
  data: ArrayBuffer,
  byteLength: number,
  each: (message: Uint8Array, receivedMs: number) => void,
): void {
  const view = new DataView(data, 0, byteLength);
  const bytes = new Uint8Array(data, 0, byteLength);
  let at = 0;
  while (at + ENTRY_HEADER_BYTES <= byteLength) {
    const length = view.getUint32(at, true);
    const receivedMs = view.getFloat64(at + 4, true);
    const start = at + ENTRY_HEADER_BYTES;
    if (start + length > byteLength) {
      throw new RangeError(`Cannot read event buffer: entry at ${at} runs past ${byteLength} bytes`);
    }
    each(bytes.subarray(start, start + length), receivedMs);
    at = start + length;
  }
}
