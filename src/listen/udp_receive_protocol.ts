/**
 * Messages between a UDP listener (main thread) and its receive worker
 * (`udp_receive_worker.ts`).
 *
 * @module
 */

/** Largest UDP payload (RFC 768: a 16-bit length, less the 8-byte UDP header). */
export const MAX_DATAGRAM_BYTES = 65_527;

/** To the worker. */
export type ToReceiver =
  /**
   * Bind `hostname:port` (0: any free port) and start receiving; ask the kernel for a receive
   * buffer of `receiveBuffer` bytes (0: keep its default).
   */
  | { type: "bind"; hostname: string; port: number; receiveBuffer: number }
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
   * Datagrams received: datagram `i` is `data[ends[i-1] ?? 0 .. ends[i]]` from
   * `sources[from[i]]`. `dropped` counts the datagrams the worker received but could not
   * queue since the last pack (the main thread was that far behind).
   */
  | {
    type: "datagrams";
    data: Uint8Array;
    ends: Uint32Array;
    from: Uint32Array;
    sources: string[];
    receivedMs: number;
    dropped: number;
  }
  | { type: "receive_error"; error: string }
  /** The socket's count of datagrams the kernel dropped on a full buffer, about once a second. */
  | { type: "kernel_drops"; total: number }
  | { type: "closed" };
