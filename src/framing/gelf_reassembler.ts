/**
 * Reassembly of chunked GELF UDP messages, per (sender, message id), with bounded memory.
 *
 * Chunks may arrive in any order; duplicates, and late chunks of a message already completed
 * or given up, are ignored (so one lost message is reported once). An incomplete set expires
 * {@linkcode GELF_CHUNK_TIMEOUT_MS} after its first chunk. Pending sets are bounded in number and bytes, overall and per sender, so
 * that one sender flooding partial messages evicts its own oldest sets before anyone
 * else's. Every set given up is reported through `onDiscard`, never silently.
 *
 * Pure: no timers, no I/O. The owner calls {@linkcode GelfReassembler.expire} periodically.
 *
 * @module
 */
import type { GelfChunk } from "./gelf_chunk.ts";

/** How long the chunks of one message may take to arrive (GELF 1.1: "within 5 seconds"). */
export const GELF_CHUNK_TIMEOUT_MS = 5_000;
/** Default bound on incomplete messages held at once. */
export const MAX_PENDING_GELF_SETS = 4_096;
/** Default bound on chunk bytes held for incomplete messages, in bytes. */
export const MAX_PENDING_GELF_BYTES = 32 * 1_048_576;
/** Default bound on chunk bytes held for the incomplete messages of one sender, in bytes. */
export const MAX_PENDING_GELF_BYTES_PER_SENDER = 8 * 1_048_576;

/** Why an incomplete message was given up. */
export type GelfDiscardReason = "chunks_expired" | "chunks_evicted" | "chunks_incomplete";

/** Options of {@linkcode GelfReassembler}. */
export interface GelfReassemblerOptions {
  /** Largest payload of one message (the sum of its chunks), in bytes; larger sets are refused. */
  maxPayloadBytes: number;
  /** Called for every incomplete message given up, with its sender. */
  onDiscard: (source: string, reason: GelfDiscardReason) => void;
  /** @default {5000} */
  timeoutMs?: number;
  /** @default {4096} */
  maxPendingSets?: number;
  /** @default {33554432} */
  maxPendingBytes?: number;
  /** @default {8388608} */
  maxPendingBytesPerSender?: number;
  /** A monotonic clock in ms; injectable for tests. @default {performance.now} */
  now?: () => number;
}

/**
 * What {@linkcode GelfReassembler.add} did with a chunk: the whole payload when the chunk
 * completed its message, `"pending"` while chunks are missing, `"duplicate"` for a chunk
 * already held or of a message already finished (completed or given up), `"bad_sequence"`
 * when the chunk's count disagrees with the earlier chunks of its message (the chunk is
 * ignored), `"oversize"` when the message's chunks exceed `maxPayloadBytes` (the message is
 * given up).
 */
export type GelfAddResult = Uint8Array | "pending" | "duplicate" | "bad_sequence" | "oversize";

interface PendingSet {
  key: string;
  source: string;
  firstAt: number;
  count: number;
  received: number;
  bytes: number;
  chunks: (Uint8Array | undefined)[];
}

interface Sender {
  bytes: number;
  /** The sender's pending sets, oldest first. */
  sets: Set<PendingSet>;
}

/**
 * Collects the chunks of GELF messages until each is complete.
 *
 * @example
 * ```ts
 * const reassembler = new GelfReassembler({ maxPayloadBytes: 65536, onDiscard: count });
 * const result = reassembler.add("10.0.0.1", parseGelfChunk(datagram) as GelfChunk);
 * if (result instanceof Uint8Array) handle(result);
 * ```
 */
export class GelfReassembler {
  readonly #maxPayload: number;
  readonly #onDiscard: (source: string, reason: GelfDiscardReason) => void;
  readonly #timeout: number;
  readonly #maxSets: number;
  readonly #maxBytes: number;
  readonly #maxSenderBytes: number;
  readonly #now: () => number;
  /** Pending sets by key, oldest first (a Map keeps insertion order). */
  readonly #sets = new Map<string, PendingSet>();
  readonly #senders = new Map<string, Sender>();
  /** Keys of recently finished (completed or given up) messages and when, oldest first. */
  readonly #finished = new Map<string, number>();
  #bytes = 0;

  /** Creates a reassembler; see {@linkcode GelfReassemblerOptions}. */
  constructor(options: GelfReassemblerOptions) {
    this.#maxPayload = options.maxPayloadBytes;
    this.#onDiscard = options.onDiscard;
    this.#timeout = options.timeoutMs ?? GELF_CHUNK_TIMEOUT_MS;
    this.#maxSets = options.maxPendingSets ?? MAX_PENDING_GELF_SETS;
    this.#maxBytes = options.maxPendingBytes ?? MAX_PENDING_GELF_BYTES;
    this.#maxSenderBytes = options.maxPendingBytesPerSender ?? MAX_PENDING_GELF_BYTES_PER_SENDER;
    this.#now = options.now ?? (() => performance.now());
    if (this.#maxSenderBytes < this.#maxPayload || this.#maxBytes < this.#maxSenderBytes || this.#maxSets < 1) {
      throw new RangeError(
        `Cannot reassemble GELF: need maxPendingSets >= 1 and maxPendingBytes >= maxPendingBytesPerSender >= ` +
          `maxPayloadBytes, got ${this.#maxSets}, ${this.#maxBytes}, ${this.#maxSenderBytes}, ${this.#maxPayload}`,
      );
    }
  }

  /** Incomplete messages held. */
  get pendingSets(): number {
    return this.#sets.size;
  }

  /** Chunk bytes held for incomplete messages. */
  get pendingBytes(): number {
    return this.#bytes;
  }

  /**
   * Adds one chunk from `source`. The chunk's bytes are copied when kept, so `chunk.data`
   * may be a view into a reused receive buffer. A returned payload is a new array, except
   * for a message of one chunk, which is returned as `chunk.data` itself.
   */
  add(source: string, chunk: GelfChunk): GelfAddResult {
    if (chunk.count === 1) {
      if (chunk.data.length > this.#maxPayload) return "oversize";
      return chunk.data;
    }
    this.expire();
    const key = source + "\0" + chunk.id;
    if (this.#finished.has(key)) return "duplicate";
    let set = this.#sets.get(key);
    if (set === undefined) {
      while (this.#sets.size >= this.#maxSets) this.#evict(this.#sets.values().next().value!);
      set = {
        key,
        source,
        firstAt: this.#now(),
        count: chunk.count,
        received: 0,
        bytes: 0,
        chunks: new Array(chunk.count),
      };
      this.#sets.set(key, set);
      let sender = this.#senders.get(source);
      if (sender === undefined) this.#senders.set(source, sender = { bytes: 0, sets: new Set() });
      sender.sets.add(set);
    }
    if (set.count !== chunk.count) return "bad_sequence";
    if (set.chunks[chunk.sequence] !== undefined) return "duplicate";
    const length = chunk.data.length;
    if (set.bytes + length > this.#maxPayload) {
      this.#finish(set);
      return "oversize";
    }
    set.chunks[chunk.sequence] = chunk.data.slice();
    set.received++;
    set.bytes += length;
    this.#bytes += length;
    const sender = this.#senders.get(source)!;
    sender.bytes += length;
    if (set.received === set.count) {
      this.#finish(set);
      return concat(set.chunks as Uint8Array[], set.bytes);
    }
    // A set's bytes never exceed maxPayloadBytes <= either bound, so the set just added to
    // is never the one evicted: older sets go first.
    while (sender.bytes > this.#maxSenderBytes) this.#evict(sender.sets.values().next().value!);
    while (this.#bytes > this.#maxBytes) this.#evict(this.#sets.values().next().value!);
    return "pending";
  }

  /** Gives up every incomplete message older than the timeout (reported as expired). */
  expire(): void {
    const deadline = this.#now() - this.#timeout;
    for (const set of this.#sets.values()) {
      if (set.firstAt > deadline) break;
      this.#finish(set);
      this.#onDiscard(set.source, "chunks_expired");
    }
    for (const [key, at] of this.#finished) {
      if (at > deadline) break;
      this.#finished.delete(key);
    }
  }

  /** Gives up every incomplete message (reported as incomplete), as at shutdown. */
  discardAll(): void {
    for (const set of this.#sets.values()) {
      this.#finish(set);
      this.#onDiscard(set.source, "chunks_incomplete");
    }
  }

  #evict(set: PendingSet): void {
    this.#finish(set);
    this.#onDiscard(set.source, "chunks_evicted");
  }

  /** Forgets a set's chunks and remembers its key for a while (bounded like the sets). */
  #finish(set: PendingSet): void {
    this.#finished.delete(set.key);
    this.#finished.set(set.key, this.#now());
    if (this.#finished.size > this.#maxSets) this.#finished.delete(this.#finished.keys().next().value!);
    this.#sets.delete(set.key);
    this.#bytes -= set.bytes;
    const sender = this.#senders.get(set.source)!;
    sender.bytes -= set.bytes;
    sender.sets.delete(set);
    if (sender.sets.size === 0) this.#senders.delete(set.source);
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
