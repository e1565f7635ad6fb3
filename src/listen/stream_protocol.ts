/**
 * The seam between a stream connection and the protocol spoken over it. The connection base
 * ({@linkcode StreamListener}: limits, PROXY header, TLS, back-pressure, timeouts) opens one
 * {@linkcode ProtocolSession} per connection once it is ready for data, and hands it the
 * connection's bytes; the protocol frames them, hands messages to the ingest, and, where it
 * has answers (RELP's acknowledgements), writes them back through the context. Syslog over
 * TCP/TLS and GELF over TCP are one protocol (`syslog_protocol.ts`), RELP another
 * (`relp_protocol.ts`); a new protocol is a new file.
 *
 * @module
 */
import type { ListenerInfo, StreamIngest } from "./ingest.ts";

/** What a session gets from its connection. */
export interface ProtocolContext {
  /** Names for records and metrics. */
  info: ListenerInfo;
  /** The sender's address (after a PROXY header). */
  source: string;
  /** Where messages go. */
  ingest: StreamIngest;
  /** Longest message kept, in bytes (`--max-message-size`). */
  maxMessageBytes: number;
  /** Writes bytes to the peer, through TLS when the connection has it; rejects when it cannot. */
  reply(bytes: Uint8Array): Promise<void>;
  /** Ends the connection: reading stops and {@linkcode ProtocolSession.consume} ends. */
  end(): void;
  /** Tells the listener the sender completed a message (a connection making progress keeps its slot). */
  progress(): void;
}

/** One connection's protocol state. */
export interface ProtocolSession {
  /**
   * Reads the connection's bytes to their end. Pull-driven: it reads no further while the
   * relay holds senders back. Resolves when the input has ended and what was read is handled.
   */
  consume(readable: ReadableStream<Uint8Array>): Promise<void>;
  /** Drops a message begun and not finished (the connection is being cut); true if there was one. */
  discard(): boolean;
  /** The relay is stopping: answer what is owed, tell the peer if the protocol can, then end. */
  shutdown(): void;
  /** The connection is cut: stop waiting for anything (answers, durability). Idempotent. */
  abort(): void;
  /** Since when a write to the peer has been waiting, in ms; undefined when none waits. */
  readonly replyWaitingSinceMs: number | undefined;
}

/** A protocol spoken over stream connections. */
export interface StreamProtocol {
  /** Opens the session of one connection. */
  open(context: ProtocolContext): ProtocolSession;
}
