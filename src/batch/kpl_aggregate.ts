/**
 * The KPL aggregated record format, which the Kinesis Producer Library writes and the Kinesis
 * Client Library, the Lambda deaggregation modules and Firehose (for a Kinesis data stream
 * source) read: the magic bytes `F3 89 9A C2`, a protocol buffers `AggregatedRecord`, and the
 * MD5 digest of that message
 * (https://github.com/awslabs/amazon-kinesis-producer/blob/master/aggregation-format.md):
 *
 * ```proto
 * message AggregatedRecord {
 *   repeated string partition_key_table     = 1;
 *   repeated string explicit_hash_key_table = 2;
 *   repeated Record records                 = 3;
 * }
 * message Record {
 *   required uint64 partition_key_index     = 1;
 *   optional uint64 explicit_hash_key_index = 2;
 *   required bytes  data                    = 3;
 *   repeated Tag    tags                    = 4;
 * }
 * ```
 *
 * The relay writes one partition key per record (the record's own: its user records land on
 * the shard the record does, which the KCL checks) and no explicit hash keys or tags, as
 * pieces that the record builder streams: {@linkcode kplOpen}, a
 * {@linkcode kplUserRecordHeader} before each user record's data, {@linkcode KPL_DIGEST_BYTES}
 * of room, then {@linkcode sealKpl} writes the digest. The reader takes any such record.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** The four bytes every aggregated record starts with. */
export const KPL_MAGIC: Uint8Array = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);
/** The MD5 digest that ends an aggregated record. */
export const KPL_DIGEST_BYTES = 16;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Bytes of `value` as a protocol buffers varint. */
function varintLength(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

function putVarint(out: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}

/** The start of an aggregated record whose user records all have `partitionKey`: magic, the key table. */
export function kplOpen(partitionKey: string): Uint8Array {
  const key = encoder.encode(partitionKey);
  const out = new Uint8Array(KPL_MAGIC.length + 1 + varintLength(key.length) + key.length);
  out.set(KPL_MAGIC);
  // Field 1 (partition_key_table), length-delimited.
  const at = putVarint(out, KPL_MAGIC.length + 1, key.length);
  out[KPL_MAGIC.length] = 0x0a;
  out.set(key, at);
  return out;
}

/** What comes before a user record's `dataLength` bytes of data: its field tag and length, key index 0, data's tag and length. */
export function kplUserRecordHeader(dataLength: number): Uint8Array {
  // Record { partition_key_index (field 1, varint) = 0; data (field 3, bytes) }
  const body = 2 + 1 + varintLength(dataLength) + dataLength;
  const out = new Uint8Array(1 + varintLength(body) + 2 + 1 + varintLength(dataLength));
  out[0] = 0x1a;
  let at = putVarint(out, 1, body);
  out[at++] = 0x08;
  out[at++] = 0x00;
  out[at++] = 0x1a;
  putVarint(out, at, dataLength);
  return out;
}

/** Writes the digest into the last {@linkcode KPL_DIGEST_BYTES} of a record built with room for it; returns the record. */
export function sealKpl(record: Uint8Array): Uint8Array {
  const end = record.length - KPL_DIGEST_BYTES;
  record.set(createHash("md5").update(record.subarray(KPL_MAGIC.length, end)).digest(), end);
  return record;
}

/** Whether `bytes` start as an aggregated record. */
export function isKplRecord(bytes: Uint8Array): boolean {
  return bytes.length >= KPL_MAGIC.length && KPL_MAGIC.every((b, i) => bytes[i] === b);
}

/** One user record of an aggregated record. */
export interface KplUserRecord {
  partitionKey: string;
  data: Uint8Array;
}

/** An aggregated record that cannot be read: what is wrong with it. */
export class KplRecordError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "KplRecordError";
  }
}

/**
 * The user records of an aggregated record, after checking its digest; throws
 * {@linkcode KplRecordError} when it is not one or is damaged.
 */
export function kplUserRecords(bytes: Uint8Array): KplUserRecord[] {
  if (!isKplRecord(bytes) || bytes.length < KPL_MAGIC.length + KPL_DIGEST_BYTES) {
    throw new KplRecordError("not a KPL aggregated record (no magic bytes)");
  }
  const end = bytes.length - KPL_DIGEST_BYTES;
  const message = bytes.subarray(KPL_MAGIC.length, end);
  const digest = createHash("md5").update(message).digest();
  if (!digest.equals(bytes.subarray(end))) throw new KplRecordError("its MD5 digest does not match");
  const keys: string[] = [];
  const pending: { key: number; data: Uint8Array }[] = [];
  forEachField(message, (field, value) => {
    if (field === 1 && value instanceof Uint8Array) keys.push(decoder.decode(value));
    else if (field === 3 && value instanceof Uint8Array) {
      let key = -1;
      let data: Uint8Array | undefined;
      forEachField(value, (f, v) => {
        if (f === 1 && typeof v === "number") key = v;
        else if (f === 3 && v instanceof Uint8Array) data = v;
      });
      if (key < 0 || data === undefined) throw new KplRecordError("a user record lacks its key index or data");
      pending.push({ key, data });
    }
  });
  return pending.map(({ key, data }) => {
    const partitionKey = keys[key];
    if (partitionKey === undefined) throw new KplRecordError(`a user record's key index ${key} is past the table`);
    return { partitionKey, data };
  });
}

/** Calls `each` with every field of a protocol buffers message: varints as numbers, length-delimited ones as bytes. */
function forEachField(bytes: Uint8Array, each: (field: number, value: number | Uint8Array) => void): void {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (at >= bytes.length || scale > 2 ** 56) throw new KplRecordError("a varint runs past the message");
      const b = bytes[at++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
  };
  while (at < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    switch (tag & 7) {
      case 0:
        each(field, varint());
        break;
      case 2: {
        const length = varint();
        if (at + length > bytes.length) throw new KplRecordError("a field runs past the message");
        each(field, bytes.subarray(at, at + length));
        at += length;
        break;
      }
      case 1:
        at += 8;
        break;
      case 5:
        at += 4;
        break;
      default:
        throw new KplRecordError(`wire type ${tag & 7} is not one an aggregated record has`);
    }
  }
  if (at !== bytes.length) throw new KplRecordError("a field runs past the message");
}

/** The user records of a KPL aggregated record as NDJSON text: each one's data and a newline. */
export function kplText(data: Uint8Array): Uint8Array {
  const records = kplUserRecords(data);
  const out = new Uint8Array(records.reduce((n, r) => n + r.data.length + 1, 0));
  let at = 0;
  for (const r of records) {
    out.set(r.data, at);
    at += r.data.length;
    out[at++] = 0x0a;
  }
  return out;
}
