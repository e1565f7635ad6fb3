import { cwlFormat } from "./cwl_format.ts";
import { kplFormat } from "./kpl_format.ts";
import { ndjsonFormat } from "./ndjson_format.ts";
import type { RecordFormat } from "./record_format.ts";
import type { RecordFormatName } from "../config/pipeline.ts";

export type { RecordFormatName };

/** Every record format, by its `--record-format` name. */
export const RECORD_FORMATS = { cwl: cwlFormat, ndjson: ndjsonFormat, kpl: kplFormat } as const satisfies Record<
  RecordFormatName,
  RecordFormat
>;
