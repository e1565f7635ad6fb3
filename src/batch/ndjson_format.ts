import { parseSyslogFields, SEVERITIES } from "../parse/syslog_fields.ts";
import type { EventJsonWriter } from "./event_json.ts";
import type { DecodedEvent, EventToWrite, RecordContext, RecordFormat, RecordWriter } from "./record_format.ts";
import { RecordShapeError } from "./record_format.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
const NEWLINE = encoder.encode("\n");

/** The fields every NDJSON event has, in the order they are written (SPEC section 4.2). */
export const NDJSON_FIELDS = ["timestamp", "source", "port", "transport", "format", "message"] as const;
/** The fields a syslog event has where its message has them. */
export const NDJSON_SYSLOG_FIELDS = [
  "facility",
  "severity",
  "hostname",
  "appname",
  "procid",
  "msgid",
  "version",
  "structured_data",
] as const;
/** The fields a GELF event adds. */
export const NDJSON_GELF_FIELDS = ["hostname", "severity", "gelf"] as const;

/**
 * NDJSON records (SPEC section 4.2, `--record-format ndjson`): one JSON object per event and
 * line, with the parsed fields (`parse/syslog_fields.ts` for syslog; `host`, `level` and
 * `short_message` for GELF, the document kept whole as `gelf`), for Athena and Glue, dynamic
 * partitioning, Splunk and HTTP endpoints. The raw syslog header is not kept: `message` is the
 * MSG part (the whole text when the header cannot be read).
 */
export const ndjsonFormat: RecordFormat = {
  name: "ndjson",
  perRecord: false,
  eventsCarrySource: true,
  compressible: true,
  writer(context: RecordContext): RecordWriter {
    const text = ndjsonEventText(context);
    return {
      open: () => EMPTY,
      close: EMPTY,
      write(writer: EventJsonWriter, event: EventToWrite): void {
        writer.text(text(event));
        writer.raw(NEWLINE);
      },
    };
  },
  events(r: Record<string, unknown>): DecodedEvent[] | undefined {
    if (!("source" in r && "transport" in r)) return undefined;
    if (typeof r.timestamp !== "number" || typeof r.message !== "string") {
      throw new RecordShapeError("an NDJSON event lacks a numeric timestamp or a string message");
    }
    return [r as DecodedEvent];
  },
};

/**
 * The NDJSON text (one JSON object, no newline) of each event of records of `context`; also
 * the user records of KPL aggregated records (`kpl_format.ts`).
 */
export function ndjsonEventText(context: RecordContext): (event: EventToWrite) => string {
  const { format } = context;
  const ports = new Map<string, number>();
  return (event) => {
    const text = decoder.decode(event.message);
    const { timestamp, transport, logStream: source } = event;
    let port = ports.get(event.logGroup);
    if (port === undefined) {
      port = Number(/\/(\d+)$/.exec(event.logGroup)?.[1] ?? 0);
      ports.set(event.logGroup, port);
    }
    // One object, its fields added in order (no spread of a second one): it runs per event.
    const out: Record<string, unknown> = { timestamp, source, port, transport, format };
    if (format === "gelf") gelfEvent(text, out);
    else syslogEvent(text, out);
    return JSON.stringify(out);
  };
}

/** Adds the fields of a syslog message to `out`, in NDJSON's names and order; `message` last. */
function syslogEvent(text: string, out: Record<string, unknown>): void {
  const f = parseSyslogFields(text);
  if (f.facility !== undefined) out.facility = f.facility;
  if (f.severity !== undefined) out.severity = f.severity;
  if (f.hostname !== undefined) out.hostname = f.hostname;
  if (f.appname !== undefined) out.appname = f.appname;
  if (f.procid !== undefined) out.procid = f.procid;
  if (f.msgid !== undefined) out.msgid = f.msgid;
  if (f.version !== undefined) out.version = f.version;
  if (f.structuredData !== undefined) out.structured_data = f.structuredData;
  out.message = f.message;
}

/** Adds the fields of a GELF document to `out` (checked at intake: a JSON object with a message). */
function gelfEvent(text: string, out: Record<string, unknown>): void {
  let gelf: Record<string, unknown>;
  try {
    gelf = JSON.parse(text);
  } catch {
    out.message = text;
    return;
  }
  if (typeof gelf.host === "string" && gelf.host !== "") out.hostname = gelf.host;
  const level = typeof gelf.level === "string" ? Number(gelf.level) : gelf.level;
  if (typeof level === "number" && Number.isInteger(level) && level >= 0 && level <= 7) {
    out.severity = SEVERITIES[level];
  }
  const message = typeof gelf.short_message === "string" ? gelf.short_message : gelf.message;
  out.message = typeof message === "string" ? message : text;
  out.gelf = gelf;
}
