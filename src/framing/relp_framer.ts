/**
 * Framing of RELP, the Reliable Event Logging Protocol (librelp's `doc/relp.md`, "RELP
 * FRAME"), as rsyslog's `omrelp` and librelp speak it:
 *
 * ```text
 * RELP-FRAME = TXNR SP COMMAND SP DATALEN [SP DATA] LF
 * TXNR       = 1*9DIGIT        ; 0 is for hints, commands count from 1
 * COMMAND    = 1*32ALPHA
 * DATALEN    = 1*9DIGIT        ; octets of DATA; when 0 there is no SP and no DATA
 * ```
 *
 * A pure state machine like {@linkcode SyslogFramer}: it never throws on input, yields the
 * same frames however the bytes are chunked, and keeps at most `maxDataBytes` of a frame's
 * data (the rest is skipped, the frame marked `truncated`, its full length reported). A
 * frame's data that lies in one chunk is handed on as a view of it; data that spans chunks is
 * copied into storage of its own, so a sender trickling bytes costs the bytes it sent.
 *
 * Unlike syslog over TCP, RELP has no way to resynchronise: after the first byte that breaks
 * the grammar the framer reports the error and takes no more input (librelp closes the
 * session then; so does the relay).
 *
 * @module
 */

const LF = 0x0a;
const SPACE = 0x20;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** Most digits of a transaction number or a data length (librelp's `relpframe.c`). */
export const MAX_NUMBER_DIGITS = 9;
/** Longest command name, in characters (librelp's `relpframe.c`). */
export const MAX_COMMAND_CHARS = 32;

/** One complete RELP frame. */
export interface RelpFrame {
  /** Transaction number (0 for a hint). */
  txnr: number;
  /** Command, such as `open`, `syslog`, `close`. */
  command: string;
  /** The data, at most `maxDataBytes` of it. */
  data: Uint8Array;
  /** DATALEN: the data's full length as the sender announced it. */
  dataBytes: number;
}

/** Why a byte stream is not RELP; the framer stops at the first. */
export type RelpFrameError =
  | "bad_txnr"
  | "bad_command"
  | "bad_datalen"
  | "missing_trailer";

/** Options of {@linkcode RelpFramer}. */
export interface RelpFramerOptions {
  /**
   * Data bytes kept per frame; the rest of longer data is skipped.
   * @default {65536}
   */
  maxDataBytes?: number;
}

const enum State {
  Txnr,
  Command,
  DataLen,
  Data,
  Trailer,
  Failed,
}

/**
 * Splits a byte stream into RELP frames.
 *
 * @example
 * ```ts
 * const framer = new RelpFramer();
 * const frames: RelpFrame[] = [];
 * framer.push(new TextEncoder().encode("1 syslog 5 <13>a\n2 close 0\n"), frames);
 * // frames: { txnr: 1, command: "syslog", data: "<13>a" }, { txnr: 2, command: "close" }
 * ```
 */
export class RelpFramer {
  readonly #max: number;
  #state = State.Txnr;
  #digits = 0;
  #txnr = 0;
  #command = "";
  #dataBytes = 0;
  /** Data bytes still to read of the current frame. */
  #remaining = 0;
  /** Data kept so far when it spans chunks (owned storage). */
  #held: Uint8Array | undefined;
  /** The data, as a view of the chunk being read, when it lies wholly in that chunk. */
  #view: Uint8Array | undefined;
  #kept = 0;
  /** Bytes of the current frame read so far (0 between frames). */
  #partial = 0;
  /** The first error, once the stream broke the grammar. */
  error: RelpFrameError | undefined;

  /** Creates a framer; see {@linkcode RelpFramerOptions}. */
  constructor(options: RelpFramerOptions = {}) {
    const max = options.maxDataBytes ?? 65_536;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Cannot frame RELP: maxDataBytes must be a positive integer, got ${max}`);
    }
    this.#max = max;
  }

  /** Whether part of a frame has been read and not yet completed. */
  get inFrame(): boolean {
    return this.#partial > 0;
  }

  /** Bytes held for the frame being read (its data so far, when that spans chunks). */
  get heldBytes(): number {
    return this.#held?.length ?? 0;
  }

  /** Feeds one chunk; complete frames are appended to `out`. Returns false once the stream is broken. */
  push(chunk: Uint8Array, out: RelpFrame[]): boolean {
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      const b = chunk[pos]!;
      switch (this.#state) {
        case State.Txnr:
          if (b >= DIGIT_0 && b <= DIGIT_9) {
            if (++this.#digits > MAX_NUMBER_DIGITS) return this.#fail("bad_txnr");
            this.#txnr = this.#txnr * 10 + (b - DIGIT_0);
          } else if (b === SPACE && this.#digits > 0) {
            this.#state = State.Command;
            this.#digits = 0;
          } else {
            return this.#fail("bad_txnr");
          }
          break;
        case State.Command:
          if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) {
            if (this.#command.length === MAX_COMMAND_CHARS) return this.#fail("bad_command");
            this.#command += String.fromCharCode(b);
          } else if (b === SPACE && this.#command.length > 0) {
            this.#state = State.DataLen;
          } else {
            return this.#fail("bad_command");
          }
          break;
        case State.DataLen:
          if (b >= DIGIT_0 && b <= DIGIT_9) {
            if (++this.#digits > MAX_NUMBER_DIGITS) return this.#fail("bad_datalen");
            this.#dataBytes = this.#dataBytes * 10 + (b - DIGIT_0);
          } else if (this.#digits === 0) {
            return this.#fail("bad_datalen");
          } else if (this.#dataBytes === 0) {
            // No data: the trailer follows the length at once.
            this.#state = State.Trailer;
            continue;
          } else if (b === SPACE) {
            this.#state = State.Data;
            this.#remaining = this.#dataBytes;
            this.#kept = 0;
            this.#held = undefined;
          } else {
            return this.#fail("bad_datalen");
          }
          break;
        case State.Data: {
          const take = Math.min(this.#remaining, end - pos);
          const keep = Math.min(take, this.#max - this.#kept);
          if (keep > 0) {
            if (this.#kept === 0 && take === this.#remaining) this.#view = chunk.subarray(pos, pos + keep);
            else this.#hold(chunk.subarray(pos, pos + keep));
            this.#kept += keep;
          }
          this.#remaining -= take;
          pos += take;
          this.#partial += take;
          if (this.#remaining === 0) this.#state = State.Trailer;
          continue;
        }
        case State.Trailer: {
          if (b !== LF) return this.#fail("missing_trailer");
          const data = this.#view ?? this.#held?.subarray(0, this.#kept) ?? EMPTY;
          out.push({ txnr: this.#txnr, command: this.#command, data, dataBytes: this.#dataBytes });
          this.#reset();
          pos++;
          continue;
        }
        case State.Failed:
          return false;
      }
      pos++;
      this.#partial++;
    }
    // Data complete but its trailer still to come: copy it out of the chunk, which is not kept.
    if (this.#view !== undefined) {
      const view = this.#view;
      this.#view = undefined;
      this.#kept = 0;
      this.#hold(view);
      this.#kept = view.length;
    }
    return this.#state !== State.Failed;
  }

  /** Appends `bytes` to the held data (storage doubled as needed, never over the limit). */
  #hold(bytes: Uint8Array): void {
    const need = this.#kept + bytes.length;
    if (this.#held === undefined || this.#held.length < need) {
      const size = Math.min(this.#max, Math.max(256, need, 2 * (this.#held?.length ?? 0)));
      const grown = new Uint8Array(size);
      if (this.#held !== undefined) grown.set(this.#held.subarray(0, this.#kept));
      this.#held = grown;
    }
    this.#held.set(bytes, this.#kept);
  }

  #reset(): void {
    this.#state = State.Txnr;
    this.#digits = 0;
    this.#txnr = 0;
    this.#command = "";
    this.#dataBytes = 0;
    this.#remaining = 0;
    this.#held = undefined;
    this.#view = undefined;
    this.#kept = 0;
    this.#partial = 0;
  }

  #fail(error: RelpFrameError): false {
    this.error = error;
    this.#state = State.Failed;
    this.#held = undefined;
    this.#view = undefined;
    return false;
  }
}

const EMPTY = new Uint8Array(0);
