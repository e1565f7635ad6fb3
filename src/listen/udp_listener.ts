import { datagramMessage } from "../framing/datagram.ts";
import { sourceAddress } from "./address.ts";
import type { Ingest, ListenerInfo } from "./ingest.ts";
import { ACCEPT_ERROR_PAUSE_MS } from "./stream_listener.ts";
import type { SourceFilter } from "./source_filter.ts";
import { readUdpDrops } from "./udp_drops.ts";

/** Largest UDP payload (RFC 768: a 16-bit length, less the 8-byte UDP header). */
export const MAX_DATAGRAM_BYTES = 65_527;

/**
 * What a UDP listener does with each datagram (syslog by default; see `gelf_datagrams.ts`).
 * `datagram` is a view into a reused buffer: copy what must outlive the call.
 */
export interface DatagramHandler {
  /** Takes one datagram from `source`. */
  handle(datagram: Uint8Array, source: string, receivedMs: number): void;
  /** Called about once a second (expiry, gauges). */
  tick?(): void;
  /** Called once when the listener closes. */
  close?(): void;
}

/** Options of {@linkcode UdpListener}. */
export interface UdpListenerOptions {
  /** A bound UDP socket. */
  socket: Deno.DatagramConn;
  /** Names for records and metrics. */
  info: ListenerInfo;
  /** Where messages go. */
  ingest: Ingest;
  /** Longest message kept, in bytes. */
  maxMessageBytes: number;
  /** What to do with each datagram. @default syslog: one datagram, one message */
  handler?: DatagramHandler;
  /** Which sources may send (`--allow-from`); other datagrams are dropped and counted. */
  allowFrom: SourceFilter;
}

/**
 * Receives syslog over UDP (RFC 5426): one datagram, one message, nothing shared between
 * senders; or GELF, with another {@linkcode DatagramHandler}. The loop reads as fast as it can into one reused buffer: the message is copied
 * into its batch at once, so the kernel's receive buffer drains quickly.
 */
export class UdpListener {
  readonly #o: UdpListenerOptions;
  readonly #handler: DatagramHandler;
  #serving: Promise<void> | undefined;
  #closed = false;
  /** The kernel's drop count of this port when last read. */
  #kernelDrops: number | undefined;

  /** Wraps a bound socket; call {@linkcode UdpListener.serve}. */
  constructor(options: UdpListenerOptions) {
    this.#o = options;
    this.#handler = options.handler ?? syslogDatagrams(options);
  }

  /**
   * Lets the handler do its periodic work, and counts the datagrams the kernel dropped since
   * the last tick (called by the relay about once a second).
   */
  tick(): void {
    this.#handler.tick?.();
    const drops = readUdpDrops((this.#o.socket.addr as Deno.NetAddr).port);
    if (drops === undefined) return;
    const { ingest, info } = this.#o;
    if (this.#kernelDrops !== undefined && drops > this.#kernelDrops) {
      const lost = drops - this.#kernelDrops;
      ingest.metrics.udpKernelDrops.inc({ listener: info.label }, lost);
      ingest.log.limited(
        "warn",
        `kernel-drops-${info.label}`,
        "The kernel dropped datagrams: the receive buffer was full",
        {
          listener: info.label,
          count: lost,
        },
      );
    }
    this.#kernelDrops = drops;
  }

  /** Starts the receive loop; it ends when the socket is closed. */
  serve(): void {
    this.#kernelDrops ??= readUdpDrops((this.#o.socket.addr as Deno.NetAddr).port);
    if (this.#kernelDrops === undefined && this.#serving === undefined) {
      const { ingest, info } = this.#o;
      ingest.log.warn("Cannot count datagrams the kernel drops on a full receive buffer", {
        listener: info.label,
        why: "/proc/net/udp is not readable (Deno reads /proc only with --allow-all)",
        watch: "netstat -su (receive buffer errors) on the host",
      });
    }
    this.#serving ??= this.#receive();
  }

  /** Closes the socket and waits for the loop to end; idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#o.socket.close();
      } catch { /* already closed */ }
    }
    await this.#serving;
    this.#handler.close?.();
  }

  async #receive(): Promise<void> {
    const { socket, info, ingest, allowFrom } = this.#o;
    const handler = this.#handler;
    const buffer = new Uint8Array(MAX_DATAGRAM_BYTES + 1);
    while (!this.#closed) {
      let received: [Uint8Array, Deno.Addr];
      try {
        received = await socket.receive(buffer);
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        ingest.metrics.connectionErrors.inc({ listener: info.label, reason: "receive_error" });
        ingest.log.limited("error", `udp-${info.label}`, "Cannot receive a datagram", {
          listener: info.label,
          error: (error as Error).message,
        });
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_ERROR_PAUSE_MS));
        continue;
      }
      const [datagram, addr] = received;
      const source = sourceAddress(addr);
      if (allowFrom.allows(source)) handler.handle(datagram, source, Date.now());
      else ingest.dropped(info, source, "not_allowed");
    }
  }
}

/** Syslog over UDP: the datagram's message, cut to the longest message kept. */
function syslogDatagrams({ info, ingest, maxMessageBytes }: UdpListenerOptions): DatagramHandler {
  return {
    handle(datagram, source, receivedMs) {
      let message = datagramMessage(datagram);
      if (message.length > maxMessageBytes) {
        ingest.truncated(info, source, message.length, maxMessageBytes);
        message = message.subarray(0, maxMessageBytes);
      }
      ingest.acceptDatagram(info, source, message, receivedMs);
    },
  };
}
