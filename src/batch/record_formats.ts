import { cwlFormat } from "./cwl_format.ts";
import { ndjsonFormat } from "./ndjson_format.ts";
import type { RecordFormat } from "./record_format.ts";

/** Every record format, by its `--record-format` name. */
export const RECORD_FORMATS = { cwl: cwlFormat, ndjson: ndjsonFormat } as const satisfies Record<string, RecordFormat>;

/** A `--record-format` value. */
export type RecordFormatName = keyof typeof RECORD_FORMATS;
