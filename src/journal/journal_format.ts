/**
 * The journal's bytes: pure encoding and decoding, no I/O (the files are `journal.ts`'s).
 *
 * A segment is `KSJ1` followed by blocks. A block holds the messages of one intake (one read
 * of a connection, one datagram) for one (log group, log stream):
 *
 * ```
 * block   = u32 payload length (LE) | u32 CRC-32 of payload (LE) | payload
 * payload = u8 format (bit 0: 0 syslog, 1 gelf; bit 1: a sequence number follows; bit 3: a
 *           destination follows; high nibble: transport, 0 unknown, 1 udp, 2 tcp, 3 tls, 4 relp)
 *         | [f64 sequence number of the first message (LE)]
 *         | [u16 length | sink name (UTF-8) | u16 length | time zone (UTF-8)]
 *         | u16 length | log group (UTF-8) | u16 length | log stream (UTF-8) | entries
 * entries = (u32 length (LE) | f64 time in ms (LE) | message bytes)*
 * ```
 *
 * The destination is written for a sink other than `default` or a listener with a time zone;
 * without it (and in segments written before routes) a block is the `default` sink's, in UTC.
 * The messages of a block are numbered from its sequence number on (their ids:
 * `batch/event_id.ts`), so that a replayed message keeps its id; segments written before
 * numbers were kept have none, and their messages are numbered again when replayed.
 * The entries are those of the in-memory buffers (`event_buffer.ts`), so a replayed block is
 * appended as it was received. The CRC covers the payload: a torn write (power cut) or any
 * damage shows at the first bad block, and decoding stops there.
 *
 * @module
 */
import { crc32 } from "node:zlib";
import {
  type BufferKey,
  ENTRY_HEADER_BYTES,
  type EventFormat,
  forEachEntryOf,
  type Transport,
} from "../batch/event_buffer.ts";
import { TRANSPORTS } from "../batch/event_runs.ts";
import { DEFAULT_SINK } from "../config/pipeline.ts";

/** The first bytes of every segment. */
export const SEGMENT_MAGIC = new TextEncoder().encode("KSJ1");
/** Bytes of a block's header: payload length and CRC-32. */
export const BLOCK_HEADER_BYTES = 8;
/** Longest payload a reader accepts; a larger length is damage, not data. */
export const MAX_BLOCK_BYTES = 64 * 1_048_576;

const FORMATS: readonly EventFormat[] = ["syslog", "gelf"];
/** The bit of the format byte that says a sequence number follows. */
const SEQUENCE_BIT = 0x02;
/** The bit of the format byte that says a destination (sink, time zone) follows. */
const DESTINATION_BIT = 0x08;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** What a block says of its messages: where they go, how they arrived and their numbers. */
export interface BlockKey extends Omit<BufferKey, "sink"> {
  /** How the messages arrived (transports: high nibble of the format byte; 0 in segments written before it was kept). */
  transport: Transport;
  /** Sequence number of the first message (the rest follow on); undefined in segments written before. */
  sequence: number | undefined;
}

/** One decoded block. */
export interface JournalBlock extends BlockKey {
  /** The entries, a view into the segment's bytes (read them with {@linkcode forEachBlockEvent}). */
  entries: Uint8Array;
  /** Number of messages. */
  count: number;
}

/** A decoded segment: the good blocks, and where and why decoding stopped early. */
export interface DecodedSegment {
  blocks: JournalBlock[];
  /** Bytes of the segment up to the end of the last good block. */
  goodBytes: number;
  /** Why the rest of the segment cannot be read; `undefined` when all of it was read. */
  damage: string | undefined;
}

/** Size of the writer's chunks; a block larger than this gets a chunk of its own size. */
export const WRITER_CHUNK_BYTES = 262_144;
/**
 * Spare chunks kept for reuse, at most: 8 MiB, what the journal holds unwritten at most
 * (`MAX_JOURNAL_BACKLOG_BYTES`), so that under load no chunk is allocated; an idle journal
 * lets them go ({@linkcode BlockWriter.releaseSpares}).
 */
const MAX_SPARE_CHUNKS = 32;

/**
 * Appends blocks into fixed-size chunks (a block never spans two); the owner takes the closed
 * blocks' bytes out with {@linkcode BlockWriter.take} and hands the chunks back with
 * {@linkcode BlockWriter.recycle} once written, to be filled again. Nothing grows and nothing
 * is copied but an open block moved to the next chunk: a single growing buffer was measured
 * reaching 8 MB between two writes under TCP load, and the buffers it outgrew (418 MB
 * allocated for 200 MB journaled) held about 40 MB of the main thread's memory, dead, until
 * V8's next full collection. Entries are written straight into the chunk, so a message is
 * copied once.
 */
export class BlockWriter {
  /** Closed blocks' bytes in chunks already left behind, oldest first. */
  #sealed: Uint8Array[] = [];
  #sealedBytes = 0;
  #bytes: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  #view = new DataView(this.#bytes.buffer);
  #used = 0;
  /** Start of the open block in the current chunk, or -1. */
  #open = -1;
  /** Messages in the open block. */
  #count = 0;
  readonly #spare: ArrayBuffer[] = [];

  /** Bytes waiting to be taken (the open block's included). */
  get length(): number {
    return this.#sealedBytes + this.#used;
  }

  /** Opens a block for messages of `key` (one sink's (log group, log stream), arrived one way). */
  begin(key: BlockKey): void {
    if (this.#open >= 0) throw new Error("journal block already open");
    const group = encoder.encode(key.logGroup);
    const stream = encoder.encode(key.logStream);
    const destination = key.sinkName !== DEFAULT_SINK || key.timeZone !== undefined;
    const sink = destination ? encoder.encode(key.sinkName) : undefined;
    const zone = destination ? encoder.encode(key.timeZone ?? "") : undefined;
    const extra = (sink === undefined || zone === undefined ? 0 : 4 + sink.length + zone.length) +
      (key.sequence === undefined ? 0 : 8);
    this.#reserve(BLOCK_HEADER_BYTES + 5 + extra + group.length + stream.length);
    this.#open = this.#used;
    this.#count = 0;
    let at = this.#used + BLOCK_HEADER_BYTES;
    this.#bytes[at++] = FORMATS.indexOf(key.format) | (destination ? DESTINATION_BIT : 0) |
      (key.sequence === undefined ? 0 : SEQUENCE_BIT) | (TRANSPORTS.indexOf(key.transport) << 4);
    if (key.sequence !== undefined) {
      this.#view.setFloat64(at, key.sequence, true);
      at += 8;
    }
    if (sink !== undefined && zone !== undefined) {
      for (const name of [sink, zone]) {
        this.#view.setUint16(at, name.length, true);
        this.#bytes.set(name, at + 2);
        at += 2 + name.length;
      }
    }
    this.#view.setUint16(at, group.length, true);
    this.#bytes.set(group, at + 2);
    at += 2 + group.length;
    this.#view.setUint16(at, stream.length, true);
    this.#bytes.set(stream, at + 2);
    this.#used = at + 2 + stream.length;
  }

  /** Adds a message to the open block. */
  add(message: Uint8Array, timeMs: number): void {
    this.#reserve(ENTRY_HEADER_BYTES + message.length);
    const at = this.#used;
    this.#view.setUint32(at, message.length, true);
    this.#view.setFloat64(at + 4, timeMs, true);
    this.#bytes.set(message, at + ENTRY_HEADER_BYTES);
    this.#used = at + ENTRY_HEADER_BYTES + message.length;
    this.#count++;
  }

  /** Adds `count` messages already in the entries' form (`entries`: whole entries) to the open block. */
  addEntries(entries: Uint8Array, count: number): void {
    this.#reserve(entries.length);
    this.#bytes.set(entries, this.#used);
    this.#used += entries.length;
    this.#count += count;
  }

  /** Closes the open block (an empty one is taken back) and returns its number of messages. */
  end(): number {
    const start = this.#open;
    if (start < 0) throw new Error("no journal block open");
    this.#open = -1;
    if (this.#count === 0) {
      this.#used = start;
      return 0;
    }
    const payload = this.#bytes.subarray(start + BLOCK_HEADER_BYTES, this.#used);
    this.#view.setUint32(start, payload.length, true);
    this.#view.setUint32(start + 4, crc32(payload), true);
    return this.#count;
  }

  /**
   * Hands over the closed blocks' bytes, in order (views of the writer's chunks, which are the
   * caller's until {@linkcode BlockWriter.recycle}d); an open block moves to a new chunk.
   */
  take(): Uint8Array[] {
    const end = this.#open >= 0 ? this.#open : this.#used;
    const taken = this.#sealed;
    if (end > 0) {
      taken.push(this.#bytes.subarray(0, end));
      if (this.#open >= 0) {
        this.#next(0);
      } else {
        // Nothing open: the next chunk is taken when something is written.
        this.#bytes = new Uint8Array(0);
        this.#view = new DataView(this.#bytes.buffer);
        this.#used = 0;
      }
    }
    this.#sealed = [];
    this.#sealedBytes = 0;
    return taken;
  }

  /** Takes back chunks handed out by {@linkcode BlockWriter.take}, once their bytes are written. */
  recycle(taken: readonly Uint8Array[]): void {
    for (const part of taken) {
      if (this.#spare.length >= MAX_SPARE_CHUNKS) return;
      if (part.buffer.byteLength === WRITER_CHUNK_BYTES) this.#spare.push(part.buffer as ArrayBuffer);
    }
  }

  /** Lets go of the spare chunks (an idle journal). */
  releaseSpares(): void {
    this.#spare.length = 0;
  }

  #reserve(bytes: number): void {
    if (this.#used + bytes <= this.#bytes.length) return;
    const start = this.#open >= 0 ? this.#open : this.#used;
    if (start > 0) {
      this.#sealed.push(this.#bytes.subarray(0, start));
      this.#sealedBytes += start;
    }
    this.#next(bytes);
  }

  /**
   * Goes on in a new chunk with room for `bytes` more, the open block (if any) moved to its
   * start; the current chunk's bytes before the open block have been handed on.
   */
  #next(bytes: number): void {
    const start = this.#open >= 0 ? this.#open : this.#used;
    const open = this.#bytes.subarray(start, this.#used);
    const size = Math.max(WRITER_CHUNK_BYTES, open.length + bytes);
    const spare = size === WRITER_CHUNK_BYTES ? this.#spare.pop() : undefined;
    const next = spare === undefined ? new Uint8Array(size) : new Uint8Array(spare);
    next.set(open);
    this.#bytes = next;
    this.#view = new DataView(next.buffer);
    this.#used = open.length;
    if (this.#open >= 0) this.#open = 0;
  }
}

/**
 * Decodes a whole segment. Never throws: decoding stops at the first block that is torn,
 * fails its CRC, or does not parse, and says why.
 */
export function decodeSegment(bytes: Uint8Array): DecodedSegment {
  const blocks: JournalBlock[] = [];
  if (bytes.length < SEGMENT_MAGIC.length || !SEGMENT_MAGIC.every((b, i) => bytes[i] === b)) {
    return { blocks, goodBytes: 0, damage: "not a journal segment (no KSJ1 magic)" };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = SEGMENT_MAGIC.length;
  while (at < bytes.length) {
    if (at + BLOCK_HEADER_BYTES > bytes.length) return stop(`torn block header at byte ${at}`);
    const length = view.getUint32(at, true);
    if (length > MAX_BLOCK_BYTES) return stop(`block length ${length} at byte ${at} is impossible`);
    const end = at + BLOCK_HEADER_BYTES + length;
    if (end > bytes.length) {
      return stop(
        `torn block at byte ${at}: ${length} bytes announced, ${bytes.length - at - BLOCK_HEADER_BYTES} present`,
      );
    }
    const payload = bytes.subarray(at + BLOCK_HEADER_BYTES, end);
    if (crc32(payload) !== view.getUint32(at + 4, true)) return stop(`bad checksum in block at byte ${at}`);
    const block = parsePayload(payload);
    if (typeof block === "string") return stop(`${block} in block at byte ${at}`);
    blocks.push(block);
    at = end;
  }
  return { blocks, goodBytes: at, damage: undefined };

  function stop(damage: string): DecodedSegment {
    return { blocks, goodBytes: at, damage };
  }
}

function parsePayload(payload: Uint8Array): JournalBlock | string {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const first = payload[0] ?? 255;
  // Bit 2 is unused: a block with it set is not one this relay wrote.
  const format = (first & 0x04) === 0 ? FORMATS[first & 0x01] : undefined;
  const transport = TRANSPORTS[first >> 4];
  if (format === undefined || transport === undefined) return "unknown format";
  try {
    let at = 1;
    const name = () => {
      const length = view.getUint16(at, true);
      const text = decoder.decode(payload.subarray(at + 2, at + 2 + length));
      at += 2 + length;
      return text;
    };
    let sequence: number | undefined;
    if ((first & SEQUENCE_BIT) !== 0) {
      sequence = view.getFloat64(at, true);
      if (!Number.isSafeInteger(sequence) || sequence < 0) return "a bad sequence number";
      at += 8;
    }
    let sinkName = DEFAULT_SINK;
    let timeZone: string | undefined;
    if ((first & DESTINATION_BIT) !== 0) {
      sinkName = name();
      timeZone = name() || undefined;
    }
    const logGroup = name();
    const logStream = name();
    if (at > payload.length) return "truncated names";
    const entries = payload.subarray(at);
    let count = 0;
    const fits = forEachEntryOf(entries, () => count++);
    if (!fits) return "an entry runs past the block";
    return { sinkName, timeZone, format, transport, sequence, logGroup, logStream, entries, count };
  } catch (error) {
    return (error as Error).message;
  }
}

/** Calls `each(message, timeMs)` for every message of a decoded block, in order (views, not copies). */
export function forEachBlockEvent(block: JournalBlock, each: (message: Uint8Array, timeMs: number) => void): void {
  forEachEntryOf(block.entries, each);
}
