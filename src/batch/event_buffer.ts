/**
 * The packed form of a batch of raw events, written on the main thread and read in the
 * spool worker. Events are appended into chunks (an entry never spans two), so growing never
 * copies and an idle buffer holds no memory. Chunks double in size from
 * {@linkcode MIN_CHUNK_BYTES} to {@linkcode CHUNK_BYTES}, so a buffer costs at most about
 * twice what it holds: a quiet sender with one message costs a small chunk, not 256 KiB. Each entry is
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

/**
 * How events arrived (SPEC section 4.2's `transport`). `unknown` only for events replayed from
 * a journal written before the transport was recorded.
 */
export type Transport = "udp" | "tcp" | "tls" | "relp" | "unknown";

/**
 * Whose events a buffer holds: one sink's, of one (log group, log stream), what the record
 * carries once for all its events (for a sink whose records carry each event's source, the
 * buffer's first: it holds every source's of the format). How each event arrived, its number
 * and its stream are kept per run (`event_runs.ts`): UDP and TCP messages of one source to
 * one port share records.
 */
export interface BufferKey {
  /** The sink's index in the relay's pipeline (which spool and record format). */
  sink: number;
  /** The sink's name (what the journal keeps: indexes change with the configuration). */
  sinkName: string;
  /** How to read the events' times. */
  format: EventFormat;
  /** `<prefix>/<syslog|gelf>/<destination port>`. */
  logGroup: string;
  /** The source address. */
  logStream: string;
  /** IANA time zone of the listener's RFC 3164 timestamps; `undefined` is UTC. */
  timeZone: string | undefined;
}

/** Bytes of the per-entry header: u32 length and f64 receive time. */
export const ENTRY_HEADER_BYTES = 12;

/** Largest chunk; an entry larger than this gets a chunk of its own size. */
export const CHUNK_BYTES = 262_144;
/** Size of a buffer's first chunk (unless its first entry is larger). */
export const MIN_CHUNK_BYTES = 512;

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
  /** Bytes of every chunk held, sealed or not: what this buffer really allocated. */
  #allocated = 0;
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

  /**
   * Appends `count` entries already in the packed form (`entries`: whole entries, with
   * `messageBytes` of messages), copied a run at a time: what a TCP intake worker hands over.
   */
  appendEntries(entries: Uint8Array, count: number, messageBytes: number): void {
    let view: DataView | undefined;
    let at = 0;
    while (at < entries.length) {
      const room = this.#bytes.length - this.#used;
      let end = entries.length;
      if (end - at > room) {
        // The longest run of whole entries that fits (an entry never spans two chunks).
        view ??= new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
        end = at;
        while (end < entries.length) {
          const size = ENTRY_HEADER_BYTES + view.getUint32(end, true);
          if (end + size - at > room) break;
          end += size;
        }
        if (end === at) {
          this.#newChunk(ENTRY_HEADER_BYTES + view.getUint32(at, true));
          continue;
        }
      }
      this.#bytes.set(entries.subarray(at, end), this.#used);
      this.#used += end - at;
      at = end;
    }
    this.count += count;
    this.messageBytes += messageBytes;
  }

  /**
   * Puts packed events back before the ones held (events a worker handed back because they
   * did not fill a record); their chunks are taken over, not copied.
   */
  prepend(packed: PackedEvents): void {
    for (const chunk of packed.chunks) this.#allocated += chunk.byteLength;
    this.#chunks.unshift(...packed.chunks);
    this.#lengths.unshift(...packed.lengths);
    this.count += packed.count;
    this.messageBytes += packed.messageBytes;
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
    this.#allocated = 0;
    this.count = 0;
    this.messageBytes = 0;
    return taken;
  }

  /** Bytes this buffer has allocated for its events (chunks, including their free room). */
  get allocatedBytes(): number {
    return this.#allocated;
  }

  #newChunk(size: number): void {
    this.#seal();
    const capacity = Math.max(size, Math.min(CHUNK_BYTES, Math.max(MIN_CHUNK_BYTES, this.#allocated)));
    this.#allocated += capacity;
    this.#bytes = new Uint8Array(capacity);
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
 * Random access to the entries of packed events, by event number.
 *
 * @example
 * ```ts
 * const index = new EventIndex(buffer.take());
 * const last = index.message(index.count - 1);
 * ```
 */
export class EventIndex {
  /** Number of events. */
  readonly count: number;
  readonly #chunks: Uint8Array[];
  readonly #views: DataView[];
  /** Chunk of each event. */
  readonly #chunk: Uint32Array;
  /** Offset of each event's entry header in its chunk. */
  readonly #at: Uint32Array;
  /** Message bytes of the events before each event (`count + 1` sums). */
  readonly #before: Float64Array;

  /** Indexes `packed`; throws `RangeError` when an entry runs past its chunk. */
  constructor(packed: Pick<PackedEvents, "chunks" | "lengths" | "count">) {
    this.count = packed.count;
    this.#chunks = packed.chunks.map((chunk, c) => new Uint8Array(chunk, 0, packed.lengths[c]!));
    this.#views = packed.chunks.map((chunk, c) => new DataView(chunk, 0, packed.lengths[c]!));
    this.#chunk = new Uint32Array(packed.count);
    this.#at = new Uint32Array(packed.count);
    this.#before = new Float64Array(packed.count + 1);
    let i = 0;
    for (let c = 0; c < packed.chunks.length; c++) i = this.#indexChunk(c, packed.lengths[c]!, i);
    if (i !== packed.count) throw new RangeError(`Cannot index packed events: ${i} entries, not ${packed.count}`);
  }

  /**
   * Indexes the entries of chunk `c` (`length` bytes used) as events `i` on; returns the next
   * event's number. A method called per chunk, not a loop over all chunks in the constructor,
   * nor a callback per entry: V8 then keeps one optimized copy of it, where the others made
   * it compile the loop again for each batch (`--trace-deopt`).
   */
  #indexChunk(c: number, length: number, i: number): number {
    const view = this.#views[c]!;
    for (let at = 0; at + ENTRY_HEADER_BYTES <= length; i++) {
      const size = entrySize(view, at, length);
      if (i >= this.count) throw new RangeError(`Cannot index packed events: more than ${this.count} entries`);
      this.#chunk[i] = c;
      this.#at[i] = at;
      this.#before[i + 1] = this.#before[i]! + size;
      at += ENTRY_HEADER_BYTES + size;
    }
    return i;
  }

  /** The message of event `i`, a view into its chunk. */
  message(i: number): Uint8Array {
    const at = this.#at[i]!;
    const size = this.#views[this.#chunk[i]!]!.getUint32(at, true);
    return this.#chunks[this.#chunk[i]!]!.subarray(at + ENTRY_HEADER_BYTES, at + ENTRY_HEADER_BYTES + size);
  }

  /** The stored time of event `i`, in ms. */
  time(i: number): number {
    return this.#views[this.#chunk[i]!]!.getFloat64(this.#at[i]! + 4, true);
  }

  /** Message bytes of events `from` to `to` (exclusive). */
  messageBytes(from: number, to: number): number {
    return this.#before[to]! - this.#before[from]!;
  }

  /** Copies the entries of events `from` to `to` (exclusive) into packed events of their own. */
  copy(from: number, to: number): PackedEvents {
    const messageBytes = this.messageBytes(from, to);
    const out = new Uint8Array(messageBytes + (to - from) * ENTRY_HEADER_BYTES);
    let used = 0;
    for (let i = from; i < to; i++) {
      const at = this.#at[i]!;
      const size = ENTRY_HEADER_BYTES + this.#views[this.#chunk[i]!]!.getUint32(at, true);
      out.set(this.#chunks[this.#chunk[i]!]!.subarray(at, at + size), used);
      used += size;
    }
    return { chunks: to > from ? [out.buffer] : [], lengths: to > from ? [used] : [], count: to - from, messageBytes };
  }
}

/** Calls `each(chunk, offset, messageBytes)` for every entry, checking that it fits its chunk. */
function forEachEntry(
  packed: Pick<PackedEvents, "chunks" | "lengths">,
  each: (chunk: number, at: number, size: number) => void,
): void {
  for (let c = 0; c < packed.chunks.length; c++) {
    const length = packed.lengths[c]!;
    const view = new DataView(packed.chunks[c]!, 0, length);
    let at = 0;
    while (at + ENTRY_HEADER_BYTES <= length) {
      const size = entrySize(view, at, length);
      each(c, at, size);
      at += ENTRY_HEADER_BYTES + size;
    }
  }
}

/** The message bytes of the entry at `at` of a chunk of `length` bytes; throws when it runs past. */
function entrySize(view: DataView, at: number, length: number): number {
  const size = view.getUint32(at, true);
  if (at + ENTRY_HEADER_BYTES + size > length) {
    throw new RangeError(`Cannot read packed events: entry at ${at} runs past ${length} bytes`);
  }
  return size;
}

/**
 * Calls `each(message, timeMs)` for every entry of one run of entries (views, not copies), in
 * order; false when an entry runs past the end (or a partial header is left over).
 */
export function forEachEntryOf(entries: Uint8Array, each: (message: Uint8Array, timeMs: number) => void): boolean {
  const view = new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
  let at = 0;
  while (at < entries.length) {
    if (at + ENTRY_HEADER_BYTES > entries.length) return false;
    const size = view.getUint32(at, true);
    const end = at + ENTRY_HEADER_BYTES + size;
    if (end > entries.length) return false;
    each(entries.subarray(at + ENTRY_HEADER_BYTES, end), view.getFloat64(at + 4, true));
    at = end;
  }
  return true;
}

/**
 * Calls `each(message, receivedMs)` for every entry of packed events, in order.
 * The message is a view into a chunk.
 */
export function forEachEvent(
  packed: Pick<PackedEvents, "chunks" | "lengths">,
  each: (message: Uint8Array, receivedMs: number) => void,
): void {
  forEachEntry(packed, (c, at, size) => {
    const chunk = packed.chunks[c]!;
    each(new Uint8Array(chunk, at + ENTRY_HEADER_BYTES, size), new DataView(chunk).getFloat64(at + 4, true));
  });
}
