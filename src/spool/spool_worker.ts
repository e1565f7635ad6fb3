/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * The spool worker: turns batches of raw events into compressed records and writes them to
 * the spool, off the main thread. Batches are built one at a time, in arrival order; their
 * records are written with up to {@linkcode MAX_WRITES_IN_FLIGHT} batches' writes at once,
 * and each batch is reported once its records are durable.
 *
 * @module
 */
import { buildRecords, type Deflater } from "../batch/record_builder.ts";
import type { RecordFormat } from "../batch/record_format.ts";
import { RECORD_FORMATS } from "../batch/record_formats.ts";
import { PlainDeflater } from "../batch/plain_deflater.ts";
import { GzipDeflater } from "./gzip_deflater.ts";
import { randomTag, sourceTag, SpoolDir } from "./spool_dir.ts";
import { releaseBuffer } from "../release_buffer.ts";
import type { FromWorker, ToWorker, WorkerSink } from "./worker_protocol.ts";

/** What one sink's batches become, and where they are written. */
interface SinkOutput {
  spool: SpoolDir;
  format: RecordFormat;
  deflater: () => Deflater;
  maxRecordBytes: number;
  partitionBySource: boolean;
}

let sinks: SinkOutput[] = [];
let instance = "";
let resolveOwner: (owner: string) => void = () => {};
/** The records' owner: the first one given (batches wait for it), then the latest. */
let owner: string | Promise<string> = new Promise<string>((resolve) => (resolveOwner = resolve));
let queue: Promise<void> = Promise.resolve();

function reply(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

/**
 * Batches whose records are being written at once. Each record is fsynced with its directory;
 * fsyncs in flight together share the file system's journal commits. Measured here (ext4,
 * 400-byte records with their fsyncs): 2,017 records/s one at a time, 6,004/s eight at a time,
 * 6,965/s 32 at a time. A fleet of quiet senders makes one small record each.
 */
export const MAX_WRITES_IN_FLIGHT = 8;
/**
 * Record bytes being written at most before the next batch is built: small records (a fleet
 * of quiet senders) are written eight at a time, full ones one after the other, so the
 * worker never runs far ahead of the disk holding built records.
 */
export const MAX_WRITING_BYTES = 262_144;
const writing = new Set<Promise<void>>();
let writingBytes = 0;

/** Longest pause between attempts to write a record, in ms. */
const MAX_WRITE_RETRY_MS = 10_000;

/**
 * Writes one record, retrying until it succeeds (a full or read-only disk). Meanwhile the
 * main thread sees the backlog grow and applies back-pressure; nothing is dropped here.
 */
async function writeWithRetry(dir: SpoolDir, data: Uint8Array, tag: string) {
  for (let attempt = 1;; attempt++) {
    try {
      return await dir.write([data], tag);
    } catch (error) {
      reply({ type: "spool_error", error: (error as Error).message, attempt });
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt, MAX_WRITE_RETRY_MS)));
    }
  }
}

/** What each sink's batches become, by the sink's index. */
function outputsOf(specs: readonly WorkerSink[]): SinkOutput[] {
  return specs.map((sink) => ({
    spool: new SpoolDir(sink.spoolDir),
    format: RECORD_FORMATS[sink.recordFormat],
    maxRecordBytes: sink.maxRecordBytes,
    partitionBySource: sink.partitionBySource === true,
    deflater: sink.recordCompression === "none" || !RECORD_FORMATS[sink.recordFormat].compressible
      ? () => new PlainDeflater()
      : () => new GzipDeflater(sink.compressionLevel),
  }));
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case "init":
      instance = message.instance;
      sinks = outputsOf(message.sinks);
      return;
    case "sinks":
      sinks = outputsOf(message.sinks);
      return;
    case "owner":
      resolveOwner(message.owner);
      owner = message.owner;
      return;
    case "drain":
      await Promise.all(writing);
      reply({ type: "drained", id: message.id });
      return;
    case "batch": {
      try {
        const output = sinks[message.sink];
        if (output === undefined) throw new Error(`spool worker has no sink ${message.sink}`);
        const header = { owner: await owner, logGroup: message.logGroup, logStream: message.logStream, instance };
        // Each record's tag is its partition key: its source's, or one at random.
        const tag = output.partitionBySource ? sourceTag(message.logStream) : undefined;
        const built = await buildRecords(header, message, {
          deflater: output.deflater,
          format: output.format,
          carry: message.carry,
          maxRecordBytes: output.maxRecordBytes,
          partitionKey: tag === undefined ? randomTag : () => tag,
        });
        // Built (what is carried over was copied): the batch's chunks are freed now, not at
        // V8's next full collection (`release_buffer.ts`).
        for (const chunk of message.chunks) releaseBuffer(chunk);
        const dir = output.spool;
        // What the reply needs, and not the batch's raw chunks: they are garbage once built.
        const { id, byteLength, count, firstAt } = message;
        const { sink, sinkName, format, logGroup, logStream, timeZone } = message;
        const bytes = built.records.reduce((sum, r) => sum + r.data.length, 0);
        const write = (async () => {
          const entries = [];
          try {
            for (const record of built.records) {
              for (const entry of await writeWithRetry(dir, record.data, record.partitionKey)) {
                entries.push({ ...entry, events: record.events });
              }
              releaseBuffer(record.data);
            }
            const carried = built.carried &&
              { ...built.carried, sink, sinkName, format, logGroup, logStream, timeZone, firstAt };
            reply({
              type: "spooled",
              id,
              sink,
              entries,
              byteLength,
              events: built.events,
              timestampFallbacks: built.timestampFallbacks,
              oversizeEvents: built.oversizeEvents,
              compressedPerRawByte: built.messageBytes > 0 ? built.compressedBytes / built.messageBytes : 0,
              carried,
            }, carried?.chunks ?? []);
          } catch (error) {
            failed({ id, byteLength, count }, error);
          } finally {
            writingBytes -= bytes;
          }
        })();
        writing.add(write);
        writingBytes += bytes;
        void write.finally(() => writing.delete(write));
        while (writing.size >= MAX_WRITES_IN_FLIGHT || writingBytes > MAX_WRITING_BYTES) {
          await Promise.race(writing);
        }
      } catch (error) {
        failed(message, error);
      }
    }
  }
}

function failed(
  message: Pick<Extract<ToWorker, { type: "batch" }>, "id" | "byteLength" | "count">,
  error: unknown,
): void {
  reply({
    type: "failed",
    id: message.id,
    byteLength: message.byteLength,
    events: message.count,
    error: (error as Error).message,
  });
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  // owner and init take effect at once; the rest keep their order.
  if (message.type === "owner" || message.type === "init") {
    void handle(message);
    return;
  }
  queue = queue.then(() => handle(message));
};
