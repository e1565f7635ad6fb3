/**
 * Checks a spooled record left by an earlier run before it is sent: a file damaged on disk
 * (a torn copy, a bad sector, a stray file) must be set aside, not sent to Firehose, where it
 * would land in S3 as an object nobody can read. Records this run wrote are not checked:
 * they were written atomically and fsynced.
 *
 * @module
 */
import { gunzipSync } from "node:zlib";
import { textEvents } from "../decode/record_events.ts";
import { JsonTextSplitter } from "../decode/json_text_stream.ts";
import { isKplRecord, kplText } from "../batch/kpl_aggregate.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Why `data` is not a whole record, or the number of its events when it is: one gzip member
 * with a good CRC (or, with `--record-compression none`, plain bytes; or a KPL aggregated
 * record with a good digest, its user records taken out), UTF-8, and JSON of one record format (`batch/record_format.ts`): one CWL record object, or NDJSON event lines.
 *
 * @example
 * ```ts
 * checkRecord(new TextEncoder().encode("not gzip")); // { damage: "not a record: ..." }
 * ```
 */
export function checkRecord(data: Uint8Array): { damage: string } | { events: number } {
  let json = data;
  if (isKplRecord(data)) {
    try {
      json = kplText(data);
    } catch (error) {
      return { damage: `not a KPL aggregated record: ${(error as Error).message}` };
    }
  } else if (data[0] === 0x1f && data[1] === 0x8b) {
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
  }
  let text: string;
  try {
    text = decoder.decode(json);
  } catch {
    return { damage: "not UTF-8 text" };
  }
  try {
    const splitter = new JsonTextSplitter();
    const texts = splitter.push(text);
    splitter.end();
    if (texts.length === 0) return { damage: "not a record: no JSON in it" };
    let events = 0;
    const formats = new Set<string>();
    for (const t of texts) {
      const read = textEvents(t);
      formats.add(read.format);
      events += read.events.length;
    }
    if (formats.size > 1 || (formats.has("cwl") && texts.length > 1)) {
      return { damage: "not a record: more than one record, or formats mixed" };
    }
    return { events };
  } catch (error) {
    return { damage: `not a record: ${(error as Error).message}` };
  }
}
