/**
 * Writes `logEvents` entries as JSON bytes straight from raw message bytes, without
 * decoding to a string and encoding again (the worker's largest cost when it did).
 *
 * A message that is valid UTF-8 is copied as it is, with the escapes `JSON.stringify`
 * uses (`\"`, `\\`, `\b \f \n \r \t`, `\u00xx` for other control bytes), so the output is
 * byte for byte what `JSON.stringify` would give. A message with invalid UTF-8 goes through
 * `TextDecoder` (each bad sequence becomes U+FFFD, as the Encoding Standard says) and
 * `JSON.stringify`.
 *
 * @module
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HEX = [0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66];
/** Short escapes of JSON.stringify, by control byte; 0 where it uses `\u00xx`. */
const SHORT = new Uint8Array(0x20);
SHORT[0x08] = 0x62; // \b
SHORT[0x09] = 0x74; // \t
SHORT[0x0a] = 0x6e; // \n
SHORT[0x0c] = 0x66; // \f
SHORT[0x0d] = 0x72; // \r
/** 1 for the bytes copied as they are: printable ASCII but `"` and `\`. */
const PLAIN = new Uint8Array(256);
for (let b = 0x20; b < 0x80; b++) PLAIN[b] = b === QUOTE || b === BACKSLASH ? 0 : 1;

import { SEQUENCE_DIGITS } from "./event_id.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const ZERO = 0x30;
const NINE = 0x39;
/** The first number of more than {@linkcode SEQUENCE_DIGITS} digits. */
const SEQUENCE_LIMIT = 10 ** SEQUENCE_DIGITS;
/** The constant parts of an event's JSON, as bytes. */
const OPEN = encoder.encode('{"id":"');
const OPEN_COMMA = encoder.encode(',{"id":"');
const TIMESTAMP = encoder.encode('","timestamp":');
const MESSAGE = encoder.encode(',"message":');

/**
 * Length of the well-formed UTF-8 sequence starting at `i` (RFC 3629 section 4, Unicode
 * table 3-7), or 0 when it is not one.
 */
export function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  const cont = (j: number, lo = 0x80, hi = 0xbf) => {
    const b = bytes[j];
    return b !== undefined && b >= lo && b <= hi;
  };
  if (b0 < 0x80) return 1;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (b0 === 0xe0) return cont(i + 1, 0xa0) && cont(i + 2) ? 3 : 0;
  if ((b0 >= 0xe1 && b0 <= 0xec) || b0 === 0xee || b0 === 0xef) return cont(i + 1) && cont(i + 2) ? 3 : 0;
  if (b0 === 0xed) return cont(i + 1, 0x80, 0x9f) && cont(i + 2) ? 3 : 0;
  if (b0 === 0xf0) return cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (b0 === 0xf4) return cont(i + 1, 0x80, 0x8f) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  return 0;
}

/** Decimal digits of a non-negative integer below 2^31. */
function decimalLength(value: number): number {
  let count = 1;
  for (let v = value; v >= 10; v = (v / 10) | 0) count++;
  return count;
}

/**
 * Writes the JSON bytes of a record's events one event at a time, into a buffer that grows
 * as needed and is reused after {@linkcode EventJsonWriter.reset}.
 *
 * @example
 * ```ts
 * const writer = new EventJsonWriter();
 * writer.add(crypto.randomUUID(), Date.now(), new TextEncoder().encode("<13>hello"));
 * const json = writer.bytes();
 * ```
 */
export class EventJsonWriter {
  #buf: Uint8Array;
  #len = 0;
  /** The last sequence number written by {@linkcode EventJsonWriter.addNumbered}, and its digits. */
  #lastSequence = -2;
  readonly #sequenceDigits = new Uint8Array(SEQUENCE_DIGITS);

  /** Creates a writer; `expectedBytes` sizes its first buffer. */
  constructor(expectedBytes = 65_536) {
    this.#buf = new Uint8Array(Math.max(1_024, expectedBytes));
  }

  /**
   * Appends `,{"id":"<id>","timestamp":<timestamp>,"message":"<message>"}`; without the
   * leading comma when `comma` is false (the first event of a record).
   */
  add(id: string, timestamp: number, message: Uint8Array, comma = true): void {
    // Worst case: every byte becomes `\u00xx` (6 bytes); ids and numbers are short.
    this.#reserve(message.length * 6 + id.length + 64);
    this.#bytes(comma ? OPEN_COMMA : OPEN);
    this.#ascii(id);
    this.#rest(timestamp, message);
  }

  /**
   * Appends an event whose id is `instance` (ASCII digits) and `sequence` zero-padded to 16
   * digits (`event_id.ts`), as {@linkcode EventJsonWriter.add} does, without making a string
   * of the id or the timestamp: it runs once per event.
   */
  addNumbered(instance: Uint8Array, sequence: number, timestamp: number, message: Uint8Array, comma = true): void {
    this.#reserve(message.length * 6 + instance.length + 96);
    this.#bytes(comma ? OPEN_COMMA : OPEN);
    this.#bytes(instance);
    this.#sequence(sequence);
    this.#rest(timestamp, message);
  }

  /**
   * Writes `sequence` zero-padded to 16 digits: the digits of the number before it, counted
   * up by one in place when it follows that number (consecutive events, nearly always), or
   * written anew.
   */
  #sequence(sequence: number): void {
    const digits = this.#sequenceDigits;
    if (sequence === this.#lastSequence + 1 && sequence < SEQUENCE_LIMIT) {
      let at = SEQUENCE_DIGITS - 1;
      while (digits[at] === NINE) digits[at--] = ZERO;
      digits[at]!++;
      this.#bytes(digits);
      this.#lastSequence = sequence;
      return;
    }
    const start = this.#len;
    this.#digits(sequence, SEQUENCE_DIGITS);
    // Only a number of 16 digits is remembered (every safe integer is one).
    const remembered = this.#len - start === SEQUENCE_DIGITS;
    if (remembered) digits.set(this.#buf.subarray(start, this.#len));
    this.#lastSequence = remembered ? sequence : -2;
  }

  /** Writes `","timestamp":<timestamp>,"message":"<message>"}`. */
  #rest(timestamp: number, message: Uint8Array): void {
    this.#bytes(TIMESTAMP);
    if (Number.isSafeInteger(timestamp) && timestamp >= 0) this.#digits(timestamp, 0);
    else this.#ascii(String(timestamp));
    this.#bytes(MESSAGE);
    const start = this.#len;
    if (!this.#escaped(message)) {
      this.#len = start;
      this.text(JSON.stringify(decoder.decode(message)));
    }
    this.#reserve(1);
    this.#buf[this.#len++] = 0x7d; // }
  }

  /** Appends bytes as they are (a record's JSON before and after its events). */
  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  /** Bytes written since the last {@linkcode EventJsonWriter.reset}. */
  get length(): number {
    return this.#len;
  }

  /** Forgets what was written, keeping the buffer for reuse. */
  reset(): void {
    this.#len = 0;
  }

  /** What was written since the last reset: a view, valid until the next write or reset. */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  /** Writes `"message"` with JSON escapes; false (and a partial write) on invalid UTF-8. */
  #escaped(message: Uint8Array): boolean {
    const buf = this.#buf;
    let len = this.#len;
    buf[len++] = QUOTE;
    for (let i = 0; i < message.length; i++) {
      const b = message[i]!;
      if (PLAIN[b] === 1) {
        buf[len++] = b;
      } else if (b === QUOTE || b === BACKSLASH) {
        buf[len++] = BACKSLASH;
        buf[len++] = b;
      } else if (b < 0x20) {
        buf[len++] = BACKSLASH;
        const short = SHORT[b]!;
        if (short !== 0) {
          buf[len++] = short;
        } else {
          buf[len++] = 0x75; // u
          buf[len++] = 0x30;
          buf[len++] = 0x30;
          buf[len++] = HEX[b >> 4]!;
          buf[len++] = HEX[b & 15]!;
        }
      } else {
        const n = utf8SequenceLength(message, i);
        if (n === 0) return false;
        for (let k = 0; k < n; k++) buf[len++] = message[i + k]!;
        i += n - 1;
      }
    }
    buf[len++] = QUOTE;
    this.#len = len;
    return true;
  }

  /**
   * Writes the decimal digits of a safe non-negative integer, zero-padded to `width`: in two
   * halves below 10^8, each in 32-bit integer arithmetic (it runs twice per event).
   */
  #digits(value: number, width: number): void {
    const buf = this.#buf;
    let low = value % 100_000_000;
    const high = (value - low) / 100_000_000;
    const count = high > 0 ? 8 + decimalLength(high) : decimalLength(low);
    const end = this.#len + Math.max(width, count);
    let at = end;
    if (high > 0) {
      for (let k = 0; k < 8; k++) {
        const q = (low / 10) | 0;
        buf[--at] = ZERO + low - q * 10;
        low = q;
      }
      low = high;
    }
    do {
      const q = (low / 10) | 0;
      buf[--at] = ZERO + low - q * 10;
      low = q;
    } while (low > 0);
    while (at > this.#len) buf[--at] = ZERO;
    this.#len = end;
  }

  /** Writes constant bytes (room reserved). */
  #bytes(bytes: Uint8Array): void {
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  #ascii(text: string): void {
    const buf = this.#buf;
    let len = this.#len;
    for (let i = 0; i < text.length; i++) buf[len++] = text.charCodeAt(i);
    this.#len = len;
  }

  /** Appends `text` as UTF-8 (a whole event's JSON made as a string, for NDJSON). */
  text(text: string): void {
    this.#reserve(text.length * 3);
    this.#len += encoder.encodeInto(text, this.#buf.subarray(this.#len)).written;
  }

  #reserve(bytes: number): void {
    if (this.#len + bytes <= this.#buf.length) return;
    let capacity = this.#buf.length * 2;
    while (capacity < this.#len + bytes) capacity *= 2;
    const bigger = new Uint8Array(capacity);
    bigger.set(this.#buf.subarray(0, this.#len));
    this.#buf = bigger;
  }
}
