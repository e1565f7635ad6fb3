/**
 * The fields routes match, read from one message only as far as a route asks: the PRI of a
 * syslog message from its bytes, the header and text once decoded; a GELF message's `host`,
 * `level`, `facility`, application name and `short_message` from its parsed object.
 *
 * @module
 */
import { FACILITIES, parseSyslogFields, SEVERITIES, type SyslogFields } from "../parse/syslog_fields.ts";

/** RFC 3164 section 4.3.3: a message without a valid PRI is read as user.notice. */
const DEFAULT_PRI = 13;
/** GELF fields that carry an application name, in the order they are looked for. */
const GELF_APP_FIELDS = ["_app_name", "_appname", "_application_name", "_app", "_tag"] as const;

const decoder = new TextDecoder();

/**
 * The PRI of a syslog message from its first bytes (`<` 1 to 3 digits `>`, at most 191), or
 * the default 13 (user.notice) where it has none.
 */
export function syslogPri(message: Uint8Array): number {
  if (message[0] !== 0x3c) return DEFAULT_PRI;
  let pri = 0;
  let i = 1;
  for (; i <= 3 && i < message.length; i++) {
    const b = message[i]!;
    if (b < 0x30 || b > 0x39) break;
    pri = pri * 10 + b - 0x30;
  }
  return i > 1 && message[i] === 0x3e && pri <= 191 ? pri : DEFAULT_PRI;
}

/** One message, read lazily for routes. */
export class EventFields {
  #message: Uint8Array = new Uint8Array(0);
  #gelf: Record<string, unknown> | undefined;
  #pri = -1;
  #syslog: SyslogFields | undefined;

  /** Points at another message: `gelf` is its parsed object when it is a GELF message. */
  reset(message: Uint8Array, gelf: Record<string, unknown> | undefined): this {
    this.#message = message;
    this.#gelf = gelf;
    this.#pri = -1;
    this.#syslog = undefined;
    return this;
  }

  /** Facility code: a syslog message's PRI; a GELF message's `facility` where it names one, else 1 (user). */
  get facility(): number {
    if (this.#gelf !== undefined) {
      const f = this.#gelf.facility ?? this.#gelf._facility;
      const code = typeof f === "number" ? f : FACILITIES.indexOf(String(f) as typeof FACILITIES[number]);
      return Number.isInteger(code) && code >= 0 && code < FACILITIES.length ? code : 1;
    }
    return this.#priority() >> 3;
  }

  /** Severity code: a syslog message's PRI; a GELF message's `level` (1, alert, where it has none, as GELF says). */
  get severity(): number {
    if (this.#gelf !== undefined) {
      const level = this.#gelf.level;
      return typeof level === "number" && Number.isInteger(level) && level >= 0 && level < SEVERITIES.length
        ? level
        : 1;
    }
    return this.#priority() & 7;
  }

  /** Host name: the syslog header's, a GELF message's `host`. */
  get hostname(): string | undefined {
    if (this.#gelf !== undefined) return text(this.#gelf.host);
    return this.#fields().hostname;
  }

  /** App name: RFC 5424 APP-NAME or RFC 3164 TAG; a GELF message's `_app_name` (or a like field). */
  get appName(): string | undefined {
    if (this.#gelf !== undefined) {
      for (const name of GELF_APP_FIELDS) {
        const value = text(this.#gelf[name]);
        if (value !== undefined) return value;
      }
      return undefined;
    }
    return this.#fields().appname;
  }

  /** The message text: a syslog message's MSG part, a GELF message's `short_message`. */
  get text(): string {
    if (this.#gelf !== undefined) return text(this.#gelf.short_message) ?? text(this.#gelf.message) ?? "";
    return this.#fields().message;
  }

  #priority(): number {
    if (this.#pri < 0) this.#pri = syslogPri(this.#message);
    return this.#pri;
  }

  #fields(): SyslogFields {
    this.#syslog ??= parseSyslogFields(decoder.decode(this.#message));
    return this.#syslog;
  }
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined;
}
