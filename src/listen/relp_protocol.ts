/**
 * RELP, the Reliable Event Logging Protocol, as rsyslog's `omrelp` and librelp speak it
 * (librelp's `doc/relp.md`): every `syslog` command is answered `200 OK` only once its
 * message is durable, so a sender that keeps what was not answered and sends it again after
 * a broken session loses nothing, even when the relay is killed.
 *
 * Session rules (librelp's server is the reference; `copen.c`, `scsyslog.c`, `cclose.c`,
 * `relpframe.c`):
 * - Commands carry transaction numbers 1, 2, ... (after 999,999,999 comes 1 again); a frame
 *   whose number is not the next one breaks the session, as does any frame the grammar
 *   refuses (`relp_framer.ts`): the answers owed are written, then the connection is closed.
 * - `open` must come first: its offers need `relp_version`; the answer carries the relay's.
 *   A second `open`, and `syslog` before `open`, are answered `500` and end the session.
 * - `syslog` data is one message; longer than `--max-message-size` it is cut, counted.
 * - `close` is answered (an empty `rsp`) once every earlier answer is written; then the
 *   connection ends. An unknown command is answered `500` and ends the session.
 * - Answers go out in the order of the commands; those of one read are written together,
 *   once the messages of that read are durable.
 * - At the relay's shutdown the answers owed are written, then the `serverclose` hint, then
 *   the connection is closed; what arrives meanwhile is not taken (the sender sends it again).
 *
 * Bounds: at most {@linkcode MAX_UNANSWERED} commands of a session wait for their answer
 * (rsyslog's window is 128 by default); past it, reading stops until answers are written, so
 * a peer that never reads answers holds a few kilobytes, and the listener closes it after
 * `REPLY_TIMEOUT_MS`. `open` offers over {@linkcode MAX_OFFERS_BYTES} end the session.
 *
 * @module
 */
import { type RelpFrame, RelpFramer } from "../framing/relp_framer.ts";
import {
  nextTxnr,
  openAnswer,
  parseOffers,
  type RelpSoftware,
  responseText,
  SERVERCLOSE,
} from "../framing/relp_answer.ts";
import type { ListenerInfo } from "./ingest.ts";
import type { ProtocolContext, ProtocolSession, StreamProtocol } from "./stream_protocol.ts";

const encoder = new TextEncoder();

/** Commands of one session waiting for their answer, at most. */
export const MAX_UNANSWERED = 1_024;
/** Longest `open` data (offers) taken, in bytes. */
export const MAX_OFFERS_BYTES = 4_096;

/** Why a RELP session was ended by the relay (the `relp_` reasons of `connection_errors`). */
export const RELP_SESSION_ERRORS = [
  "relp_bad_txnr",
  "relp_bad_command",
  "relp_bad_datalen",
  "relp_missing_trailer",
  "relp_txnr_sequence",
  "relp_not_open",
  "relp_open_twice",
  "relp_bad_offers",
  "relp_unknown_command",
] as const;

/** Options of {@linkcode relpProtocol}. */
export interface RelpOptions {
  /**
   * Resolves once every message handed to the ingest so far is durable: written to the
   * journal (fsynced too with `--relp-ack fsync`), or in the spool without a journal.
   * `info` and `source` name the buffer the messages went to.
   */
  durable(info: ListenerInfo, source: string): Promise<void>;
  /** What the relay calls itself in the `relp_software` offer. */
  software: RelpSoftware;
}

/** RELP over a stream connection (plain or TLS). */
export function relpProtocol(options: RelpOptions): StreamProtocol {
  return { open: (context) => new RelpSession(context, options) };
}

/** One RELP session; see the module documentation. */
class RelpSession implements ProtocolSession {
  readonly #c: ProtocolContext;
  readonly #o: RelpOptions;
  readonly #framer: RelpFramer;
  #expected = 1;
  #open = false;
  /** No more commands are taken (close, an error, shutdown); the connection ends once answered. */
  #stopping = false;
  /** Answers written in order: each waits for its read's messages to be durable. */
  #answering: Promise<void> = Promise.resolve();
  #unanswered = 0;
  /** Resolves when the session is over, to end every wait. */
  readonly #over = Promise.withResolvers<void>();
  #isOver = false;
  replyWaitingSinceMs: number | undefined;

  constructor(context: ProtocolContext, options: RelpOptions) {
    this.#c = context;
    this.#o = options;
    // The data of `open` is small; of `syslog` the message, cut at --max-message-size.
    this.#framer = new RelpFramer({ maxDataBytes: Math.max(context.maxMessageBytes, MAX_OFFERS_BYTES) });
  }

  async consume(readable: ReadableStream<Uint8Array>): Promise<void> {
    try {
      await readable.pipeTo(new WritableStream({ write: (chunk) => this.#take(chunk) }));
    } catch { /* the connection broke; the listener counts how */ }
    // The input ended (the peer closed, or the relay ended it): what is owed is written if
    // the connection still takes it, then the session is over.
    await this.#settle();
  }

  discard(): boolean {
    const partial = this.#framer.inFrame;
    this.#stop();
    return partial;
  }

  abort(): void {
    this.#stop();
    this.#end();
  }

  shutdown(): void {
    if (this.#stopping) return;
    this.#stop();
    this.#finish(SERVERCLOSE);
  }

  /** Handles the frames of one read; resolves when the next read may start. */
  async #take(chunk: Uint8Array): Promise<void> {
    if (this.#stopping) return;
    const { ingest, info, source, maxMessageBytes } = this.#c;
    const frames: RelpFrame[] = [];
    const intact = this.#framer.push(chunk, frames);
    const messages: Uint8Array[] = [];
    const answers: string[] = [];
    let error: (typeof RELP_SESSION_ERRORS)[number] | undefined;
    let closing = false;
    for (const frame of frames) {
      // As librelp's server does (relpframe.c): a frame numbered 0 is outside the count, not
      // checked against it nor advancing it, and is taken and answered as any other.
      if (frame.txnr !== 0) {
        if (frame.txnr !== this.#expected) {
          error = "relp_txnr_sequence";
          break;
        }
        this.#expected = nextTxnr(this.#expected);
      }
      if (frame.command === "syslog") {
        if (!this.#open) {
          answers.push(responseText(frame.txnr, "500 command disabled"));
          error = "relp_not_open";
          break;
        }
        // Data over --max-message-size is cut here (the framer keeps up to the offers' bound).
        messages.push(frame.data.subarray(0, maxMessageBytes));
        answers.push(responseText(frame.txnr, "200 OK"));
        if (frame.dataBytes > maxMessageBytes) ingest.truncated(info, source, frame.dataBytes, maxMessageBytes);
      } else if (frame.command === "open") {
        if (this.#open) {
          answers.push(responseText(frame.txnr, "500 protocol error: connection already open"));
          error = "relp_open_twice";
          break;
        }
        const answer = frame.dataBytes > MAX_OFFERS_BYTES
          ? { ok: false, text: "500 offers too long" }
          : openAnswer(parseOffers(frame.data), this.#o.software);
        answers.push(responseText(frame.txnr, answer.text));
        if (!answer.ok) {
          error = "relp_bad_offers";
          break;
        }
        this.#open = true;
      } else if (frame.command === "close") {
        answers.push(responseText(frame.txnr, ""));
        closing = true;
        break;
      } else {
        answers.push(responseText(frame.txnr, "500 unknown command"));
        error = "relp_unknown_command";
        break;
      }
    }
    if (error === undefined && !intact) error = `relp_${this.#framer.error!}`;
    if (messages.length > 0) {
      this.#c.progress();
      ingest.accept(info, source, messages, Date.now());
    }
    const durable = messages.length > 0 ? this.#o.durable(info, source) : undefined;
    this.#queue(answers, durable);
    if (error !== undefined) {
      this.#failed(error);
      return;
    }
    if (closing) {
      this.#stop();
      this.#finish(undefined);
      return;
    }
    // Held back while the relay is over a bound, and while too many answers are owed.
    await ingest.pressure.ready();
    while (this.#unanswered >= MAX_UNANSWERED && !this.#isOver) {
      await Promise.race([this.#answering, this.#over.promise]);
    }
  }

  /** Queues the answers of one read, to be written once `durable` resolves (and those before). */
  #queue(answers: string[], durable: Promise<void> | undefined): void {
    if (answers.length === 0) return;
    this.#unanswered += answers.length;
    const bytes = encoder.encode(answers.join(""));
    this.#answering = this.#answering.then(async () => {
      if (durable !== undefined) await Promise.race([durable, this.#over.promise]);
      if (this.#isOver) return;
      await this.#write(bytes);
      this.#unanswered -= answers.length;
    });
  }

  /** Writes to the peer; a peer that is gone ends the session. */
  async #write(bytes: Uint8Array): Promise<void> {
    this.replyWaitingSinceMs = Date.now();
    try {
      await Promise.race([this.#c.reply(bytes), this.#over.promise]);
    } catch {
      this.#end();
    } finally {
      this.replyWaitingSinceMs = undefined;
    }
  }

  /** Counts and logs a broken session, writes what is owed, and ends it. */
  #failed(reason: string): void {
    const { ingest, info, source } = this.#c;
    ingest.metrics.connectionErrors.inc({ listener: info.label, reason });
    ingest.log.limited("warn", `relp-${info.label}-${reason}`, "RELP session ended: the client broke the protocol", {
      listener: info.label,
      source,
      reason,
    });
    this.#stop();
    this.#finish(undefined);
  }

  /** Takes no more commands. */
  #stop(): void {
    this.#stopping = true;
  }

  /** After the answers owed: writes `last` (a hint) if given, then ends the connection. */
  #finish(last: Uint8Array | undefined): void {
    this.#answering = this.#answering.then(async () => {
      if (last !== undefined && !this.#isOver) await this.#write(last);
      this.#end();
    });
  }

  /** Waits for the answers owed (unless the connection is gone), then marks the session over. */
  async #settle(): Promise<void> {
    this.#stop();
    await Promise.race([this.#answering, this.#over.promise]);
    this.#end();
  }

  #end(): void {
    if (this.#isOver) return;
    this.#isOver = true;
    this.#over.resolve();
    this.#c.end();
  }
}
