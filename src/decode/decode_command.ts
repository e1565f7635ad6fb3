/**
 * `kinesyslog decode [FILES...]`: prints the events of record files, spool files, or objects
 * downloaded from the S3 destination, one JSON line per event: a CWL event with its record's
 * `logGroup` and `logStream`, an NDJSON event as it is (either record format, told apart per
 * JSON text, `batch/record_format.ts`); `--count` prints totals instead (records counts CWL
 * records; an NDJSON record is a text per event). It reads stdin when no file is given, and
 * every record file (`*.json.gz`) of a directory given (a spool, or its quarantine).
 *
 * Input may be gzip (one member per record, or an S3 object of many members concatenated),
 * gzip again on top (a Firehose stream that compresses S3 objects), or plain JSON (NDJSON
 * records with `--record-compression none`). A file
 * that cannot be read is reported on stderr with the record number, and the next file is
 * read; the exit code is 1 when anything could not be read.
 *
 * @module
 */
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { RECORD_SUFFIX } from "../spool/spool_dir.ts";
import { JsonTextStream } from "./json_text_stream.ts";
import { textEvents } from "./record_events.ts";
import { RECORD_FORMATS } from "../batch/record_formats.ts";

/** Options of `kinesyslog decode`. */
export interface DecodeOptions {
  /** Record files, S3 objects, or spool directories; none reads stdin. */
  files: string[];
  /** Print totals instead of events. */
  count: boolean;
}

/** Characters of output gathered before one write to stdout. */
const OUTPUT_BUFFER_CHARS = 65_536;
/** Layers of gzip taken off, at most (a record, and Firehose's own S3 compression). */
const MAX_GZIP_LAYERS = 2;

/** Where `decode` writes. */
export interface DecodeOutput {
  /** Writes to stdout; rejects with `Deno.errors.BrokenPipe` when the reader went away. */
  out: (text: string) => Promise<void>;
  /** Writes one line to stderr. */
  err: (line: string) => void;
}

/** Totals of one run. */
export interface DecodeTotals {
  files: number;
  records: number;
  events: number;
  errors: number;
}

interface Source {
  name: string;
  open: () => Promise<ReadableStream<Uint8Array>>;
}

/** Runs `decode`; resolves to the exit code. */
export async function decode(options: DecodeOptions, io: DecodeOutput): Promise<number> {
  const totals: DecodeTotals = { files: 0, records: 0, events: 0, errors: 0 };
  let pending = "";
  const flush = async () => {
    if (pending === "") return;
    const text = pending;
    pending = "";
    await io.out(text);
  };
  try {
    for await (const source of sources(options.files, io, totals)) {
      totals.files++;
      let record = 0;
      try {
        const texts = (await ungzip(await source.open(), MAX_GZIP_LAYERS))
          .pipeThrough(new TextDecoderStream())
          .pipeThrough(new JsonTextStream());
        for await (const text of texts) {
          record++;
          const { format, events } = textEvents(text);
          // A CWL record is one JSON text; an NDJSON one a text per event (not counted as records).
          if (RECORD_FORMATS[format].perRecord) totals.records++;
          totals.events += events.length;
          if (options.count) continue;
          for (const e of events) pending += JSON.stringify(e) + "\n";
          if (pending.length >= OUTPUT_BUFFER_CHARS) await flush();
        }
      } catch (error) {
        if (error instanceof Deno.errors.BrokenPipe) throw error;
        totals.errors++;
        io.err(`kinesyslog decode: ${source.name}: record ${record}: ${(error as Error).message}`);
      }
    }
    await flush();
    if (options.count) await io.out(JSON.stringify(totals) + "\n");
  } catch (error) {
    // `kinesyslog decode … | head`: the reader has what it wanted.
    if (error instanceof Deno.errors.BrokenPipe) return 0;
    throw error;
  }
  return totals.errors > 0 ? 1 : 0;
}

async function* sources(files: string[], io: DecodeOutput, totals: DecodeTotals): AsyncGenerator<Source> {
  if (files.length === 0) {
    yield { name: "stdin", open: () => Promise.resolve(Deno.stdin.readable) };
    return;
  }
  for (const path of files) {
    let names: string[] | undefined;
    try {
      if ((await Deno.stat(path)).isDirectory) {
        names = [];
        for await (const item of Deno.readDir(path)) {
          if (item.isFile && item.name.endsWith(RECORD_SUFFIX)) names.push(`${path}/${item.name}`);
        }
        names.sort();
      }
    } catch (error) {
      totals.errors++;
      io.err(`kinesyslog decode: ${path}: ${(error as Error).message}`);
      continue;
    }
    for (const name of names ?? [path]) {
      yield { name, open: async () => (await Deno.open(name, { read: true })).readable };
    }
  }
}

/** The bytes with up to `layers` of gzip taken off, detected by the gzip magic number. */
async function ungzip(input: ReadableStream<Uint8Array>, layers: number): Promise<ReadableStream<Uint8Array>> {
  const reader = input.getReader();
  let first: Uint8Array | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (value.length > 0) {
      first = value;
      break;
    }
  }
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first !== undefined) controller.enqueue(first);
    },
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  if (layers === 0 || first === undefined || first[0] !== 0x1f || (first.length > 1 && first[1] !== 0x8b)) return rest;
  // node:zlib, not DecompressionStream: the web stream refuses a second gzip member, and an
  // S3 object is many members.
  const gunzip = createGunzip();
  const source = Readable.fromWeb(rest as never).on("error", (error) => gunzip.destroy(error));
  const gunzipped = Readable.toWeb(source.pipe(gunzip)) as ReadableStream<Uint8Array>;
  return ungzip(gunzipped, layers - 1);
}
