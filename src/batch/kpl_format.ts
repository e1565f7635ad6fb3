import type { EventJsonWriter } from "./event_json.ts";
import { KPL_DIGEST_BYTES, kplOpen, kplUserRecordHeader, sealKpl } from "./kpl_aggregate.ts";
import { ndjsonEventText } from "./ndjson_format.ts";
import type { DecodedEvent, EventToWrite, RecordContext, RecordFormat, RecordWriter } from "./record_format.ts";

const encoder = new TextEncoder();

/**
 * KPL aggregated records (`--record-format kpl`, Kinesis data streams only): each event is one
 * user record holding its NDJSON object (the same fields as `ndjson`, without the newline),
 * all under the record's partition key, so a consumer that deaggregates (the KCL, Lambda's
 * deaggregation modules, Firehose reading the stream) gets one event per record. Never
 * compressed: consumers read the user records before anything else.
 */
export const kplFormat: RecordFormat = {
  name: "kpl",
  perRecord: false,
  eventsCarrySource: true,
  compressible: false,
  writer(context: RecordContext): RecordWriter {
    const text = ndjsonEventText(context);
    return {
      open: kplOpen,
      close: new Uint8Array(KPL_DIGEST_BYTES),
      write(writer: EventJsonWriter, event: EventToWrite): void {
        const data = encoder.encode(text(event));
        writer.raw(kplUserRecordHeader(data.length));
        writer.raw(data);
      },
    };
  },
  /** Never its own: taken out of the aggregated record, its user records are `ndjson`'s texts. */
  events(): DecodedEvent[] | undefined {
    return undefined;
  },
  seal: sealKpl,
};
