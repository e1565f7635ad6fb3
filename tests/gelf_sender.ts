/**
 * A GELF UDP sender for tests, written from GELF 1.1 ("Chunking", "Compression"): payloads
 * compressed with zlib or gzip or sent plain, cut into chunks with the 12-byte header.
 *
 * @module
 */
import { deflateSync, gzipSync } from "node:zlib";

const enc = new TextEncoder();

/** Options of {@linkcode gelfDatagrams}. */
export interface GelfSendOptions {
  /** @default {"zlib"} */
  compress?: "zlib" | "gzip" | "none";
  /** Payload bytes per chunk; a payload that fits is sent unchunked. @default {1420} (graypy) */
  chunkBytes?: number;
  /** Always use chunk headers, even for one chunk (as gelf-pro does). @default {false} */
  alwaysChunk?: boolean;
}

/** The UDP datagrams that carry one GELF message, in order. */
export function gelfDatagrams(json: string, options: GelfSendOptions = {}): Uint8Array[] {
  const raw = enc.encode(json);
  const compress = options.compress ?? "zlib";
  const payload = compress === "zlib" ? deflateSync(raw) : compress === "gzip" ? gzipSync(raw) : raw;
  const size = options.chunkBytes ?? 1420;
  if (payload.length <= size && !options.alwaysChunk) return [payload];
  const count = Math.max(1, Math.ceil(payload.length / size));
  if (count > 128) throw new RangeError(`Cannot chunk ${payload.length} bytes in at most 128 chunks of ${size}`);
  const id = crypto.getRandomValues(new Uint8Array(8));
  return Array.from({ length: count }, (_, i) => {
    const datagram = new Uint8Array(12 + Math.min(size, payload.length - i * size));
    datagram.set([0x1e, 0x0f, ...id, i, count]);
    datagram.set(payload.subarray(i * size, (i + 1) * size), 12);
    return datagram;
  });
}

/** Random base64 text of `bytes` characters (compresses poorly, like real payload noise). */
export function randomText(bytes: number): string {
  const random = crypto.getRandomValues(new Uint8Array(Math.ceil(bytes * 0.75) + 3));
  return btoa(String.fromCharCode(...random)).slice(0, bytes);
}
