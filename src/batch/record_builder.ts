import { type EventFormat, EventIndex, type PackedEvents } from "./event_buffer.ts";
import { EventJsonWriter } from "./event_json.ts";
import { parseSyslogTimestamp } from "../parse/syslog_timestamp.ts";
import type { EventToWrite, RecordFormat } from "./record_format.ts";
import { cwlFormat } from "./cwl_format.ts";
import { eventOrigins, type EventRuns, eventRunsFrom, type EventStream, TRANSPORTS } from "./event_runs.ts";

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
  /** The relay's instance id (`event_id.ts`). */
  instance: string;
}

/** One compressed record and the number of events in it. */
export interface BuiltRecord {
  /** One gzip member holding the record's JSON. */
  data: Uint8Array;
  /** Events in the record. */
  events: number;
  /** Its partition key (`BuildOptions.partitionKey`), empty without one. */
  partitionKey: string;
}

/**
 * A gzip compressor for one record, fed in pieces. `spool/gzip_deflater.ts` implements it
 * with `node:zlib`; it is injected so this module stays free of runtime APIs.
 */
export interface Deflater {
  /**
   * Compresses `bytes` and flushes (a sync flush, which keeps the dictionary), so the result
   * is exact: the bytes of the member so far, header included.
   */
  write(bytes: Uint8Array): Promise<number>;
  /** Compresses `bytes` and ends the member; resolves to the whole member. */
  end(bytes: Uint8Array): Promise<Uint8Array>;
  /** Gives up on the member. */
  discard(): void;
}

/** What {@linkcode buildRecords} made of a batch. */
export interface BuildResult {
  /** Records, each at most `maxRecordBytes`, in event order. */
  records: BuiltRecord[];
  /** Events in the records. */
  events: number;
  /** Message bytes of the events in the records. */
  messageBytes: number;
  /** Compressed bytes of the records. */
  compressedBytes: number;
  /** Events that alone would make a record over the limit, dropped. */
  oversizeEvents: number;
  /** Events in the records whose timestamp could not be read; they carry the receive time. */
  timestampFallbacks: number;
  /** Events handed back because they would not fill a record (only with `carry`). */
  carried: (PackedEvents & { origins: EventRuns; streams: EventStream[] }) | undefined;
}

/** Options of {@linkcode buildRecords}. */
export interface BuildOptions {
  /** Makes the compressor of one record. */
  deflater: () => Deflater;
  /**
   * What a record is made of (`--record-format`).
   * @default {cwlFormat}
   */
  format?: RecordFormat;
  /**
   * Largest compressed record, in bytes.
   * @default {1024000}
   */
  maxRecordBytes?: number;
  /**
   * Hand back the events after the last full record when they would not fill one more, so
   * they join the next batch of their stream instead of making a small record. Only for
   * batches flushed because they were large; a flush by age or at shutdown packs everything.
   * @default {false}
   */
  carry?: boolean;
  /**
   * The partition key of the next record (Kinesis Data Streams), asked once per record: a
   * format that writes it (`kpl`) keys its user records so. None by default.
   */
  partitionKey?: () => string;
}

/**
 * Most uncompressed bytes given to the compressor at a time while a record has room. Smaller
 * pieces near the end of a record let it be filled closely; each piece costs one flush, which
 * ends a deflate block (the next one starts its own code tables) and writes 4 bytes: with
 * 64 KiB pieces a 256 KiB record of web access logs was 0.3% larger than with 256 KiB ones
 * (`deno task bench --bytes`). A record's first piece is at most half its limit, so that even
 * bytes that do not compress leave room after it.
 */
export const CHUNK_BYTES = 262_144;
/** Smallest piece given to the compressor near the end of a record. */
export const MIN_CHUNK_BYTES = 2_048;
/** A record with less room than this, in compressed bytes, is full and is ended. */
export const FULL_SLACK_BYTES = 8_192;
/** Room kept for the end of a record: `]}`, the final deflate block and the gzip trailer. */
export const END_RESERVE_BYTES = 64;

/**
 * Turns a batch of raw events (see `event_buffer.ts`) into compressed records of at most
 * `maxRecordBytes`, split along event boundaries and filled closely: events are serialized
 * (with their ids, the message verbatim, invalid UTF-8 replaced) and compressed in
 * pieces, each followed by a sync flush, so the compressed size is known as the record
 * grows; pieces shrink as the record fills, and it is ended when less than
 * {@linkcode FULL_SLACK_BYTES} of room is left. For `syslog` the event time is read from the
 * message (in the batch's time zone where it carries none) or falls back to the stored
 * receive time; for `gelf` the stored time is already
 * the event time. A piece that overshoots (data much less compressible than before) makes
 * the record be compressed again without it.
 *
 * @example
 * ```ts
 * const result = await buildRecords(header, batch, { deflater: () => new GzipDeflater() });
 * ```
 */
export async function buildRecords(
  header: RecordHeader,
  batch: PackedEvents & {
    format: EventFormat;
    origins?: EventRuns;
    streams?: EventStream[];
    timeZone?: string | undefined;
  },
  options: BuildOptions,
): Promise<BuildResult> {
  const max = options.maxRecordBytes ?? MAX_RECORD_BYTES;
  const limit = max - END_RESERVE_BYTES;
  const index = new EventIndex(batch);
  const count = index.count;
  const recordFormat = options.format ?? cwlFormat;
  const recordWriter = recordFormat.writer({ ...header, format: batch.format });
  const origins = batch.origins ?? [];
  const streams = batch.streams?.length ? batch.streams : [{ logGroup: header.logGroup, logStream: header.logStream }];
  const { sequences, transports, streams: streamOf } = eventOrigins(origins, count);
  const event: EventToWrite = {
    message: new Uint8Array(0),
    timestamp: 0,
    sequence: -1,
    transport: "unknown",
    logGroup: header.logGroup,
    logStream: header.logStream,
  };
  const nextKey = options.partitionKey ?? (() => "");
  const suffix = recordWriter.close;
  const result: BuildResult = {
    records: [],
    events: 0,
    messageBytes: 0,
    compressedBytes: 0,
    oversizeEvents: 0,
    timestampFallbacks: 0,
    carried: undefined,
  };
  // Sized for a piece (a small batch's whole JSON is less: a quiet source's batches are small).
  const writer = new EventJsonWriter(Math.min(CHUNK_BYTES, batch.messageBytes + 128 * count) + 4_096);
  /** Events that fell back to the receive time (set when serialized, counted when emitted). */
  const fallbacks = new Uint8Array(count);

  const serialize = (i: number, first: boolean): void => {
    const message = index.message(i);
    const stored = index.time(i);
    let timestamp: number | undefined = Math.floor(stored);
    if (batch.format === "syslog") {
      timestamp = parseSyslogTimestamp(message, stored, batch.timeZone);
      if (timestamp === undefined) {
        timestamp = Math.floor(stored);
        fallbacks[i] = 1;
      }
    }
    event.message = message;
    event.timestamp = timestamp;
    event.sequence = sequences[i]!;
    event.transport = TRANSPORTS[transports[i]!]!;
    const stream = streams[streamOf[i]!] ?? streams[0]!;
    event.logGroup = stream.logGroup;
    event.logStream = stream.logStream;
    recordWriter.write(writer, event, first);
  };

  const emit = (data: Uint8Array, from: number, to: number, partitionKey: string): void => {
    result.records.push({ data: recordFormat.seal?.(data) ?? data, events: to - from, partitionKey });
    result.events += to - from;
    result.messageBytes += index.messageBytes(from, to);
    result.compressedBytes += data.length;
    for (let i = from; i < to; i++) result.timestampFallbacks += fallbacks[i]!;
  };

  /**
   * Compresses events `from` to `to` in one go, dropping events from the end until the record
   * fits; returns where the next record starts.
   */
  const fitRange = async (from: number, to: number, key: string): Promise<number> => {
    for (;;) {
      writer.reset();
      writer.raw(recordWriter.open(key));
      for (let i = from; i < to; i++) serialize(i, i === from);
      writer.raw(suffix);
      const data = await options.deflater().end(writer.bytes());
      if (data.length <= max) {
        emit(data, from, to, key);
        return to;
      }
      if (to - from === 1) {
        result.oversizeEvents++;
        return to;
      }
      to = from + Math.max(1, Math.min(to - from - 1, Math.floor(((to - from) * max * 0.95) / data.length)));
    }
  };

  /** Builds one record from event `first` on; returns where the next record starts. */
  const packOne = async (first: number): Promise<number> => {
    const deflater = options.deflater();
    const key = nextKey();
    writer.reset();
    writer.raw(recordWriter.open(key));
    /** Events before this one are in the compressor. */
    let flushed = first;
    let raw = 0;
    let target = Math.min(CHUNK_BYTES, Math.floor(limit / 2));
    let i = first;
    while (i < count) {
      serialize(i, i === first);
      i++;
      if (writer.length < target && i < count) continue;
      const staged = writer.length;
      const compressed = await deflater.write(writer.bytes());
      writer.reset();
      if (compressed > limit) {
        deflater.discard();
        return await fitRange(first, flushed > first ? flushed : i, key);
      }
      raw += staged;
      flushed = i;
      const room = limit - compressed;
      if (room < FULL_SLACK_BYTES) break;
      // Aim the next piece at half the room left, at this record's compression so far.
      target = Math.min(CHUNK_BYTES, Math.max(MIN_CHUNK_BYTES, (room / 2) * (raw / compressed)));
    }
    writer.raw(suffix);
    const data = await deflater.end(writer.bytes());
    if (data.length > max) return await fitRange(first, i, key);
    emit(data, first, i, key);
    return i;
  };

  let next = 0;
  while (next < count) {
    if (options.carry && result.records.length > 0) {
      // What is left would not fill a record at this batch's compression: hand it back.
      const ratio = result.compressedBytes / Math.max(1, result.messageBytes);
      if (index.messageBytes(next, count) * ratio < limit - FULL_SLACK_BYTES) {
        result.carried = { ...index.copy(next, count), origins: eventRunsFrom(origins, next), streams };
        break;
      }
    }
    next = await packOne(next);
  }
  return result;
}
