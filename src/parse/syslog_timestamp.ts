/**
 * Event timestamps of syslog messages (SPEC section 3). Only the timestamp is read; the
 * message itself is never changed. Every function returns `undefined` when it cannot read a
 * timestamp, and the caller falls back to the receive time.
 *
 * @module
 */

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/** RFC 3164 section 4.1.2 `Mmm dd hh:mm:ss`, with an optional year before the time. */
const RFC3164 = /^([A-Z][a-z]{2}) ([ \d]\d) (?:(\d{4}) )?(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?=[ :]|$)/;

/** Milliseconds in one day. */
const DAY_MS = 86_400_000;

/**
 * The event time of a syslog message in integer milliseconds since the epoch.
 *
 * Reads RFC 5424 (`<PRI>1 TIMESTAMP`), a BSD header carrying an RFC 3339 timestamp
 * (rsyslog's forwarding format, loggen's legacy format) and RFC 3164 (`<PRI>Mmm dd
 * hh:mm:ss`, the year chosen closest to `receivedMs`). A timestamp without a zone is read in
 * `timeZone` (an IANA name; the listener's), or in UTC without one.
 *
 * @example
 * ```ts
 * parseSyslogTimestamp("<34>1 2003-10-11T22:14:15.003Z host su - - - msg", Date.now());
 * // 1065910455003
 * ```
 */
export function parseSyslogTimestamp(message: string, receivedMs: number, timeZone?: string): number | undefined {
  const afterPri = skipPri(message);
  if (afterPri < 0) return undefined;
  let at = afterPri;
  // RFC 5424 VERSION: NONZERO-DIGIT 0*2DIGIT, then SP.
  let digits = 0;
  while (digits < 3 && isDigit(message.charCodeAt(at + digits))) digits++;
  if (digits > 0 && message.charCodeAt(at + digits) === 0x20 && message.charCodeAt(at) !== 0x30) {
    at += digits + 1;
    const token = tokenAt(message, at);
    if (token === "-") return undefined;
    return parseRfc3339(token, timeZone);
  }
  const first = message.charCodeAt(at);
  if (isDigit(first)) return parseRfc3339(tokenAt(message, at), timeZone);
  return parseRfc3164(message.slice(at, at + 32), receivedMs, timeZone);
}

/**
 * Milliseconds since the epoch of an RFC 3339 timestamp
 * (`YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)`); no zone is read as UTC. Fractions of any
 * length are cut (not rounded) to milliseconds. Without a zone, the time is read in
 * `timeZone` (UTC without one). Hand-written: it runs once per message.
 */
export function parseRfc3339(text: string, timeZone?: string): number | undefined {
  const year = digits(text, 0, 4), month = digits(text, 5, 2) - 1, day = digits(text, 8, 2);
  const hour = digits(text, 11, 2), minute = digits(text, 14, 2), second = digits(text, 17, 2);
  const t = text.charCodeAt(10);
  if (
    year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 ||
    text.charCodeAt(4) !== 0x2d || text.charCodeAt(7) !== 0x2d || (t !== 0x54 && t !== 0x74) ||
    text.charCodeAt(13) !== 0x3a || text.charCodeAt(16) !== 0x3a
  ) return undefined;
  if (!validDate(year, month, day) || hour > 23 || minute > 59 || second > 60) return undefined;
  let at = 19;
  let millis = 0;
  if (text.charCodeAt(at) === 0x2e) {
    const start = ++at;
    while (isDigit(text.charCodeAt(at))) at++;
    if (at === start) return undefined;
    for (let i = 0; i < 3; i++) millis = millis * 10 + (start + i < at ? text.charCodeAt(start + i) - 0x30 : 0);
  }
  let offsetMinutes = 0;
  const zone = text.charCodeAt(at);
  if (at === text.length && timeZone !== undefined) {
    return wallTimeToUtc(timeZone, Date.UTC(year, month, day, hour, minute, second, millis));
  }
  if (zone === 0x5a || zone === 0x7a) {
    at++;
  } else if (zone === 0x2b || zone === 0x2d) {
    const oh = digits(text, at + 1, 2);
    const colon = text.charCodeAt(at + 3) === 0x3a ? 1 : 0;
    const om = digits(text, at + 3 + colon, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return undefined;
    offsetMinutes = (zone === 0x2d ? -1 : 1) * (oh * 60 + om);
    at += 5 + colon;
  }
  if (at !== text.length) return undefined;
  return Date.UTC(year, month, day, hour, minute, second, millis) - offsetMinutes * 60_000;
}

/** The number written with exactly `count` digits at `at`, or -1. */
function digits(text: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const c = text.charCodeAt(i);
    if (!isDigit(c)) return -1;
    n = n * 10 + c - 0x30;
  }
  return n;
}

/**
 * Milliseconds since the epoch of an RFC 3164 timestamp at the start of `text`, read in
 * `timeZone` (UTC without one). Without a year, the year is the one that puts the time
 * closest to `receivedMs`, so that a December message received in January lands in the
 * year before, and a January message received on December 31 (a sender's clock ahead) in
 * the year after.
 */
export function parseRfc3164(text: string, receivedMs: number, timeZone?: string): number | undefined {
  const m = RFC3164.exec(text);
  if (m === null) return undefined;
  const month = MONTHS[m[1]!];
  if (month === undefined) return undefined;
  const day = Number(m[2]!.trim());
  const hour = Number(m[4]), minute = Number(m[5]), second = Number(m[6]);
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const millis = fractionToMillis(m[7]);
  if (m[3] !== undefined) {
    const year = Number(m[3]);
    if (!validDate(year, month, day)) return undefined;
    return inZone(timeZone, Date.UTC(year, month, day, hour, minute, second, millis));
  }
  const receivedYear = new Date(receivedMs).getUTCFullYear();
  let best: number | undefined;
  for (const year of [receivedYear - 1, receivedYear, receivedYear + 1]) {
    if (!validDate(year, month, day)) continue;
    const t = inZone(timeZone, Date.UTC(year, month, day, hour, minute, second, millis));
    if (best === undefined || Math.abs(t - receivedMs) < Math.abs(best - receivedMs)) best = t;
  }
  // Feb 29 with no leap year within a year of the receive time is not a real date.
  if (best !== undefined && Math.abs(best - receivedMs) > 366 * DAY_MS) return undefined;
  return best;
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
function skipPri(message: string): number {
  if (message.charCodeAt(0) !== 0x3c) return -1;
  let i = 1;
  let pri = 0;
  while (i <= 3 && isDigit(message.charCodeAt(i))) {
    pri = pri * 10 + message.charCodeAt(i) - 0x30;
    i++;
  }
  if (i === 1 || message.charCodeAt(i) !== 0x3e || pri > 191) return -1;
  return i + 1;
}

function tokenAt(message: string, at: number): string {
  const space = message.indexOf(" ", at);
  return message.slice(at, space < 0 ? message.length : space);
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function fractionToMillis(fraction: string | undefined): number {
  if (fraction === undefined) return 0;
  return Number((fraction + "00").slice(0, 3));
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function validDate(year: number, month: number, day: number): boolean {
  if (month < 0 || month > 11 || day < 1) return false;
  const leap = month === 1 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= DAYS_IN_MONTH[month]! + (leap ? 1 : 0);
}
