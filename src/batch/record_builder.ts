import { type EventFormat, forEachEvent, type PackedEvents } from "./event_buffer.ts";
import { type EncodedEvents, EventJsonWriter } from "./event_json.ts";
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
  /** Bytes of event JSON in the records. */
  jsonBytes: number;
  /** Compressed bytes of the records. */
  compressedBytes: number;
}

/** Options of {@linkcode buildRecords}. */
export interface BuildOptions {
  /** Compresses the concatenation of a record's JSON parts into one gzip member. */
  compress: (parts: readonly Uint8Array[]) => Promise<Uint8Array>;
  /**
   * Largest compressed record, in bytes.
   * @default {1024000}
   */
  maxRecordBytes?: number;
  /**
   * Expected compressed size per byte of event JSON, from earlier records. With it, a batch
   * that will not fit one record is cut before compression, so each piece is compressed
   * once; without it, the whole batch is tried first.
   */
  ratio?: number | undefined;
}

/** Weight of the newest observation in a running compression estimate. */
export const ESTIMATE_WEIGHT = 0.3;

/**
 * A running (exponentially weighted) compression estimate after one more observation.
 *
 * @example
 * ```ts
 * let ratio: number | undefined;
 * ratio = updateEstimate(ratio, 0.25); // 0.25
 * ```
 */
export function updateEstimate(estimate: number | undefined, observed: number): number {
  return estimate === undefined ? observed : estimate + ESTIMATE_WEIGHT * (observed - estimate);
}

/** Share of the record limit a piece cut by estimate aims at. */
export const PIECE_FILL = 0.95;

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
  /** The serialized events. */
  events: EncodedEvents;
  /** Events whose timestamp could not be read; they carry the receive time. */
  timestampFallbacks: number;
}

/** Bytes of a message's start searched for its timestamp (RFC 5424's header fits in 64). */
const HEADER_BYTES = 64;

/**
 * Serializes a packed batch (see `event_buffer.ts`): every event gets a random UUID and the
 * message is kept verbatim (invalid UTF-8 replaced). For `syslog` the event time is read
 * from the message or falls back to the stored receive time; for `gelf` the stored time is
 * already the event time.
 */
export function encodeBatch(packed: PackedEvents, format: EventFormat): DecodeResult {
  const writer = new EventJsonWriter(packed.messageBytes * 1.1 + packed.count * 96);
  let timestampFallbacks = 0;
  if (format === "gelf") {
    forEachEvent(packed, (bytes, eventMs) => writer.add(crypto.randomUUID(), Math.floor(eventMs), bytes));
    return { events: writer.finish(), timestampFallbacks };
  }
  forEachEvent(packed, (bytes, receivedMs) => {
    const head = String.fromCharCode.apply(null, bytes.subarray(0, HEADER_BYTES) as unknown as number[]);
    let timestamp = parseSyslogTimestamp(head, receivedMs);
    if (timestamp === undefined) {
      timestamp = Math.floor(receivedMs);
      timestampFallbacks++;
    }
    writer.add(crypto.randomUUID(), timestamp, bytes);
  });
  return { events: writer.finish(), timestampFallbacks };
}

const encoder = new TextEncoder();

/**
 * Packs serialized events into compressed records of at most `maxRecordBytes` each, split
 * along event boundaries; every record is checked after compression, so none is oversize.
 *
 * @example
 * ```ts
 * const { records } = await buildRecords(header, encodeBatch(batch, batch.format).events, { compress: gzip });
 * ```
 */
export async function buildRecords(
  header: RecordHeader,
  events: EncodedEvents,
  options: BuildOptions,
): Promise<BuildResult> {
  const max = options.maxRecordBytes ?? MAX_RECORD_BYTES;
  const group = JSON.stringify(header.logGroup);
  const prefix = encoder.encode(
    `{"owner":${JSON.stringify(header.owner)},"logGroup":${group},"logStream":${
      JSON.stringify(header.logStream)
    },"subscriptionFilters":[${group}],"messageType":"DATA_MESSAGE","logEvents":[`,
  );
  const suffix = encoder.encode("]}");
  const { bytes, offsets } = events;
  const count = offsets.length - 1;
  const result: BuildResult = { records: [], oversizeEvents: 0, jsonBytes: 0, compressedBytes: 0 };

  const pack = async (from: number, to: number, estimate?: number): Promise<void> => {
    // Each event starts with a comma; the first of a record drops it.
    const body = bytes.subarray(offsets[from]! + 1, offsets[to]!);
    let compressed: number;
    if (estimate !== undefined && estimate * body.length > max && to - from > 1) {
      compressed = estimate * body.length; // cut by estimate, without compressing first
    } else {
      const data = await options.compress([prefix, body, suffix]);
      if (data.length <= max) {
        result.records.push({ data, events: to - from });
        result.jsonBytes += body.length;
        result.compressedBytes += data.length;
        return;
      }
      if (to - from === 1) {
        result.oversizeEvents++;
        return;
      }
      compressed = data.length;
    }
    const pieces = Math.min(to - from, Math.max(2, Math.ceil(compressed / (max * PIECE_FILL))));
    const target = body.length / pieces;
    const cuts: number[] = [];
    let size = 0;
    for (let i = from; i < to - 1; i++) {
      size += offsets[i + 1]! - offsets[i]!;
      if (size >= target) {
        cuts.push(i + 1);
        size = 0;
      }
    }
    // No cut found (one event dominates): halve, which always progresses.
    if (cuts.length === 0) cuts.push(from + Math.floor((to - from) / 2));
    let start = from;
    for (const cut of [...cuts, to]) {
      await pack(start, cut);
      start = cut;
    }
  };

  if (count > 0) await pack(0, count, options.ratio);
  return result;
}

/**
 * Compresses the concatenation of `parts` into one gzip member with the web-standard
 * `CompressionStream`, written to directly (a `Blob` source measured 65% slower).
 */
export async function gzip(parts: readonly Uint8Array[]): Promise<Uint8Array> {
  const stream = new CompressionStream("gzip");
  const writer = stream.writable.getWriter();
  const written = (async () => {
    for (const part of parts) await writer.write(part as Uint8Array<ArrayBuffer>);
    await writer.close();
  })();
  const out = new Uint8Array(await new Response(stream.readable).arrayBuffer());
  await written;
  return out;
}
