import { isGelfChunk, parseGelfChunk } from "../framing/gelf_chunk.ts";
import { GelfReassembler, type GelfReassemblerOptions } from "../framing/gelf_reassembler.ts";
import { trimTrailingDelimiters } from "../framing/syslog_framer.ts";
import { decodeGelfPayload } from "../parse/gelf_payload.ts";

/**
 * How much larger than its content a compressed payload may be: incompressible data is
 * stored in deflate blocks of 5 header bytes per 65,535 (RFC 1951 section 3.2.4), inside at
 * most 18 bytes of gzip header and trailer (RFC 1952) or 6 of zlib (RFC 1950). 1 KiB covers
 * any `--max-message-size`.
 */
export const MAX_COMPRESSION_OVERHEAD_BYTES = 1_024;

/** Where {@linkcode GelfDatagrams} puts what it made of the datagrams. */
export interface GelfSink {
  /** A whole message: its JSON text (a view: copy what must outlive the call), from `source`. */
  message(source: string, json: Uint8Array): void;
  /** A datagram or message refused, and why (a `reason` label of the drop counter). */
  refused(source: string, reason: string): void;
  /** A chunk received twice (the second is ignored). */
  duplicate(): void;
}

/** Options of {@linkcode GelfDatagrams}. */
export interface GelfDatagramsOptions {
  /** Where messages and refusals go. */
  sink: GelfSink;
  /** Longest message kept, in bytes, after decompression; longer ones are refused. */
  maxMessageBytes: number;
  /** Bounds and clock of the reassembler (tests shrink them). */
  reassembly?: Omit<GelfReassemblerOptions, "maxPayloadBytes" | "onDiscard">;
}

/**
 * GELF over UDP, up to the JSON text: chunked datagrams are reassembled per (sender, message
 * id) and the payload is decompressed (zlib, gzip or none, bounded). Runs in the UDP receive
 * worker (`udp_receive_worker.ts`), off the main thread, which then checks each JSON message
 * (`Ingest.acceptDatagrams`). Every datagram or message refused on the way goes to the sink
 * with its sender and reason; a bad datagram never affects another sender's messages or
 * pending chunks.
 *
 * @example
 * ```ts
 * const gelf = new GelfDatagrams({ sink, maxMessageBytes: 65_536 });
 * gelf.handle(datagram, "10.0.0.1");
 * ```
 */
export class GelfDatagrams {
  readonly #sink: GelfSink;
  readonly #maxMessageBytes: number;
  readonly #reassembler: GelfReassembler;

  /** Creates the handler; see {@linkcode GelfDatagramsOptions}. */
  constructor(options: GelfDatagramsOptions) {
    this.#sink = options.sink;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#reassembler = new GelfReassembler({
      ...options.reassembly,
      maxPayloadBytes: options.maxMessageBytes + MAX_COMPRESSION_OVERHEAD_BYTES,
      onDiscard: (source, reason) => this.#sink.refused(source, reason),
    });
  }

  /** Takes one datagram (plain or compressed JSON, or one chunk of a message). */
  handle(datagram: Uint8Array, source: string): void {
    let payload = datagram;
    if (isGelfChunk(datagram)) {
      const chunk = parseGelfChunk(datagram);
      if (typeof chunk === "string") {
        this.#sink.refused(source, chunk);
        return;
      }
      const result = this.#reassembler.add(source, chunk);
      if (result === "pending") return;
      if (result === "duplicate") {
        this.#sink.duplicate();
        return;
      }
      if (typeof result === "string") {
        this.#sink.refused(source, result);
        return;
      }
      payload = result;
    }
    const json = decodeGelfPayload(payload, this.#maxMessageBytes);
    if (typeof json === "string") {
      this.#sink.refused(source, json);
      return;
    }
    this.#sink.message(source, trimTrailingDelimiters(json));
  }

  /** Expires incomplete messages (call about once a second). */
  tick(): void {
    this.#reassembler.expire();
  }

  /** Incomplete messages waiting for chunks. */
  get pendingSets(): number {
    return this.#reassembler.pendingSets;
  }

  /** Bytes of the chunks they hold. */
  get pendingBytes(): number {
    return this.#reassembler.pendingBytes;
  }

  /** Gives up the incomplete messages left at shutdown (refused as `chunks_incomplete`). */
  close(): void {
    this.#reassembler.discardAll();
  }
}
