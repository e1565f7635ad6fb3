/**
 * Messages between a UDP listener (main thread) and its receive worker
 * (`udp_receive_worker.ts`).
 *
 * @module
 */

/** Largest UDP payload (RFC 768: a 16-bit length, less the 8-byte UDP header). */
export const MAX_DATAGRAM_BYTES = 65_527;

/** What the worker does with its socket. */
export interface ReceiverOptions {
  /** Receive buffer asked of the kernel, in bytes (0: keep its default). */
  receiveBuffer: number;
  /** `gelf`: reassemble chunks and decompress in the worker, handing over JSON texts. */
  format: "syslog" | "gelf";
  /** GELF: longest message kept after decompression. */
  maxMessageBytes: number;
  /** `--allow-from` ranges (empty: any source); datagrams from elsewhere are refused. */
  allowFrom: string[];
}

/** Datagrams refused from one source for one reason, within a pack. */
export interface Refusal {
  source: string;
  reason: string;
  count: number;
}

/** To the worker. */
export type ToReceiver =
  /** Bind and start receiving; see {@linkcode ReceiverOptions}. */
  | ({ type: "bind"; hostname: string; port: number } & ReceiverOptions)
  /** The main thread is done with a pack of this many bytes. */
  | { type: "ack"; bytes: number }
  /** Close the socket. */
  | { type: "close" };

/** From the worker. */
export type FromReceiver =
  /**
   * Bound. `receiveBuffer`: the socket's receive buffer as the kernel reports it, or
   * undefined with `unset` saying why it could not be read or set.
   */
  | { type: "bound"; port: number; receiveBuffer: number | undefined; unset?: string }
  | { type: "bind_error"; error: string; addressInUse: boolean }
  /**
   * Messages received: message `i` is `data[ends[i-1] ?? 0 .. ends[i]]` from
   * `sources[from[i]]` (a syslog datagram; a GELF message's JSON text). `dropped` counts the
   * datagrams the worker received but could not queue since the last pack (the main thread
   * was that far behind); `refused`, those it refused, by source and reason (`--allow-from`,
   * GELF chunks and payloads); `duplicates`, GELF chunks received twice.
   */
  | {
    type: "datagrams";
    data: Uint8Array;
    ends: Uint32Array;
    from: Uint32Array;
    sources: string[];
    receivedMs: number;
    dropped: number;
    refused: Refusal[];
    duplicates: number;
  }
  | { type: "receive_error"; error: string }
  /** The socket's count of datagrams the kernel dropped on a full buffer, about once a second. */
  | { type: "kernel_drops"; total: number }
  /** GELF messages waiting for chunks, and their bytes, about once a second. */
  | { type: "gelf_pending"; sets: number; bytes: number }
  | { type: "closed" };
