import { forEachEvent } from "./event_buffer.ts";
import { parseSyslogTimestamp } from "../parse/syslog_timestamp.ts";

/**
 * Largest Firehose record, in bytes after compression: "The maximum size of a record sent
 * to Amazon Data Firehose, before base64-encoding, is 1,000 KiB"
 * (https://docs.aws.amazon.com/firehose/latest/dev/limits.html).
 */
export const MAX_RECORD_BYTES = 1_024_000;

/** The fields of a record shared by all its events (SPEC section 4). */
export interface RecordHeader {
  /** AWS account id, or `000000000000`. */
  owner: string;
  /** `<prefix>/<syslog|gelf>/<port>`; also the one subscription filter. */
  logGroup: string;
  /** The source address. */
  logStream: string;
}

/** One compressed record and the number of events in it. */
export interface BuiltRecord {
  /** One gzip member holding the record's JSON. */
  data: Uint8Array;
  /** Events in the record. */
  events: number;
}

/** What {@linkcode buildRecords} made of a batch. */
export interface BuildResult {
  /** Records, each at most `maxRecordBytes`, in event order. */
  records: BuiltRecord[];
  /** Events that alone would make a record over the limit, dropped. */
  oversizeEvents: number;
}

/** Options of {@linkcode buildRecords}. */
export interface BuildOptions {
  /** Compresses one record's JSON into one gzip member. */
  compress: (json: Uint8Array) => Promise<Uint8Array>;
  /**
   * Largest compressed record, in bytes.
   * @default {1024000}
   */
  maxRecordBytes?: number;
}

/** A decoded event, as it appears in `logEvents`. */
export interface LogEvent {
  /** A random UUID. */
  id: string;
  /** Event time in integer ms. */
  timestamp: number;
  /** The message text, verbatim (invalid UTF-8 replaced). */
  message: string;
}

/**
 * Serializes one event as the JSON text of a `logEvents` entry.
 *
 * @example
 * ```ts
 * serializeEvent({ id: crypto.randomUUID(), timestamp: 1, message: "<13>hi" });
 * ```
 */
export function serializeEvent(event: LogEvent): string {
  return `{"id":"${event.id}","timestamp":${event.timestamp},"message":${JSON.stringify(event.message)}}`;
}

/** Counts from turning a packed batch into serialized events. */
export interface DecodeResult {
  /** One JSON text per event (see {@linkcode serializeEvent}). */
  events: string[];
  /** Events whose timestamp could not be read; they carry the receive time. */
  timestampFallbacks: number;
}

const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * Decodes a packed batch (see `event_buffer.ts`) into serialized syslog events: invalid
 * UTF-8 is replaced, the event time is read from the message or falls back to the receive
 * time, and every event gets a random UUID.
 */
export function decodeSyslogBatch(data: ArrayBuffer, byteLength: number): DecodeResult {
  const events: string[] = [];
  let timestampFallbacks = 0;
  forEachEvent(data, byteLength, (bytes, receivedMs) => {
    const message = decoder.decode(bytes);
    let timestamp = parseSyslogTimestamp(message, receivedMs);
    if (timestamp === undefined) {
      timestamp = Math.floor(receivedMs);
      timestampFallbacks++;
    }
    events.push(serializeEvent({ id: crypto.randomUUID(), timestamp, message }));
  });
  return { events, timestampFallbacks };
}

const encoder = new TextEncoder();

/**
 * Packs serialized events into compressed records of at most `maxRecordBytes` each, split
 * along event boundaries; every record is checked after compression, so none is oversize.
 *
 * @example
 * ```ts
 * const { records } = await buildRecords(header, events, { compress: gzip });
 * ```
 */
export async function buildRecords(
  header: RecordHeader,
  events: readonly string[],
  options: BuildOptions,
): Promise<BuildResult> {
  const max = options.maxRecordBytes ?? MAX_RECORD_BYTES;
  const group = JSON.stringify(header.logGroup);
  const prefix = `{"owner":${JSON.stringify(header.owner)},"logGroup":${group},"logStream":${
    JSON.stringify(header.logStream)
  },"subscriptionFilters":[${group}],"messageType":"DATA_MESSAGE","logEvents":[`;
  const suffix = "]}";
  const result: BuildResult = { records: [], oversizeEvents: 0 };

  const pack = async (from: number, to: number): Promise<void> => {
    const json = encoder.encode(prefix + events.slice(from, to).join(",") + suffix);
    const data = await options.compress(json);
    if (data.length <= max) {
      result.records.push({ data, events: to - from });
      return;
    }
    if (to - from === 1) {
      result.oversizeEvents++;
      return;
    }
    // Aim each piece at 90% of the limit, judging by this attempt's compression ratio.
    const pieces = Math.min(to - from, Math.max(2, Math.ceil(data.length / (max * 0.9))));
    const target = json.length / pieces;
    const cuts: number[] = [];
    let size = 0;
    for (let i = from; i < to - 1; i++) {
      size += events[i]!.length + 1;
      if (size >= target) {
        cuts.push(i + 1);
        size = 0;
      }
    }
    // No cut found (one event dominates, or multi-byte text): halve, which always progresses.
    if (cuts.length === 0) cuts.push(from + Math.floor((to - from) / 2));
    let start = from;
    for (const cut of [...cuts, to]) {
      await pack(start, cut);
      start = cut;
    }
  };

  if (events.length > 0) await pack(0, events.length);
  return result;
}

/**
 * Compresses bytes into one gzip member with the web-standard `CompressionStream`.
 */
export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
