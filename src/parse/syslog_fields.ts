/**
 * The fields of a syslog message, for records that carry them (SPEC section 4.2): the PRI's
 * facility and severity, the header (RFC 5424; RFC 3164; rsyslog's and loggen's BSD header
 * with an RFC 3339 time), RFC 5424 structured data with its escapes undone, and the MSG part.
 *
 * Pure and total: any text gives fields and nothing throws. A field the message does not have,
 * or has as the NILVALUE `-`, is absent. As a relay reads them (RFC 3164 section 4.3): a
 * message without a valid PRI is `user.notice` (PRI 13) and all of it is the message; a
 * header with nothing after it has an empty message; a TAG ends at the first character that
 * is not alphanumeric (section 4.1.3) when no colon ends it; malformed structured data keeps
 * the header read before it, and the rest is the message. When the header cannot be read,
 * `message` is the whole text; in every case `message` is a tail of the text (a leading
 * UTF-8 BOM of the MSG removed). The event time is read elsewhere (`syslog_timestamp.ts`).
 *
 * @module
 */

/** Facility keywords by code (RFC 5424 section 6.2.1, names as rsyslog and syslog-ng print them). */
export const FACILITIES = [
  "kern",
  "user",
  "mail",
  "daemon",
  "auth",
  "syslog",
  "lpr",
  "news",
  "uucp",
  "cron",
  "authpriv",
  "ftp",
  "ntp",
  "security",
  "console",
  "solaris-cron",
  "local0",
  "local1",
  "local2",
  "local3",
  "local4",
  "local5",
  "local6",
  "local7",
] as const;

/** Severity keywords by code (RFC 5424 section 6.2.1). */
export const SEVERITIES = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"] as const;

/** Structured data: SD-ID to PARAM-NAME to value. */
export type StructuredData = Record<string, Record<string, string>>;

/** What {@linkcode parseSyslogFields} reads; absent fields are left out. */
export interface SyslogFields {
  facility?: string;
  severity?: string;
  /** RFC 5424 VERSION. */
  version?: number;
  hostname?: string;
  /** RFC 5424 APP-NAME; RFC 3164 the TAG without `[pid]` and `:`. */
  appname?: string;
  procid?: string;
  msgid?: string;
  /** RFC 5424 STRUCTURED-DATA, escapes undone. */
  structuredData?: StructuredData;
  /** The MSG part; the whole text when the header cannot be read. */
  message: string;
}

/** RFC 3164 section 4.1.2 `Mmm dd hh:mm:ss`, an optional year before the time, then SP or the end. */
const RFC3164_TIME = /^[A-Z][a-z]{2} [ \d]\d (?:\d{4} )?\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?: |$)/;
/** An RFC 3339 time in a BSD header (rsyslog's forwarding format, loggen's legacy one), then SP or the end. */
const RFC3339_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}\S*(?: |$)/;
/** A TAG: a name, an optional `[pid]`, a colon (RFC 3164 section 4.1.3, as clients send it). */
const TAG = /^([^\s:[\]]{1,48})(?:\[([^\s\]]{1,32})\])?:(?: |$)/;
/**
 * A TAG as RFC 3164 section 4.1.3 defines it, where no colon ends it: up to 32 alphanumerics,
 * ended by any other character, which starts the CONTENT (one space after it is left out).
 */
const RFC3164_TAG = /^([A-Za-z0-9]{1,32})(?![A-Za-z0-9]) ?/;
/** The PRI a relay assumes for a message without a valid one (RFC 3164 section 4.3.3): user.notice. */
const DEFAULT_PRI = 13;

/**
 * Reads the fields of one syslog message.
 *
 * @example
 * ```ts
 * parseSyslogFields("<134>1 2026-11-23T23:14:22Z vm app 42 ID7 [a x=\"1\"] hello");
 * // { facility: "local0", severity: "info", version: 1, hostname: "vm", appname: "app",
 * //   procid: "42", msgid: "ID7", structuredData: { a: { x: "1" } }, message: "hello" }
 * ```
 */
export function parseSyslogFields(text: string): SyslogFields {
  const pri = /^<(\d{1,3})>/.exec(text);
  if (pri === null || Number(pri[1]) > 191) return { ...priority(DEFAULT_PRI), message: text };
  const fields: SyslogFields = { ...priority(Number(pri[1])), message: text };
  const rest = text.slice(pri[0].length);
  if (rest === "") return { ...fields, message: "" };
  const version = /^([1-9]\d{0,2}) /.exec(rest);
  if (version !== null) return rfc5424(text, text.length - rest.length + version[0].length, fields, version[1]!);
  const time = RFC3164_TIME.exec(rest) ?? RFC3339_TIME.exec(rest);
  if (time === null) return fields;
  return bsd(text, text.length - rest.length + time[0].length, fields);
}

/** The facility and severity of a PRI value. */
function priority(code: number): { facility: string; severity: string } {
  return { facility: FACILITIES[code >> 3]!, severity: SEVERITIES[code & 7]! };
}

/**
 * RFC 5424 after `VERSION SP`: TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [SP MSG]. A header
 * that ends early has the fields it has and an empty message; structured data that cannot be
 * read is left in the message, with the header before it kept.
 */
function rfc5424(text: string, at: number, fields: SyslogFields, version: string): SyslogFields {
  const header: string[] = [];
  for (let i = 0; i < 5 && at < text.length; i++) {
    const end = text.indexOf(" ", at);
    if (end === at) return fields;
    header.push(text.slice(at, end === -1 ? text.length : end));
    at = end === -1 ? text.length : end + 1;
  }
  const [, hostname, appname, procid, msgid] = header;
  const out: SyslogFields = { ...fields, version: Number(version), message: "" };
  if (hostname !== undefined && hostname !== "-") out.hostname = hostname;
  if (appname !== undefined && appname !== "-") out.appname = appname;
  if (procid !== undefined && procid !== "-") out.procid = procid;
  if (msgid !== undefined && msgid !== "-") out.msgid = msgid;
  if (at >= text.length) return out;
  if (text[at] === "-") {
    at++;
  } else {
    const read = readStructuredData(text, at);
    if (read === undefined || (read[1] < text.length && text[read[1]] !== " ")) {
      out.message = withoutBom(text.slice(at));
      return out;
    }
    [out.structuredData, at] = read;
  }
  if (at < text.length && text[at] !== " ") return fields;
  out.message = withoutBom(text.slice(Math.min(text.length, at + 1)));
  return out;
}

/**
 * A BSD header after its time: `[HOSTNAME SP] [TAG] MSG`. The TAG is what clients send (a
 * name, an optional `[pid]`, a colon) or, after a hostname, RFC 3164's alphanumeric one.
 */
function bsd(text: string, at: number, fields: SyslogFields): SyslogFields {
  const out: SyslogFields = { ...fields, message: "" };
  if (at >= text.length) return out;
  let tag = TAG.exec(text.slice(at, at + 84));
  if (tag === null) {
    // A hostname first (a word without a colon), then perhaps a tag.
    const end = text.indexOf(" ", at);
    const word = end === -1 ? text.slice(at) : text.slice(at, end);
    if (word === "" || word.endsWith(":")) return fields;
    if (word !== "-") out.hostname = word;
    at = end === -1 ? text.length : end + 1;
    tag = TAG.exec(text.slice(at, at + 84)) ?? RFC3164_TAG.exec(text.slice(at, at + 34));
  }
  if (tag !== null) {
    out.appname = tag[1]!;
    if (tag[2] !== undefined) out.procid = tag[2];
    at += tag[0].length;
  }
  out.message = withoutBom(text.slice(at));
  return out;
}

/**
 * Reads SD-ELEMENTs from `at` (RFC 5424 section 6.3): `[SD-ID *(SP PARAM-NAME="VALUE")]`,
 * one after another; in a value `\"`, `\\` and `\]` stand for the character, any other
 * backslash is kept. Returns the data and where it ends, or undefined when it is malformed.
 */
export function readStructuredData(text: string, at: number): [StructuredData, number] | undefined {
  const data: StructuredData = Object.create(null);
  if (text[at] !== "[") return undefined;
  while (text[at] === "[") {
    at++;
    const id = /^[^\s="\]]{1,32}/.exec(text.slice(at, at + 33))?.[0];
    if (id === undefined) return undefined;
    at += id.length;
    const params: Record<string, string> = data[id] ?? Object.create(null);
    data[id] = params;
    while (text[at] === " ") {
      const name = /^ ([^\s="\]]{1,32})="/.exec(text.slice(at, at + 35));
      if (name === null) return undefined;
      at += name[0].length;
      let value = "";
      for (;;) {
        const c = text[at];
        if (c === undefined) return undefined;
        if (c === '"') break;
        if (c === "\\" && (text[at + 1] === '"' || text[at + 1] === "\\" || text[at + 1] === "]")) {
          value += text[at + 1];
          at += 2;
        } else {
          value += c;
          at++;
        }
      }
      at++;
      params[name[1]!] = value;
    }
    if (text[at] !== "]") return undefined;
    at++;
  }
  return [data, at];
}

function withoutBom(message: string): string {
  return message.charCodeAt(0) === 0xfeff ? message.slice(1) : message;
}
