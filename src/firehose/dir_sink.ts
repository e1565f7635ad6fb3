import type { PutResult, RecordSink, SinkRecord } from "./record_sink.ts";

/**
 * Local delivery (`--output-dir`): each record becomes one file holding exactly the bytes
 * Firehose would receive, written atomically (temporary name, fsync, rename).
 */
export class DirSink implements RecordSink {
  /** Creates a sink writing into `dir`, which must exist. */
  constructor(readonly dir: string) {}

  /**
   * Makes `dir` if it is missing and writes and removes a file in it, as a record would be
   * written; throws why it cannot be used.
   */
  static async prepare(dir: string): Promise<DirSink> {
    await Deno.mkdir(dir, { recursive: true });
    const probe = `${dir}/.probe-${crypto.randomUUID()}.tmp`;
    await Deno.writeFile(probe, new Uint8Array(0));
    await Deno.remove(probe);
    return new DirSink(dir);
  }

  /** Writes each record as `<dir>/<spool name>`. */
  async put(records: readonly SinkRecord[]): Promise<PutResult[]> {
    const results: PutResult[] = [];
    for (const record of records) {
      const final = `${this.dir}/${record.name}`;
      const tmp = `${final}.tmp`;
      try {
        const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
        try {
          let written = 0;
          while (written < record.data.length) written += await file.write(record.data.subarray(written));
          await file.sync();
        } finally {
          file.close();
        }
        await Deno.rename(tmp, final);
        results.push({ ok: true });
      } catch (error) {
        results.push({ ok: false, code: (error as Error).name, message: (error as Error).message });
      }
    }
    return results;
  }

  /** Nothing to release. */
  close(): void {}
}
