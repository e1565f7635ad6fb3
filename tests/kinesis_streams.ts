/**
 * The Kinesis Data Streams part of the tests' local endpoint (`firehose_endpoint.ts` routes
 * `X-Amz-Target: Kinesis_20131202.*` here): `PutRecords` and `DescribeStreamSummary` in the
 * JSON protocol the real SDK speaks, with the service's limits
 * (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html): 500 records
 * and 5 MiB a call, 1 MiB a record with its partition key, keys of 1 to 256 characters. Each
 * record goes to the shard whose hash key range holds the MD5 of its partition key (shards
 * split the 128-bit range evenly, as `CreateStream` does), and each shard meters its quota
 * (1 MiB/s and 1,000 records/s by default, one second's burst): a record past it fails alone
 * with `ProvisionedThroughputExceededException`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { QuotaBucket } from "./quota_bucket.ts";

/** PutRecords' limits. */
export const KINESIS_LIMITS = { records: 500, callBytes: 5 * 1_048_576, recordBytes: 1_048_576 } as const;
/** A provisioned shard's write quota. */
export const SHARD_QUOTA = { bytesPerSecond: 1_048_576, recordsPerSecond: 1_000 } as const;

/** A record a shard accepted. */
export interface KinesisRecord {
  stream: string;
  shard: number;
  partitionKey: string;
  data: Uint8Array;
  sequenceNumber: string;
  /** `performance.now()` when accepted. */
  at: number;
}

interface Shard {
  bytes: QuotaBucket;
  records: QuotaBucket;
}

interface Stream {
  shards: Shard[];
  mode: "PROVISIONED" | "ON_DEMAND";
}

const TWO_128 = 1n << 128n;

/** The shard of `count` (evenly split hash key ranges) that `partitionKey` maps to. */
export function shardOf(partitionKey: string, count: number): number {
  const hash = BigInt(`0x${createHash("md5").update(partitionKey, "utf8").digest("hex")}`);
  return Number((hash * BigInt(count)) / TWO_128);
}

/** The endpoint's Kinesis data streams. */
export class KinesisStreams {
  readonly #streams = new Map<string, Stream>();
  /** Accepted records, in order (while {@linkcode KinesisStreams.retain}). */
  readonly records: KinesisRecord[] = [];
  /** Whether accepted records are kept (a benchmark keeps only their count and bytes). */
  retain = true;
  /** Records and bytes (data and keys) accepted. */
  readonly accepted = { records: 0, bytes: 0 };
  /** Calls and records, by outcome. */
  readonly calls = { ok: 0, invalid: 0, records: 0, throttledRecords: 0 };
  /** `DescribeStreamSummary` calls, by stream name. */
  readonly describes: string[] = [];
  #sequence = 0n;

  /** Makes a stream of `shards` shards, each metered at `quota` (a provisioned shard's by default). */
  addStream(
    name: string,
    options: { shards?: number; mode?: Stream["mode"]; quota?: { bytesPerSecond: number; recordsPerSecond: number } } =
      {},
  ): this {
    const quota = options.quota ?? SHARD_QUOTA;
    const shards = Array.from({ length: options.shards ?? 1 }, () => ({
      bytes: new QuotaBucket(quota.bytesPerSecond),
      records: new QuotaBucket(quota.recordsPerSecond),
    }));
    this.#streams.set(name, { shards, mode: options.mode ?? "PROVISIONED" });
    return this;
  }

  /** Bytes per second (data and keys) that `shard` of `stream` accepted between two `performance.now()` readings. */
  acceptedRate(stream: string, shard: number, from: number, to: number): number {
    let bytes = 0;
    for (const r of this.records) {
      if (r.stream === stream && r.shard === shard && r.at >= from && r.at < to) {
        bytes += r.data.length + r.partitionKey.length;
      }
    }
    return bytes / ((to - from) / 1000);
  }

  /** Answers one call. */
  handle(target: string, body: string): Response {
    const input = JSON.parse(body) as {
      StreamName?: string;
      StreamARN?: string;
      Records?: { Data?: string; PartitionKey?: string }[];
    };
    const name = input.StreamName ?? input.StreamARN?.replace(/^arn:[^:]+:kinesis:[^:]*:\d*:stream\//, "") ?? "";
    const stream = this.#streams.get(name);
    if (target === "Kinesis_20131202.DescribeStreamSummary") {
      this.describes.push(name);
      if (stream === undefined) return notFound(name);
      return json({
        StreamDescriptionSummary: {
          StreamName: name,
          StreamARN: `arn:aws:kinesis:us-east-1:123456789012:stream/${name}`,
          StreamStatus: "ACTIVE",
          StreamModeDetails: { StreamMode: stream.mode },
          RetentionPeriodHours: 24,
          StreamCreationTimestamp: 1_700_000_000,
          EnhancedMonitoring: [],
          EncryptionType: "NONE",
          OpenShardCount: stream.shards.length,
          ConsumerCount: 0,
        },
      });
    }
    if (target !== "Kinesis_20131202.PutRecords") {
      return error(400, "UnknownOperationException", `unsupported target ${target}`);
    }
    if (stream === undefined) return notFound(name);
    const records = (input.Records ?? []).map((r) => ({
      key: r.PartitionKey ?? "",
      data: new Uint8Array(Buffer.from(r.Data ?? "", "base64")),
    }));
    const total = records.reduce((n, r) => n + r.data.length + r.key.length, 0);
    const invalid = records.length === 0 || records.length > KINESIS_LIMITS.records
      ? `${records.length} records`
      : total > KINESIS_LIMITS.callBytes
      ? `${total} bytes in one call`
      : records.some((r) => r.data.length + r.key.length > KINESIS_LIMITS.recordBytes)
      ? "a record over 1 MiB"
      : records.some((r) => r.key.length < 1 || r.key.length > 256)
      ? "a partition key not of 1 to 256 characters"
      : undefined;
    if (invalid !== undefined) {
      this.calls.invalid++;
      return error(400, "ValidationException", `Invalid PutRecords: ${invalid}`);
    }
    this.calls.ok++;
    let failed = 0;
    const answers = records.map(({ key, data }) => {
      this.calls.records++;
      const shard = shardOf(key, stream.shards.length);
      const quota = stream.shards[shard]!;
      if (!(quota.records.take(1) && (quota.bytes.take(data.length + key.length) || quota.records.give(1)))) {
        failed++;
        this.calls.throttledRecords++;
        return {
          ErrorCode: "ProvisionedThroughputExceededException",
          ErrorMessage: `Rate exceeded for shard shardId-${String(shard).padStart(12, "0")} in stream ${name} ` +
            "under account 123456789012.",
        };
      }
      const sequenceNumber = String(++this.#sequence).padStart(56, "4");
      this.accepted.records++;
      this.accepted.bytes += data.length + key.length;
      if (this.retain) {
        this.records.push({ stream: name, shard, partitionKey: key, data, sequenceNumber, at: performance.now() });
      }
      return { SequenceNumber: sequenceNumber, ShardId: `shardId-${String(shard).padStart(12, "0")}` };
    });
    return json({ FailedRecordCount: failed, Records: answers, EncryptionType: "NONE" });
  }
}

function json(value: unknown): Response {
  return Response.json(value, { headers: { "content-type": "application/x-amz-json-1.1" } });
}

function notFound(name: string): Response {
  return error(400, "ResourceNotFoundException", `Stream ${name} under account 123456789012 not found.`);
}

function error(status: number, type: string, message: string): Response {
  return Response.json({ __type: type, message }, {
    status,
    headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": type },
  });
}
