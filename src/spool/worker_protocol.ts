import type { Batch } from "../batch/batcher.ts";
import type { RecordCompression, RecordFormatName } from "../config/pipeline.ts";

export type { RecordCompression };
import type { SpoolEntry } from "./spool_dir.ts";

/** What the spool worker makes of one sink's batches, and where it writes them. */
export interface WorkerSink {
  spoolDir: string;
  compressionLevel: number;
  recordFormat: RecordFormatName;
  recordCompression: RecordCompression;
  /** The largest record to make, in bytes (what the sink's destinations take). */
  maxRecordBytes: number;
  /** Records are tagged (and so keyed) by their source address instead of at random (`--partition-key source`). */
  partitionBySource?: boolean;
}

/** Messages from the main thread to the spool worker. */
export type ToWorker =
  | {
    type: "init";
    /** By the sink's index (a batch's `sink`). */
    sinks: WorkerSink[];
    /** The relay's instance id, the first part of every event id. */
    instance: string;
  }
  /** Every sink's records from the next batch on (a reload added or changed one). */
  | { type: "sinks"; sinks: WorkerSink[] }
  | { type: "owner"; owner: string }
  | ({ type: "batch"; id: number; byteLength: number } & Omit<Batch, "runs">)
  | { type: "drain"; id: number };

/** Messages from the spool worker to the main thread. */
export type FromWorker =
  | {
    type: "spooled";
    id: number;
    /** The sink whose spool directory holds the records. */
    sink: number;
    entries: SpoolEntry[];
    /** Raw bytes of the batch, to release its share of the backlog. */
    byteLength: number;
    /** Events in the records. */
    events: number;
    timestampFallbacks: number;
    oversizeEvents: number;
    /** Compressed record bytes per raw message byte of the events in the records. */
    compressedPerRawByte: number;
    /** Events handed back to be batched again (their chunks are transferred). */
    carried: Omit<Batch, "carry" | "runs"> | undefined;
  }
  | { type: "failed"; id: number; byteLength: number; events: number; error: string }
  | { type: "drained"; id: number }
  /** Writing a record failed; the worker retries until it succeeds. */
  | { type: "spool_error"; error: string; attempt: number };
