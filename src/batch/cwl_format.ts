import type { DecodedEvent, EventToWrite, RecordContext, RecordFormat, RecordWriter } from "./record_format.ts";
import { RecordShapeError } from "./record_format.ts";
import type { EventJsonWriter } from "./event_json.ts";

const encoder = new TextEncoder();

/**
 * CloudWatch-Logs-shaped records (SPEC section 4, the default): one JSON object per record
 * with `owner`, `logGroup`, `logStream`, `subscriptionFilters`, `messageType` and
 * `logEvents` of `{id, timestamp, message}`, the message verbatim, the id the event's own
 * (`event_id.ts`: the relay's instance id and the event's sequence number, written as
 * `eventId()` makes it; a random UUID for an event without a number).
 */
export const cwlFormat: RecordFormat = {
  name: "cwl",
  perRecord: true,
  eventsCarrySource: false,
  compressible: true,
  writer(context: RecordContext): RecordWriter {
    const group = JSON.stringify(context.logGroup);
    const instance = encoder.encode(context.instance);
    const open = encoder.encode(
      `{"owner":${JSON.stringify(context.owner)},"logGroup":${group},"logStream":${
        JSON.stringify(context.logStream)
      },"subscriptionFilters":[${group}],"messageType":"DATA_MESSAGE","logEvents":[`,
    );
    return {
      open: () => open,
      close: encoder.encode("]}"),
      write(writer: EventJsonWriter, event: EventToWrite, first: boolean): void {
        if (event.sequence < 0) writer.add(crypto.randomUUID(), event.timestamp, event.message, !first);
        else writer.addNumbered(instance, event.sequence, event.timestamp, event.message, !first);
      },
    };
  },
  events(r: Record<string, unknown>): DecodedEvent[] | undefined {
    if (!("logEvents" in r) && !("messageType" in r)) return undefined;
    // A CloudWatch Logs CONTROL_MESSAGE has no events.
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
  },
};
