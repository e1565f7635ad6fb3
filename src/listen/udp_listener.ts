import { datagramMessage } from "../framing/datagram.ts";
import type { Ingest, ListenerInfo } from "./ingest.ts";
import { readUdpDrops } from "./udp_drops.ts";
import type { DatagramPack, UdpReceiver } from "./udp_receiver.ts";

/**
 * What a UDP listener does with each message its worker hands over (a syslog datagram, or a
 * GELF message's JSON text). `message` is a view into the pack: copy what must outlive the call.
 */
type MessageHandler = (message: Uint8Array, source: string, receivedMs: number) => void;

/** Options of {@linkcode UdpListener}. */
export interface UdpListenerOptions {
  /** A bound UDP socket, received on by its own worker. */
  receiver: UdpReceiver;
  /** Names for records and metrics. */
  info: ListenerInfo;
  /** Where messages go. */
  ingest: Ingest;
  /** Longest message kept, in bytes. */
  maxMessageBytes: number;
}

/**
 * Receives syslog over UDP (RFC 5426): one datagram, one message, nothing shared between
 * senders; or GELF (`info.format`). A worker drains the socket (`udp_receive_worker.ts`), so
 * the kernel's receive buffer empties while this thread works; it also refuses sources
 * outside `--allow-from` and, for GELF, reassembles chunks and decompresses. The messages
 * come here in packs, with what the worker refused, and each is copied into its batch at once.
 */
export class UdpListener {
  readonly #o: UdpListenerOptions;
  readonly #handle: MessageHandler;
  #started = false;
  #closed = false;
  /** The kernel's drop count of this port when last read. */
  #kernelDrops: number | undefined;
  /** Packs not yet handled, oldest first, each with the index of its next datagram. */
  readonly #held: { pack: DatagramPack; next: number }[] = [];
  /** Set while the drain waits for the workers or the journal. */
  #waiting: Promise<void> | undefined;

  /** Wraps a bound socket; call {@linkcode UdpListener.serve}. */
  constructor(options: UdpListenerOptions) {
    this.#o = options;
    this.#handle = options.info.format === "gelf" ? gelfMessages(options) : syslogDatagrams(options);
  }

  /**
   * Lets the handler do its periodic work, and counts the datagrams the kernel dropped since
   * the last tick (called by the relay about once a second).
   */
  tick(): void {
    if (this.#o.info.format === "gelf") {
      const { sets, bytes } = this.#o.receiver.gelfPending;
      const { metrics } = this.#o.ingest;
      metrics.gelfPendingMessages.set({ listener: this.#o.info.label }, sets);
      metrics.gelfPendingBytes.set({ listener: this.#o.info.label }, bytes);
    }
    const drops = this.#drops();
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
    this.#kernelDrops ??= this.#drops();
    if (this.#kernelDrops === undefined && this.#o.receiver.unset !== undefined && !this.#started) {
      const { ingest, info } = this.#o;
      ingest.log.warn("Cannot count datagrams the kernel drops on a full receive buffer", {
        listener: info.label,
        why: `${this.#o.receiver.unset}, and /proc/net/udp is not readable (Deno reads /proc only with --allow-all)`,
        watch: "netstat -su (receive buffer errors) on the host",
      });
    }
    if (this.#started) return;
    this.#started = true;
    const { ingest, info } = this.#o;
    this.#o.receiver.start({
      onPack: (pack) => this.#take(pack),
      onError: (error) => {
        ingest.metrics.connectionErrors.inc({ listener: info.label, reason: "receive_error" });
        ingest.log.limited("error", `udp-${info.label}`, "Cannot receive a datagram", { listener: info.label, error });
      },
    });
  }

  /**
   * Closes the socket and takes in what its worker still had (the relay releases the
   * back-pressure first, so nothing is held); idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#o.receiver.close();
    this.#drain();
    this.tick();
  }

  /** The kernel's drop count of the socket: from its worker (`SO_MEMINFO`), else from `/proc/net/udp`. */
  #drops(): number | undefined {
    const { receiver } = this.#o;
    if (receiver.unset === undefined) return receiver.kernelDrops ?? 0;
    return readUdpDrops(receiver.port);
  }

  /** Takes a pack of datagrams from the worker: handles it now, or after those held. */
  #take(pack: DatagramPack): void {
    const { ingest, info } = this.#o;
    if (pack.dropped > 0) ingest.dropped(info, "-", "receive_queue_full", pack.dropped);
    for (const { source, reason, count } of pack.refused) ingest.dropped(info, source, reason, count);
    if (pack.duplicates > 0) ingest.metrics.gelfDuplicateChunks.inc({ listener: info.label }, pack.duplicates);
    this.#held.push({ pack, next: 0 });
    if (this.#held.length === 1) this.#drain();
  }

  /**
   * Handles held packs in order until the spool workers or the journal fall behind; then waits
   * for them and goes on where it stopped. A burst is so held in the worker's packs (bounded
   * by its queue, past which it drops and counts) instead of being dropped here; only a full
   * spool, which lasts, drops datagrams as they come (`Ingest.acceptDatagram`).
   */
  #drain(): void {
    const handle = this.#handle;
    while (this.#held.length > 0) {
      const held = this.#held[0]!;
      const { data, ends, from, sources, receivedMs } = held.pack;
      for (; held.next < ends.length; held.next++) {
        if (this.#behind()) return;
        const i = held.next;
        const source = sources[from[i]!]!;
        handle(data.subarray(i === 0 ? 0 : ends[i - 1]!, ends[i]!), source, receivedMs);
      }
      this.#held.shift();
      this.#o.receiver.done(held.pack);
    }
  }

  /** Whether the workers or the journal are behind for now; if so, drains again once they are not. */
  #behind(): boolean {
    const pressure = this.#o.ingest.pressure;
    const reason = pressure.reason();
    if (reason !== "worker_backlog" && reason !== "journal_backlog") return false;
    if (this.#waiting !== undefined) return true;
    const ready = pressure.ready("spool_full");
    if (ready === undefined) return false;
    this.#waiting = ready.then(() => {
      this.#waiting = undefined;
      this.#drain();
    });
    return true;
  }
}

/** Syslog over UDP: the datagram's message, cut to the longest message kept. */
function syslogDatagrams({ info, ingest, maxMessageBytes }: UdpListenerOptions): MessageHandler {
  return (datagram, source, receivedMs) => {
    let message = datagramMessage(datagram);
    if (message.length > maxMessageBytes) {
      ingest.truncated(info, source, message.length, maxMessageBytes);
      message = message.subarray(0, maxMessageBytes);
    }
    ingest.acceptDatagram(info, source, message, receivedMs);
  };
}

/**
 * GELF over UDP: the worker reassembled and decompressed the message (`gelf_datagrams.ts`);
 * its JSON is checked here.
 */
function gelfMessages({ info, ingest }: UdpListenerOptions): MessageHandler {
  return (json, source, receivedMs) => ingest.acceptDatagram(info, source, json, receivedMs);
}
