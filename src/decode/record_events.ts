/**
 * Reads one record (SPEC section 4: CloudWatch-Logs-shaped JSON) into its events, each with
 * the record's `logGroup` and `logStream`.
 *
 * @module
 */

/** One event of a record, as `kinesyslog decode` prints it. */
export interface DecodedEvent {
  /** The record's log group: `<prefix>/<syslog|gelf>/<port>`. */
  logGroup: string;
  /** The record's log stream: the sender's address. */
  logStream: string;
  /** The event id (a UUID). */
  id: string;
  /** Event time, in ms since the epoch. */
  timestamp: number;
  /** The message, verbatim. */
  message: string;
}

/** A JSON text that is not a kinesyslog record. */
export class RecordShapeError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "RecordShapeError";
  }
}

/**
 * The events of one record's JSON text. A CloudWatch Logs `CONTROL_MESSAGE` has none.
 * Throws {@linkcode RecordShapeError} for text that is not JSON or not shaped like a record.
 *
 * @example
 * ```ts
 * recordEvents('{"logGroup":"/kinesyslog/syslog/514","logStream":"10.0.0.1","messageType":"DATA_MESSAGE",' +
 *   '"logEvents":[{"id":"u","timestamp":1,"message":"m"}]}');
 * // [{ logGroup: "/kinesyslog/syslog/514", logStream: "10.0.0.1", id: "u", timestamp: 1, message: "m" }]
 * ```
 */
export function recordEvents(text: string): DecodedEvent[] {
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch (error) {
    throw new RecordShapeError(`not valid JSON: ${(error as Error).message}`);
  }
  if (typeof record !== "object" || record === null || Array.isArray(record)) {
    throw new RecordShapeError("not a JSON object");
  }
  const r = record as Record<string, unknown>;
  if (r.messageType === "CONTROL_MESSAGE") return [];
  const { logGroup, logStream, logEvents } = r;
  if (typeof logGroup !== "string" || typeof logStream !== "string" || !Array.isArray(logEvents)) {
    throw new RecordShapeError("not a record: logGroup, logStream and logEvents are required");
  }
  return logEvents.map((event: unknown, i) => {
    const e = event as Record<string, unknown> | null;
    if (typeof e?.id !== "string" || typeof e.timestamp !== "number" || typeof e.message !== "string") {
      throw new RecordShapeError(`event ${i + 1} lacks a string id, a numeric timestamp or a string message`);
    }
    return { logGroup, logStream, id: e.id, timestamp: e.timestamp, message: e.message };
  });
}
