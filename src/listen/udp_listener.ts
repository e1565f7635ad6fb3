import { datagramMessage } from "../framing/datagram.ts";
import type { Ingest, ListenerInfo } from "./ingest.ts";
import { readUdpDrops } from "./udp_drops.ts";
import type { DatagramPack, UdpReceiver } from "./udp_receiver.ts";

/**
 * The message a UDP listener takes from one datagram its worker hands over (a syslog
 * datagram, or a GELF message's JSON text): a view into the pack.
 */
type MessageOf = (datagram: Uint8Array, source: string) => Uint8Array;

/**
 * Bytes of datagrams after which a run handed to the ingest (one journal block, one pressure
 * check) ends: a run holds less than this plus one datagram, which is how far the intake may
 * go past the workers' or the journal's bound (tested in `udp_listener_test.ts`).
 */
export const RUN_BYTES = 65_536;

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
  readonly #messageOf: MessageOf;
  #started = false;
  #closed = false;
  /** The kernel's drop count of this port when last read. */
  #kernelDrops: number | undefined;
  /**
   * Packs not yet handled, oldest first, each with its datagrams in the order they are taken
   * (grouped by source) and the position of the next one in that order.
   */
  readonly #held: { pack: DatagramPack; order: Uint32Array; next: number }[] = [];
  /** Set while the drain waits for the workers or the journal. */
  #waiting: Promise<void> | undefined;

  /** Wraps a bound socket; call {@linkcode UdpListener.serve}. */
  constructor(options: UdpListenerOptions) {
    this.#o = options;
    this.#messageOf = options.info.format === "gelf" ? (json) => json : syslogMessage(options);
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
    this.#held.push({ pack, order: bySource(pack.from, pack.sources.length), next: 0 });
    if (this.#held.length === 1) this.#drain();
  }

  /**
   * Handles held packs in order until the spool workers or the journal fall behind; then waits
   * for them and goes on where it stopped. A burst is so held in the worker's packs (bounded
   * by its queue, past which it drops and counts) instead of being dropped here; only a full
   * spool, which lasts, drops datagrams as they come (`Ingest.acceptDatagrams`).
   */
  #drain(): void {
    while (this.#held.length > 0) {
      const held = this.#held[0]!;
      while (held.next < held.order.length) {
        if (this.#behind()) return;
        held.next = this.#run(held.pack, held.order, held.next);
      }
      this.#held.shift();
      this.#o.receiver.done(held.pack);
    }
  }

  /**
   * Hands the ingest the run that starts at `order[at]`: datagrams of one source, up to
   * {@linkcode RUN_BYTES}; returns where the next run starts. A pack's datagrams from many
   * sources are so taken in a few runs (the journal, the batcher and the metrics are called
   * per run, not per datagram).
   */
  #run(pack: DatagramPack, order: Uint32Array, at: number): number {
    const { data, ends, from, sources, receivedMs } = pack;
    const sourceIndex = from[order[at]!]!;
    const source = sources[sourceIndex]!;
    const messages: Uint8Array[] = [];
    let bytes = 0;
    let next = at;
    for (; next < order.length && bytes < RUN_BYTES; next++) {
      const i = order[next]!;
      if (from[i] !== sourceIndex) break;
      const datagram = data.subarray(i === 0 ? 0 : ends[i - 1]!, ends[i]!);
      messages.push(this.#messageOf(datagram, source));
      bytes += datagram.length;
    }
    this.#o.ingest.acceptDatagrams(this.#o.info, source, messages, receivedMs);
    return next;
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
function syslogMessage({ info, ingest, maxMessageBytes }: UdpListenerOptions): MessageOf {
  return (datagram, source) => {
    const message = datagramMessage(datagram);
    if (message.length <= maxMessageBytes) return message;
    ingest.truncated(info, source, message.length, maxMessageBytes);
    return message.subarray(0, maxMessageBytes);
  };
}

/**
 * The positions of a pack's datagrams grouped by source, sources in order of first
 * appearance, each source's datagrams in the order they arrived (a counting sort of `from`).
 *
 * @example
 * ```ts
 * bySource(Uint32Array.of(0, 1, 0, 2, 1), 3); // [0, 2, 1, 4, 3]
 * ```
 */
export function bySource(from: Uint32Array, sources: number): Uint32Array {
  const starts = new Uint32Array(sources + 1);
  for (let i = 0; i < from.length; i++) starts[from[i]! + 1]!++;
  for (let s = 0; s < sources; s++) starts[s + 1]! += starts[s]!;
  const order = new Uint32Array(from.length);
  for (let i = 0; i < from.length; i++) order[starts[from[i]!]!++] = i;
  return order;
}
