/**
 * The header of a chunked GELF UDP datagram (GELF 1.1, "Chunking"): the magic bytes
 * `0x1e 0x0f`, an 8-byte message id, a sequence number and a sequence count, then the
 * chunk's share of the (possibly compressed) payload.
 *
 * @module
 */

/** First byte of a chunked GELF datagram. */
export const GELF_CHUNK_MAGIC_0 = 0x1e;
/** Second byte of a chunked GELF datagram. */
export const GELF_CHUNK_MAGIC_1 = 0x0f;
/** Bytes of the chunk header: magic (2), message id (8), sequence number (1), count (1). */
export const GELF_CHUNK_HEADER_BYTES = 12;
/** Most chunks one message may have (GELF 1.1: "a message MUST NOT consist of more than 128 chunks"). */
export const MAX_GELF_CHUNKS = 128;

/** One chunk of a GELF message. */
export interface GelfChunk {
  /** The message id as an 8-character key (one character per byte). */
  id: string;
  /** Position of this chunk, from 0. */
  sequence: number;
  /** Number of chunks of the message, 1 to {@linkcode MAX_GELF_CHUNKS}. */
  count: number;
  /** The chunk's payload bytes (a view into the datagram). */
  data: Uint8Array;
}

/** Why a chunk was refused; each is a `reason` label of the drop counter. */
export type GelfChunkError = "bad_chunk_header" | "too_many_chunks" | "bad_sequence";

/** Whether a datagram starts with the GELF chunk magic. */
export function isGelfChunk(datagram: Uint8Array): boolean {
  return datagram.length >= 2 && datagram[0] === GELF_CHUNK_MAGIC_0 && datagram[1] === GELF_CHUNK_MAGIC_1;
}

/**
 * Reads the header of a datagram that starts with the chunk magic. Never throws: a header
 * that is too short, a count of 0 or above {@linkcode MAX_GELF_CHUNKS}, or a sequence number
 * outside the count is returned as an error.
 *
 * @example
 * ```ts
 * const chunk = parseGelfChunk(datagram);
 * if (typeof chunk === "string") count(chunk); else reassembler.add(source, chunk);
 * ```
 */
export function parseGelfChunk(datagram: Uint8Array): GelfChunk | GelfChunkError {
  // A chunk may carry no data: gelf-pro 1.4 sends an empty last chunk when the payload is a
  // multiple of its chunk size.
  if (datagram.length < GELF_CHUNK_HEADER_BYTES || !isGelfChunk(datagram)) return "bad_chunk_header";
  const sequence = datagram[10]!;
  const count = datagram[11]!;
  if (count > MAX_GELF_CHUNKS) return "too_many_chunks";
  if (sequence >= count) return "bad_sequence"; // also a count of 0
  const id = String.fromCharCode(
    datagram[2]!,
    datagram[3]!,
    datagram[4]!,
    datagram[5]!,
    datagram[6]!,
    datagram[7]!,
    datagram[8]!,
    datagram[9]!,
  );
  return { id, sequence, count, data: datagram.subarray(GELF_CHUNK_HEADER_BYTES) };
}
