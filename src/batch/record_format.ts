/**
 * The seam between events and a record's bytes: a record format is chosen once
 * (`--record-format`) and is all that the spool worker (build), the check of records left by
 * an earlier run, `kinesyslog decode` and the tests' Firehose endpoint (read) know of it.
 * `cwl_format.ts`, `ndjson_format.ts` and `kpl_format.ts` are the three; a new format is a new
 * file and a line in {@linkcode RECORD_FORMATS}.
 *
 * Reading does not need to be told the format: every record is JSON texts (CWL: one object
 * per record; NDJSON: one object per event; KPL: NDJSON events as the user records of an
 * aggregated record, taken out first), and each format says which texts are its own, so a
 * spool or an S3 object written under any format reads the same way.
 *
 * @module
 */
import type { EventFormat, Transport } from "./event_buffer.ts";
import type { EventJsonWriter } from "./event_json.ts";

/** What a record is made for: the fields shared by all its events. */
export interface RecordContext {
  /** AWS account id, or `000000000000`. */
  owner: string;
  /** `<prefix>/<syslog|gelf>/<port>`. */
  logGroup: string;
  /** The source address. */
  logStream: string;
  /** What the events are. */
  format: EventFormat;
  /** The relay's instance id (the first part of every event id: `event_id.ts`). */
  instance: string;
}

/** One event as a record writer is given it (reused from event to event: copy what is kept). */
export interface EventToWrite {
  /** The raw message. */
  message: Uint8Array;
  /** The event time in ms. */
  timestamp: number;
  /** Its sequence number (with the instance id, its id), or -1 when it has none. */
  sequence: number;
  /** How it arrived. */
  transport: Transport;
  /** Its log group: the context's, unless the record format carries each event's source. */
  logGroup: string;
  /** Its log stream (source), likewise. */
  logStream: string;
}

/** Writes the events of records of one context. */
export interface RecordWriter {
  /** Bytes that open a record whose partition key is `partitionKey` (`kpl` writes it; the others need none). */
  open(partitionKey: string): Uint8Array;
  /** Bytes that close a record. */
  readonly close: Uint8Array;
  /** Appends one event (`first`: the record's first). */
  write(writer: EventJsonWriter, event: EventToWrite, first: boolean): void;
}

/** A decoded event: CWL's `{logGroup, logStream, id, timestamp, message}`, or an NDJSON object. */
export type DecodedEvent = Record<string, unknown> & { timestamp: number; message: string };

/** A record format; see the module documentation. */
export interface RecordFormat {
  /** `--record-format` value. */
  readonly name: string;
  /** The writer of records for `context`. */
  writer(context: RecordContext): RecordWriter;
  /**
   * The events of one JSON value read from a record, when the value is this format's (else
   * undefined). Throws `RecordShapeError` for a value of this format that is malformed.
   */
  events(value: Record<string, unknown>): DecodedEvent[] | undefined;
  /** Whether one JSON value of this format is a whole record (CWL) or one event of one (NDJSON). */
  readonly perRecord: boolean;
  /**
   * Whether each event carries its own source and port (NDJSON), so that one record may hold
   * the events of many sources; otherwise a record is one (log group, log stream)'s (CWL).
   */
  readonly eventsCarrySource: boolean;
  /**
   * Whether records may be gzip compressed (`--record-compression`); `kpl` records never
   * are: Kinesis consumers read their user records first.
   */
  readonly compressible: boolean;
  /** Finishes a whole uncompressed record in place (`kpl` writes its digest into the room `close` left); returns it. */
  seal?(record: Uint8Array): Uint8Array;
}

/** A JSON text that is not a kinesyslog record or event. */
export class RecordShapeError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "RecordShapeError";
  }
}
