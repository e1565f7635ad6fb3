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
 * Why `data` is not a whole record (gzip with a good CRC, UTF-8, JSON shaped like a record),
 * or `undefined` when it is.
 *
 * @example
 * ```ts
 * checkRecord(new TextEncoder().encode("not gzip")); // "not gzip: ..."
 * ```
 */
export function checkRecord(data: Uint8Array): string | undefined {
  let json: Uint8Array;
  try {
    json = gunzipSync(data);
  } catch (error) {
    return `not gzip: ${(error as Error).message}`;
  }
  let text: string;
  try {
    text = decoder.decode(json);
  } catch {
    return "not UTF-8 text";
  }
  try {
    recordEvents(text);
  } catch (error) {
    return `not a record: ${(error as Error).message}`;
  }
  return undefined;
}
