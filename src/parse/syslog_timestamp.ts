/**
 * Event timestamps of syslog messages (SPEC section 3). Only the timestamp is read; the
 * message itself is never changed. Every function returns `undefined` when it cannot read a
 * timestamp, and the caller falls back to the receive time.
 *
 * @module
 */

/** Months by their three letters as one number (`monthKey`), January 0. */
const MONTHS = new Map<number, number>(
  ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].map((
    name,
    i,
  ) => [monthKey(name.charCodeAt(0), name.charCodeAt(1), name.charCodeAt(2)), i]),
);

/** Bytes of an RFC 3164 timestamp's start searched (`Mmm dd yyyy hh:mm:ss.fffffffff` is 30). */
const RFC3164_WINDOW = 32;

/**
 * Bytes of a message's start read for its timestamp: RFC 5424's header up to the end of its
 * timestamp fits (`<191>1 ` and 32 bytes of timestamp with microseconds and a zone), and a
 * message without spaces is not searched further.
 */
export const TIMESTAMP_WINDOW_BYTES = 64;

/** Milliseconds in one day. */
const DAY_MS = 86_400_000;

const encoder = new TextEncoder();

/** Text given as a string (tests, tools) read as the bytes the relay holds. */
function bytesOf(text: Uint8Array | string): Uint8Array {
  return typeof text === "string" ? encoder.encode(text) : text;
}

/**
 * The event time of a syslog message in integer milliseconds since the epoch.
 *
 * Reads RFC 5424 (`<PRI>1 TIMESTAMP`), a BSD header carrying an RFC 3339 timestamp
 * (rsyslog's forwarding format, loggen's legacy format) and RFC 3164 (`<PRI>Mmm dd
 * hh:mm:ss`, the year chosen closest to `receivedMs`). A timestamp without a zone is read in
 * `timeZone` (an IANA name; the listener's), or in UTC without one. The message is read as
 * bytes, as received: it runs once per event, and decoding its start to a string cost more
 * than reading the time (`deno task bench`).
 *
 * @example
 * ```ts
 * parseSyslogTimestamp("<34>1 2003-10-11T22:14:15.003Z host su - - - msg", Date.now());
 * // 1065910455003
 * ```
 */
export function parseSyslogTimestamp(
  message: Uint8Array | string,
  receivedMs: number,
  timeZone?: string,
): number | undefined {
  const b = bytesOf(message);
  const window = Math.min(b.length, TIMESTAMP_WINDOW_BYTES);
  const afterPri = skipPri(b, window);
  if (afterPri < 0) return undefined;
  let at = afterPri;
  // RFC 5424 VERSION: NONZERO-DIGIT 0*2DIGIT, then SP.
  let digits = 0;
  while (digits < 3 && isDigit(byteAt(b, at + digits, window))) digits++;
  if (digits > 0 && byteAt(b, at + digits, window) === 0x20 && b[at] !== 0x30) {
    at += digits + 1;
    const end = tokenEnd(b, at, window);
    if (end === at + 1 && b[at] === 0x2d) return undefined; // the NILVALUE
    return rfc3339(b, at, end, timeZone);
  }
  if (isDigit(byteAt(b, at, window))) return rfc3339(b, at, tokenEnd(b, at, window), timeZone);
  return rfc3164(b, at, Math.min(window, at + RFC3164_WINDOW), receivedMs, timeZone);
}

/**
 * Milliseconds since the epoch of an RFC 3339 timestamp
 * (`YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)`); no zone is read as UTC. Fractions of any
 * length are cut (not rounded) to milliseconds. Without a zone, the time is read in
 * `timeZone` (UTC without one).
 */
export function parseRfc3339(text: Uint8Array | string, timeZone?: string): number | undefined {
  const b = bytesOf(text);
  return rfc3339(b, 0, b.length, timeZone);
}

/** {@linkcode parseRfc3339} of the bytes `s` to `e` of `b`. Hand-written: it runs once per message. */
function rfc3339(b: Uint8Array, s: number, e: number, timeZone: string | undefined): number | undefined {
  if (e - s < 19) return undefined;
  const year = num(b, s, 4, e), month = num(b, s + 5, 2, e) - 1, day = num(b, s + 8, 2, e);
  const hour = num(b, s + 11, 2, e), minute = num(b, s + 14, 2, e), second = num(b, s + 17, 2, e);
  const t = b[s + 10];
  if (
    year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 ||
    b[s + 4] !== 0x2d || b[s + 7] !== 0x2d || (t !== 0x54 && t !== 0x74) || b[s + 13] !== 0x3a ||
    b[s + 16] !== 0x3a
  ) return undefined;
  if (!validDate(year, month, day) || hour > 23 || minute > 59 || second > 60) return undefined;
  let at = s + 19;
  let millis = 0;
  if (byteAt(b, at, e) === 0x2e) {
    const start = ++at;
    while (isDigit(byteAt(b, at, e))) at++;
    if (at === start) return undefined;
    millis = fractionMillis(b, start, at);
  }
  let offsetMinutes = 0;
  const zone = byteAt(b, at, e);
  if (at === e && timeZone !== undefined) {
    return wallTimeToUtc(timeZone, Date.UTC(year, month, day, hour, minute, second, millis));
  }
  if (zone === 0x5a || zone === 0x7a) {
    at++;
  } else if (zone === 0x2b || zone === 0x2d) {
    const oh = num(b, at + 1, 2, e);
    const colon = byteAt(b, at + 3, e) === 0x3a ? 1 : 0;
    const om = num(b, at + 3 + colon, 2, e);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return undefined;
    offsetMinutes = (zone === 0x2d ? -1 : 1) * (oh * 60 + om);
    at += 5 + colon;
  }
  if (at !== e) return undefined;
  return Date.UTC(year, month, day, hour, minute, second, millis) - offsetMinutes * 60_000;
}

/** The byte at `i`, or -1 at or past `end`. */
function byteAt(b: Uint8Array, i: number, end: number): number {
  return i < end ? b[i]! : -1;
}

/** The number written with exactly `count` digits at `at` (before `end`), or -1. */
function num(b: Uint8Array, at: number, count: number, end: number): number {
  if (at + count > end) return -1;
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const c = b[i]!;
    if (!isDigit(c)) return -1;
    n = n * 10 + c - 0x30;
  }
  return n;
}

/** Milliseconds of the fraction digits `start` to `end`: the first three, cut, not rounded. */
function fractionMillis(b: Uint8Array, start: number, end: number): number {
  let millis = 0;
  for (let i = 0; i < 3; i++) millis = millis * 10 + (start + i < end ? b[start + i]! - 0x30 : 0);
  return millis;
}

function monthKey(a: number, b: number, c: number): number {
  return (a << 16) | (b << 8) | c;
}

/**
 * Milliseconds since the epoch of an RFC 3164 timestamp at the start of `text`, read in
 * `timeZone` (UTC without one). Without a year, the year is the one that puts the time
 * closest to `receivedMs`, so that a December message received in January lands in the
 * year before, and a January message received on December 31 (a sender's clock ahead) in
 * the year after.
 */
export function parseRfc3164(text: Uint8Array | string, receivedMs: number, timeZone?: string): number | undefined {
  const b = bytesOf(text);
  return rfc3164(b, 0, Math.min(b.length, RFC3164_WINDOW), receivedMs, timeZone);
}

/**
 * {@linkcode parseRfc3164} of the bytes `s` to `end` of `b`: `Mmm dd [yyyy ]hh:mm:ss[.f]`, a
 * fraction of 1 to 9 digits, followed by a space, a colon or `end`.
 */
function rfc3164(
  b: Uint8Array,
  s: number,
  end: number,
  receivedMs: number,
  timeZone: string | undefined,
): number | undefined {
  // Only the twelve names are keys: any other three bytes (or fewer) are no month.
  const month = MONTHS.get(monthKey(byteAt(b, s, end), byteAt(b, s + 1, end), byteAt(b, s + 2, end)));
  const d0 = byteAt(b, s + 4, end);
  const d1 = byteAt(b, s + 5, end);
  if (
    month === undefined || byteAt(b, s + 3, end) !== 0x20 || (d0 !== 0x20 && !isDigit(d0)) || !isDigit(d1) ||
    byteAt(b, s + 6, end) !== 0x20
  ) return undefined;
  const day = (d0 === 0x20 ? 0 : d0 - 0x30) * 10 + d1 - 0x30;
  let at = s + 7;
  const givenYear = byteAt(b, at + 4, end) === 0x20 ? num(b, at, 4, end) : -1;
  if (givenYear >= 0) at += 5;
  const hour = num(b, at, 2, end), minute = num(b, at + 3, 2, end), second = num(b, at + 6, 2, end);
  if (
    hour < 0 || minute < 0 || second < 0 || byteAt(b, at + 2, end) !== 0x3a || byteAt(b, at + 5, end) !== 0x3a
  ) return undefined;
  at += 8;
  let millis = 0;
  if (byteAt(b, at, end) === 0x2e) {
    const start = ++at;
    while (at - start < 10 && isDigit(byteAt(b, at, end))) at++;
    if (at === start || at - start > 9) return undefined;
    millis = fractionMillis(b, start, at);
  }
  const next = byteAt(b, at, end);
  if (next !== -1 && next !== 0x20 && next !== 0x3a) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  if (givenYear >= 0) {
    if (!validDate(givenYear, month, day)) return undefined;
    return inZone(timeZone, Date.UTC(givenYear, month, day, hour, minute, second, millis));
  }
  const receivedYear = utcYear(receivedMs);
  let best: number | undefined;
  for (let year = receivedYear - 1; year <= receivedYear + 1; year++) {
    if (!validDate(year, month, day)) continue;
    const t = inZone(timeZone, Date.UTC(year, month, day, hour, minute, second, millis));
    if (best === undefined || Math.abs(t - receivedMs) < Math.abs(best - receivedMs)) best = t;
  }
  // Feb 29 with no leap year within a year of the receive time is not a real date.
  if (best !== undefined && Math.abs(best - receivedMs) > 366 * DAY_MS) return undefined;
  return best;
}

/** The UTC year of the last time asked, and where it starts and ends (one event after another share it). */
let yearOf = { year: 1970, from: 0, to: 0 };

/** The UTC year of `ms`. */
function utcYear(ms: number): number {
  if (ms >= yearOf.from && ms < yearOf.to) return yearOf.year;
  const year = new Date(ms).getUTCFullYear();
  if (Number.isNaN(year)) return year;
  yearOf = { year, from: Date.UTC(year, 0, 1), to: Date.UTC(year + 1, 0, 1) };
  return year;
}

/** A wall-clock time (as if UTC) read in `timeZone`, or as UTC without one. */
function inZone(timeZone: string | undefined, wallMs: number): number {
  return timeZone === undefined ? wallMs : wallTimeToUtc(timeZone, wallMs);
}

/**
 * Offsets are looked up per quarter hour of UTC time: every zone's transitions fall on one
 * (IANA tz data), so a cached offset holds for its whole quarter.
 */
const OFFSET_BUCKET_MS = 900_000;
/** Quarter hours whose offset is remembered, per zone, before the memory is cleared. */
const MAX_CACHED_OFFSETS = 4_096;
const zones = new Map<string, { format: Intl.DateTimeFormat; offsets: Map<number, number> }>();

/** Whether `timeZone` is an IANA time zone name this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** How far `timeZone`'s wall clock is ahead of UTC at `utcMs`, in ms. */
export function zoneOffsetMs(timeZone: string, utcMs: number): number {
  let zone = zones.get(timeZone);
  if (zone === undefined) {
    const format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    zone = { format, offsets: new Map() };
    zones.set(timeZone, zone);
  }
  const bucket = Math.floor(utcMs / OFFSET_BUCKET_MS);
  let offset = zone.offsets.get(bucket);
  if (offset === undefined) {
    const at = bucket * OFFSET_BUCKET_MS;
    const p: Record<string, number> = {};
    for (const part of zone.format.formatToParts(at)) {
      if (part.type !== "literal") p[part.type] = Number(part.value);
    }
    offset = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - at;
    if (zone.offsets.size >= MAX_CACHED_OFFSETS) zone.offsets.clear();
    zone.offsets.set(bucket, offset);
  }
  return offset;
}

/**
 * The UTC time of a wall-clock time in `timeZone` (given as if it were UTC). A time skipped
 * by a change to summer time is read with the offset before it; a time that happens twice
 * (the change back) is the first.
 */
export function wallTimeToUtc(timeZone: string, wallMs: number): number {
  const guess = wallMs - zoneOffsetMs(timeZone, wallMs);
  const offset = zoneOffsetMs(timeZone, guess);
  const utc = wallMs - offset;
  // Twice over an hour: the earlier reading, where the wall time exists at it.
  const earlier = wallMs - zoneOffsetMs(timeZone, utc - OFFSET_BUCKET_MS * 4);
  return earlier < utc && earlier + zoneOffsetMs(timeZone, earlier) === wallMs ? earlier : utc;
}

/** Index just past `<PRI>` (1 to 3 digits, at most 191), or -1 when there is none. */
function skipPri(b: Uint8Array, end: number): number {
  if (b[0] !== 0x3c) return -1;
  let i = 1;
  let pri = 0;
  while (i <= 3 && isDigit(byteAt(b, i, end))) {
    pri = pri * 10 + b[i]! - 0x30;
    i++;
  }
  if (i === 1 || b[i] !== 0x3e || pri > 191) return -1;
  return i + 1;
}

/** Where the token starting at `at` ends: its first space, or `end`. */
function tokenEnd(b: Uint8Array, at: number, end: number): number {
  let i = at;
  while (i < end && b[i] !== 0x20) i++;
  return i;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function validDate(year: number, month: number, day: number): boolean {
  if (month < 0 || month > 11 || day < 1) return false;
  const leap = month === 1 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= DAYS_IN_MONTH[month]! + (leap ? 1 : 0);
}
