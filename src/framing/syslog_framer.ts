/**
 * Stream framing of syslog over TCP and TLS (RFC 6587, RFC 5425), decided per frame.
 *
 * A frame that starts with a decimal length, one space and then `<` is octet-counted
 * (RFC 6587 section 3.4.1, RFC 5425 section 4.3); anything else is non-transparent and ends
 * at LF or NUL (RFC 6587 section 3.4.2), with a CR before the LF stripped. The rule that a
 * `<` must follow the space keeps a PRI-less line such as `404 not found` from being read as
 * an octet count.
 *
 * GELF over TCP (GELF 1.1, "GELF via TCP") uses the same machine with `gelf: true`: frames
 * end at NUL only (a JSON document may hold raw LFs between tokens), there is no octet
 * counting, white space between frames is skipped, and an oversize frame is dropped instead
 * of cut (a cut JSON document is useless).
 *
 * The framer is a pure state machine: it never blocks, never throws on input, keeps at most
 * `maxMessageBytes` of one frame, and yields the same frames however the bytes are chunked.
 * A frame still open when a chunk ends is copied out of that chunk into storage of its own
 * (grown by doubling), so a sender that trickles a line a byte at a time costs about the
 * bytes it sent, not a whole read buffer per byte.
 *
 * @module
 */

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const SPACE = 0x20;
const TAB = 0x09;
const LESS_THAN = 0x3c;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** Longest octet count accepted, in digits; longer digit runs are message text. */
export const MAX_OCTET_COUNT_DIGITS = 10;

/** Smallest storage of an unfinished frame between chunks, in bytes. */
const MIN_HELD_BYTES = 256;

/** Default longest message kept, in bytes (`--max-message-size`). */
export const DEFAULT_MAX_MESSAGE_BYTES = 65_536;

/** Options of {@linkcode SyslogFramer}. */
export interface SyslogFramerOptions {
  /**
   * Longest message kept, in bytes; the rest of a longer frame is skipped.
   * @default {65536}
   */
  maxMessageBytes?: number;
  /**
   * Called once for every frame longer than `maxMessageBytes`, with its full length when
   * known. The frame is cut to `maxMessageBytes`, or dropped in GELF mode.
   */
  onTruncated?: (frameBytes: number) => void;
  /**
   * Frame GELF (NUL-delimited JSON) instead of syslog.
   * @default {false}
   */
  gelf?: boolean;
}

const enum State {
  /** Between frames: skips delimiters, then reads a possible octet count. */
  Start,
  /** Reading digits that may be an octet count. */
  Count,
  /** Saw digits and a space; the next byte decides. */
  CountSpace,
  /** Inside an octet-counted frame. */
  Octets,
  /** Inside a non-transparent (delimited) frame. */
  Line,
}

/**
 * Splits a byte stream into syslog frames.
 *
 * @example
 * ```ts
 * const framer = new SyslogFramer();
 * const frames: Uint8Array[] = [];
 * framer.push(new TextEncoder().encode("11 <13>hello\n<13>world\n"), frames);
 * // frames: "<13>hello", "<13>world"
 * ```
 */
export class SyslogFramer {
  readonly #max: number;
  readonly #onTruncated: ((frameBytes: number) => void) | undefined;
  readonly #gelf: boolean;
  #state = State.Start;
  /**
   * Pieces of the current frame: while a chunk is being read, views into it; between chunks,
   * at most one, a view into {@linkcode SyslogFramer.#held}.
   */
  #pieces: Uint8Array[] = [];
  #kept = 0;
  /** Storage of the current frame's bytes between chunks (owned, never a read buffer). */
  #held: Uint8Array | undefined;
  /** Octet count digits read so far, as a number, and how many digits. */
  #count = 0;
  #countDigits = 0;
  /** Bytes of the current octet-counted frame still to consume. */
  #remaining = 0;
  /** Full length of the current frame, for reporting truncation. */
  #seen = 0;
  #truncated = false;
  /** Cut off by {@linkcode SyslogFramer.discard}: input is ignored. */
  #discarded = false;

  /** Creates a framer; see {@linkcode SyslogFramerOptions}. */
  constructor(options: SyslogFramerOptions = {}) {
    const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Cannot frame syslog: maxMessageBytes must be a positive integer, got ${max}`);
    }
    this.#max = max;
    this.#onTruncated = options.onTruncated;
    this.#gelf = options.gelf ?? false;
  }

  /** Feeds one chunk; complete frames are appended to `out`. */
  push(chunk: Uint8Array, out: Uint8Array[]): void {
    if (this.#discarded) return;
    const end = chunk.length;
    let pos = 0;
    // Positions of the next LF and NUL at or after `pos`, computed lazily once per chunk
    // so that scanning stays linear in the chunk length.
    let nextLf = this.#gelf ? -1 : -2;
    let nextNul = -2;
    while (pos < end) {
      switch (this.#state) {
        case State.Start: {
          const b = chunk[pos]!;
          if (b === LF || b === NUL || (this.#gelf && (b === CR || b === SPACE || b === TAB))) {
            pos++;
          } else if (b > DIGIT_0 && b <= DIGIT_9 && !this.#gelf) {
            this.#state = State.Count;
            this.#count = b - DIGIT_0;
            this.#countDigits = 1;
            this.#pieces = [];
            this.#held = undefined;
            pos++;
          } else {
            this.#beginLine();
          }
          break;
        }
        case State.Count: {
          const b = chunk[pos]!;
          if (b >= DIGIT_0 && b <= DIGIT_9 && this.#countDigits < MAX_OCTET_COUNT_DIGITS) {
            this.#count = this.#count * 10 + (b - DIGIT_0);
            this.#countDigits++;
            pos++;
          } else if (b === SPACE) {
            this.#state = State.CountSpace;
            pos++;
          } else {
            this.#countToLine(false);
          }
          break;
        }
        case State.CountSpace: {
          if (chunk[pos] === LESS_THAN) {
            this.#state = State.Octets;
            this.#remaining = this.#count;
            this.#seen = this.#count;
            this.#kept = 0;
            this.#truncated = false;
            this.#pieces = [];
            this.#held = undefined;
          } else {
            this.#countToLine(true);
          }
          break;
        }
        case State.Octets: {
          const take = Math.min(this.#remaining, end - pos);
          const room = this.#max - this.#kept;
          if (room > 0) {
            const keep = Math.min(room, take);
            this.#pieces.push(chunk.subarray(pos, pos + keep));
            this.#kept += keep;
          }
          if (take > room) this.#truncated = true;
          pos += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#emit(out, true);
          break;
        }
        case State.Line: {
          if (nextLf !== -1 && nextLf < pos) nextLf = chunk.indexOf(LF, pos);
          if (nextNul !== -1 && nextNul < pos) nextNul = chunk.indexOf(NUL, pos);
          let stop: number;
          if (nextLf === -1) stop = nextNul;
          else if (nextNul === -1) stop = nextLf;
          else stop = Math.min(nextLf, nextNul);
          if (stop !== -1 && this.#pieces.length === 0 && stop - pos <= this.#max) {
            // The whole line is in this chunk (most are): its frame is a view of it, with
            // nothing gathered in pieces first.
            const line = chunk.subarray(pos, stop);
            const frame = this.#gelf ? trimTrailingDelimiters(line) : trimTrailingCr(line);
            if (frame.length > 0) out.push(frame);
            this.#state = State.Start;
            pos = stop + 1;
            break;
          }
          const bodyEnd = stop === -1 ? end : stop;
          this.#appendLine(chunk, pos, bodyEnd);
          if (stop === -1) {
            pos = end;
          } else {
            pos = stop + 1;
            this.#emit(out, false);
          }
          break;
        }
      }
    }
    this.#hold();
  }

  /** Bytes the framer holds between chunks: the storage of an unfinished frame. */
  get heldBytes(): number {
    return this.#held?.length ?? 0;
  }

  /**
   * Copies the unfinished frame's pieces out of the chunk just read, so that the chunk (a
   * read buffer of up to 64 KiB behind a view of a few bytes) can be collected.
   */
  #hold(): void {
    const pieces = this.#pieces;
    if (pieces.length === 0) return;
    const held = this.#held;
    if (pieces.length === 1 && held !== undefined && pieces[0]!.buffer === held.buffer) return;
    let store = held;
    let at = 0;
    if (held !== undefined && pieces[0]!.buffer === held.buffer) at = pieces[0]!.length;
    if (store === undefined || store.length < this.#kept) {
      const capacity = Math.min(this.#max, Math.max(this.#kept, 2 * (store?.length ?? 0), MIN_HELD_BYTES));
      store = new Uint8Array(capacity);
      if (at > 0) store.set(pieces[0]!);
    }
    for (let i = at > 0 ? 1 : 0; i < pieces.length; i++) {
      store.set(pieces[i]!, at);
      at += pieces[i]!.length;
    }
    this.#held = store;
    this.#pieces = [store.subarray(0, at)];
  }

  /**
   * Forgets the unfinished frame and ignores any later input (its sender was cut off
   * mid-message); returns whether there was one, so the owner can count it.
   */
  discard(): boolean {
    const had = this.#state !== State.Start && !this.#discarded;
    this.#discarded = true;
    this.#state = State.Start;
    this.#pieces = [];
    this.#held = undefined;
    this.#kept = 0;
    this.#truncated = false;
    return had;
  }

  /** Ends the stream: a final frame without a delimiter is appended to `out`. */
  finish(out: Uint8Array[]): void {
    switch (this.#state) {
      case State.Count:
      case State.CountSpace:
        this.#countToLine(this.#state === State.CountSpace);
        this.#emit(out, false);
        break;
      case State.Octets:
        // The sender announced more bytes than it sent: deliver what arrived.
        this.#emit(out, true);
        break;
      case State.Line:
        this.#emit(out, false);
        break;
      case State.Start:
        break;
    }
  }

  #beginLine(): void {
    this.#state = State.Line;
    if (this.#pieces.length > 0) this.#pieces = [];
    this.#held = undefined;
    this.#kept = 0;
    this.#seen = 0;
    this.#truncated = false;
  }

  /** The digits (and space) read were message text, not an octet count. */
  #countToLine(withSpace: boolean): void {
    const text = String(this.#count).padStart(this.#countDigits, "0") + (withSpace ? " " : "");
    this.#beginLine();
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    this.#appendLine(bytes, 0, bytes.length);
  }

  #appendLine(chunk: Uint8Array, from: number, to: number): void {
    const length = to - from;
    this.#seen += length;
    const room = this.#max - this.#kept;
    if (room <= 0) {
      if (length > 0) this.#truncated = true;
      return;
    }
    const keep = Math.min(room, length);
    if (keep > 0) {
      this.#pieces.push(chunk.subarray(from, from + keep));
      this.#kept += keep;
    }
    if (length > keep) this.#truncated = true;
  }

  #emit(out: Uint8Array[], octetCounted: boolean): void {
    const pieces = this.#pieces;
    const kept = this.#kept;
    const truncated = this.#truncated;
    if (truncated) this.#onTruncated?.(this.#seen);
    this.#state = State.Start;
    this.#pieces = [];
    this.#held = undefined;
    this.#kept = 0;
    this.#truncated = false;
    if (truncated && this.#gelf) return; // dropped: not worth joining its pieces
    let frame: Uint8Array;
    if (pieces.length === 1) {
      frame = pieces[0]!;
    } else {
      frame = new Uint8Array(kept);
      let at = 0;
      for (const piece of pieces) {
        frame.set(piece, at);
        at += piece.length;
      }
    }
    // Octet counts and GELF frames may hold a trailing LF; a line's LF is already gone.
    const trimmed = octetCounted || this.#gelf ? trimTrailingDelimiters(frame) : trimTrailingCr(frame);
    if (trimmed.length > 0) out.push(trimmed);
  }
}

/** Strips trailing LF, CR and NUL bytes (rsyslog and loggen count the LF inside the frame). */
export function trimTrailingDelimiters(frame: Uint8Array): Uint8Array {
  let end = frame.length;
  while (end > 0) {
    const b = frame[end - 1];
    if (b !== LF && b !== CR && b !== NUL) break;
    end--;
  }
  return end === frame.length ? frame : frame.subarray(0, end);
}

function trimTrailingCr(frame: Uint8Array): Uint8Array {
  let end = frame.length;
  while (end > 0 && frame[end - 1] === CR) end--;
  return end === frame.length ? frame : frame.subarray(0, end);
}
