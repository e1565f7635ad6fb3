/**
 * Reads one JSON text of a record into its events, whatever the record format
 * (`batch/record_format.ts`): a CWL record (SPEC section 4) gives its events, each with the
 * record's `logGroup` and `logStream`; an NDJSON line (section 4.2) is one event.
 *
 * @module
 */
import { type DecodedEvent, RecordShapeError } from "../batch/record_format.ts";
import { RECORD_FORMATS, type RecordFormatName } from "../batch/record_formats.ts";

export { type DecodedEvent, RecordShapeError };

/**
 * The events of one JSON text, and the format it is of. A CloudWatch Logs `CONTROL_MESSAGE`
 * has none. Throws {@linkcode RecordShapeError} for text that is not JSON or not shaped like a
 * record or an event of any format.
 *
 * @example
 * ```ts
 * textEvents('{"logGroup":"/kinesyslog/syslog/514","logStream":"10.0.0.1","messageType":"DATA_MESSAGE",' +
 *   '"logEvents":[{"id":"u","timestamp":1,"message":"m"}]}');
 * // { format: "cwl", events: [{ logGroup: "/kinesyslog/syslog/514", logStream: "10.0.0.1", id: "u", timestamp: 1, message: "m" }] }
 * ```
 */
export function textEvents(text: string): { format: RecordFormatName; events: DecodedEvent[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RecordShapeError(`not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RecordShapeError("not a JSON object");
  }
  for (const [name, format] of Object.entries(RECORD_FORMATS)) {
    const events = format.events(value as Record<string, unknown>);
    if (events !== undefined) return { format: name as RecordFormatName, events };
  }
  throw new RecordShapeError("not a record: logGroup, logStream and logEvents are required (or an NDJSON event)");
}

/** The events of one JSON text (see {@linkcode textEvents}). */
export function recordEvents(text: string): DecodedEvent[] {
  return textEvents(text).events;
}
