import { MAX_RECORD_BYTES } from "../batch/record_builder.ts";

/** Default longest wait for one PutRecordBatch response (`--request-timeout`), in ms. */
export const DEFAULT_PUT_TIMEOUT_MS = 30_000;

/**
 * Error codes (of a call or of one record) that mean the service asks to slow down: Firehose's
 * per-record `ServiceUnavailableException` "Slow down", `ThrottlingException`,
 * `LimitExceededException`; Kinesis Data Streams' per-record
 * `ProvisionedThroughputExceededException` (a shard's quota) and `KMSThrottlingException`.
 */
export const THROTTLE_CODES = /throttl|slow ?down|serviceunavailable|limitexceeded|provisionedthroughputexceeded/i;

/**
 * Error codes of a failure that passes by itself: throttling, the service's own errors and
 * outages, timeouts, the network, and an unnamed `Error`. Any other code is a refusal that
 * needs the operator (AccessDenied, ResourceNotFound, no credentials, a directory that
 * cannot be written): see {@linkcode isRefusal}.
 */
const TRANSIENT_CODES =
  /throttl|slow ?down|serviceunavailable|limitexceeded|provisionedthroughputexceeded|internal|timeout|timedout|abort|^5\d\d$|^E(CONN|TIMEDOUT|PIPE|HOSTUNREACH|NETUNREACH|AI_AGAIN|NOTFOUND)|network|socket|interrupted|connectionreset|brokenpipe|^Error$|MissingResponse/i;

/**
 * Whether an error code (of a call or of one record) is a refusal: the sink says no to this
 * relay's records, and retrying will not help until the operator acts.
 *
 * @example
 * ```ts
 * isRefusal("AccessDeniedException"); // true
 * isRefusal("ServiceUnavailableException"); // false
 * ```
 */
export function isRefusal(code: string): boolean {
  return !TRANSIENT_CODES.test(code);
}

/**
 * The largest record for a stream shared by relays: a quarter of the smallest default quota's
 * second (1 MiB/s, a Firehose stream's or a Kinesis shard's). A record that is a stream's
 * whole second goes only when the service's bucket is full, which it never is while another
 * relay of a fleet sends smaller ones, and each refusal costs its whole upload. Records this
 * size cost what a 1 MB one does (Firehose bills in 5 KB steps, Kinesis in 25 KB PUT units;
 * the gzip window is 32 KiB; the calls are as few: 4 MiB each).
 */
export const SHARED_RECORD_BYTES = 262_144;

/** The owner of records when the account id cannot be had (and for local delivery). */
export const UNKNOWN_OWNER = "000000000000";

/** A record handed to a sink: its spool name and its bytes. */
export interface SinkRecord {
  /** Spool file name, unique; its last part is the record's partition key (`spool_dir.ts`'s `recordTag`). */
  name: string;
  /** The record bytes (one gzip member). */
  data: Uint8Array;
}

/** The outcome for one record of a batch. */
export type PutResult = { ok: true } | { ok: false; code: string; message: string };

/**
 * Where records go: Firehose (`firehose_sink.ts`), Kinesis Data Streams (`kinesis_sink.ts`) or
 * a local directory (`dir_sink.ts`).
 * `put` returns one result per record, in order, or throws {@linkcode SinkError} when the
 * whole call failed.
 */
export interface RecordSink {
  /** Delivers up to 500 records. */
  put(records: readonly SinkRecord[]): Promise<PutResult[]>;
  /** The largest record to make for this destination, in bytes (`MAX_RECORD_BYTES` when not given). */
  readonly recordBytes?: number;
  /** Releases connections; idempotent. */
  close(): void;
}

/** The largest record every one of `destinations` takes, in bytes (their `recordBytes`). */
export function largestRecord(destinations: readonly RecordSink[]): number {
  return Math.min(MAX_RECORD_BYTES, ...destinations.map((d) => d.recordBytes ?? MAX_RECORD_BYTES));
}

/** A whole call failed. */
export class SinkError extends Error {
  /**
   * Creates the error: `invalid` means the request was refused as malformed, `throttled` that
   * the service asked to slow down, `expiredCredentials` that the sink fetches new ones.
   */
  constructor(
    message: string,
    readonly code: string,
    readonly options: { invalid?: boolean; throttled?: boolean; expiredCredentials?: boolean } = {},
  ) {
    super(message);
    this.name = "SinkError";
  }
}
