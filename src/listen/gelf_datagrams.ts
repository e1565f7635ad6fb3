import { isGelfChunk, parseGelfChunk } from "../framing/gelf_chunk.ts";
import { GelfReassembler, type GelfReassemblerOptions } from "../framing/gelf_reassembler.ts";
import { trimTrailingDelimiters } from "../framing/syslog_framer.ts";
import { decodeGelfPayload } from "../parse/gelf_payload.ts";
import type { Ingest, ListenerInfo } from "./ingest.ts";
import type { DatagramHandler } from "./udp_listener.ts";

/**
 * How much larger than its content a compressed payload may be: incompressible data is
 * stored in deflate blocks of 5 header bytes per 65,535 (RFC 1951 section 3.2.4), inside at
 * most 18 bytes of gzip header and trailer (RFC 1952) or 6 of zlib (RFC 1950). 1 KiB covers
 * any `--max-message-size`.
 */
export const MAX_COMPRESSION_OVERHEAD_BYTES = 1_024;

/** Options of {@linkcode GelfDatagrams}. */
export interface GelfDatagramsOptions {
  /** Names for records and metrics. */
  info: ListenerInfo;
  /** Where messages go. */
  ingest: Ingest;
  /** Longest message kept, in bytes, after decompression; longer ones are refused. */
  maxMessageBytes: number;
  /** Bounds and clock of the reassembler (tests shrink them). */
  reassembly?: Omit<GelfReassemblerOptions, "maxPayloadBytes" | "onDiscard">;
}

/**
 * GELF over UDP: chunked datagrams are reassembled per (sender, message id), the payload is
 * decompressed (zlib, gzip or none, bounded), and the JSON message goes to the ingest, which
 * checks it. Every datagram or message refused on the way is counted by reason with its
 * sender; a bad datagram never affects another sender's messages or pending chunks.
 *
 * @example
 * ```ts
 * new UdpListener({ receiver, info, ingest, maxMessageBytes, handler: new GelfDatagrams({ info, ingest, maxMessageBytes }) });
 * ```
 */
export class GelfDatagrams implements DatagramHandler {
  readonly #info: ListenerInfo;
  readonly #ingest: Ingest;
  readonly #maxMessageBytes: number;
  readonly #reassembler: GelfReassembler;

  /** Creates the handler; see {@linkcode GelfDatagramsOptions}. */
  constructor(options: GelfDatagramsOptions) {
    this.#info = options.info;
    this.#ingest = options.ingest;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#reassembler = new GelfReassembler({
      ...options.reassembly,
      maxPayloadBytes: options.maxMessageBytes + MAX_COMPRESSION_OVERHEAD_BYTES,
      onDiscard: (source, reason) => this.#ingest.dropped(this.#info, source, reason),
    });
  }

  /** Takes one datagram (plain or compressed JSON, or one chunk of a message). */
  handle(datagram: Uint8Array, source: string, receivedMs: number): void {
    let payload = datagram;
    if (isGelfChunk(datagram)) {
      const chunk = parseGelfChunk(datagram);
      if (typeof chunk === "string") {
        this.#ingest.dropped(this.#info, source, chunk);
        return;
      }
      const result = this.#reassembler.add(source, chunk);
      if (result === "pending") return;
      if (result === "duplicate") {
        this.#ingest.metrics.gelfDuplicateChunks.inc({ listener: this.#info.label });
        return;
      }
      if (typeof result === "string") {
        this.#ingest.dropped(this.#info, source, result);
        return;
      }
      payload = result;
    }
    const json = decodeGelfPayload(payload, this.#maxMessageBytes);
    if (typeof json === "string") {
      this.#ingest.dropped(this.#info, source, json);
      return;
    }
    this.#ingest.acceptDatagram(this.#info, source, trimTrailingDelimiters(json), receivedMs);
  }

  /** Expires incomplete messages and updates the pending gauges. */
  tick(): void {
    this.#reassembler.expire();
    const { metrics } = this.#ingest;
    metrics.gelfPendingMessages.set({ listener: this.#info.label }, this.#reassembler.pendingSets);
    metrics.gelfPendingBytes.set({ listener: this.#info.label }, this.#reassembler.pendingBytes);
  }

  /** Gives up the incomplete messages left at shutdown (counted as `chunks_incomplete`). */
  close(): void {
    this.#reassembler.discardAll();
    this.tick();
  }
}
