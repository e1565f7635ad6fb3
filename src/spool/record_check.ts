/**
 * Checks a spooled record left by an earlier run before it is sent: a file damaged on disk
 * (a torn copy, a bad sector, a stray file) must be set aside, not sent to Firehose, where it
 * would land in S3 as an object nobody can read. Records this run wrote are not checked:
 * they were written atomically and fsynced.
 *
 * @module
 */
import { gunzipSync } from "node:zlib";
import { recordEvents } from "../decode/record_events.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Why `data` is not a whole record (one gzip member with a good CRC, UTF-8, JSON shaped like
 * a record), or the number of its events when it is.
 *
 * @example
 * ```ts
 * checkRecord(new TextEncoder().encode("not gzip")); // { damage: "not gzip: ..." }
 * ```
 */
export function checkRecord(data: Uint8Array): { damage: string } | { events: number } {
  let json: Uint8Array;
  try {
    json = gunzipSync(data);
  } catch (error) {
    return { damage: `not gzip: ${(error as Error).message}` };
  }
  // gunzip reads members one after another; the relay writes exactly one. The last member's
  // trailer holds its own length (mod 2^32): when it is not the whole length, there were more.
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint32(data.length - 4, true) !== json.length % 2 ** 32) {
    return { damage: "not one gzip member: more data follows its end" };
  }
  let text: string;
  try {
    text = decoder.decode(json);
  } catch {
    return { damage: "not UTF-8 text" };
  }
  try {
    return { events: recordEvents(text).length };
  } catch (error) {
    return { damage: `not a record: ${(error as Error).message}` };
  }
}
