/**
 * The spool: records waiting for delivery, one file per record.
 *
 * Design
 * - On disk: `<dir>/<ms>-<seq>-<rand>.json.gz`, each file exactly the bytes of one Firehose
 *   record (one gzip member of CloudWatch-Logs-shaped JSON, at most 1,024,000 bytes). The
 *   name starts with the creation time in ms, zero-padded, so sorting names sorts records
 *   oldest first, across restarts too.
 * - Writes are atomic: the record is written to `<name>.tmp`, fsynced, renamed to `<name>`,
 *   and the directory is fsynced. A file without `.tmp` is therefore always complete.
 * - A record's file is deleted only after Firehose returned a `RecordId` for it (or the local
 *   sink wrote it). A record Firehose rejects as invalid is moved to `<dir>/quarantine/`.
 * - Recovery: at startup, `*.tmp` files (a write cut short by a crash) are removed and every
 *   complete record is queued for delivery, oldest first. Only names and sizes are read at
 *   startup, never the records themselves.
 *
 * @module
 */

/** Suffix of a complete record file. */
export const RECORD_SUFFIX = ".json.gz";
const TMP_SUFFIX = ".tmp";
/** Subdirectory for records Firehose rejected as invalid. */
export const QUARANTINE_DIR = "quarantine";

/** A record file in the spool. */
export interface SpoolEntry {
  /** File name within the spool directory. */
  name: string;
  /** Size in bytes. */
  bytes: number;
}

let sequence = 0;

/** When a record was spooled, in ms since the epoch, read from its file name; `undefined` for a foreign name. */
export function recordCreatedMs(name: string): number | undefined {
  const match = /^(\d{13})-/.exec(name);
  return match === null ? undefined : Number(match[1]);
}

/** Owns one spool directory: atomic writes, listing, deletion and quarantine. */
export class SpoolDir {
  /** Creates a handle; call {@linkcode SpoolDir.prepare} before use. */
  constructor(readonly dir: string) {}

  /**
   * Creates the directory (and its quarantine), removes leftover temporary files, and
   * proves it is writable; throws with the path and the cause when it is not.
   */
  async prepare(): Promise<void> {
    try {
      await Deno.mkdir(`${this.dir}/${QUARANTINE_DIR}`, { recursive: true });
      for await (const item of Deno.readDir(this.dir)) {
        if (item.isFile && item.name.endsWith(TMP_SUFFIX)) await Deno.remove(`${this.dir}/${item.name}`);
      }
      await this.probe();
    } catch (error) {
      throw new Error(`Cannot use spool directory '${this.dir}': ${(error as Error).message}`);
    }
  }

  /** Writes records atomically (temporary name, fsync, rename, one directory fsync). */
  async write(records: readonly Uint8Array[]): Promise<SpoolEntry[]> {
    const entries: SpoolEntry[] = [];
    for (const data of records) {
      const name = `${String(Date.now()).padStart(13, "0")}-${String(sequence++).padStart(9, "0")}-${
        crypto.randomUUID().slice(0, 8)
      }${RECORD_SUFFIX}`;
      const tmp = `${this.dir}/${name}${TMP_SUFFIX}`;
      const file = await Deno.open(tmp, { write: true, createNew: true });
      try {
        let written = 0;
        while (written < data.length) written += await file.write(data.subarray(written));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(tmp, `${this.dir}/${name}`);
      entries.push({ name, bytes: data.length });
    }
    if (entries.length > 0) await this.#syncDir();
    return entries;
  }

  /** Creates and removes an empty file: throws when the directory cannot be written now. */
  async probe(): Promise<void> {
    const probe = `${this.dir}/.probe-${crypto.randomUUID()}${TMP_SUFFIX}`;
    await Deno.writeFile(probe, new Uint8Array(0));
    await Deno.remove(probe);
  }

  /** Complete records, oldest first. */
  async list(): Promise<SpoolEntry[]> {
    const entries: SpoolEntry[] = [];
    for await (const item of Deno.readDir(this.dir)) {
      if (!item.isFile || !item.name.endsWith(RECORD_SUFFIX)) continue;
      try {
        const info = await Deno.stat(`${this.dir}/${item.name}`);
        entries.push({ name: item.name, bytes: info.size });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The bytes of one record. */
  read(name: string): Promise<Uint8Array> {
    return Deno.readFile(`${this.dir}/${name}`);
  }

  /** Deletes a delivered record; a record already gone is not an error. */
  async remove(name: string): Promise<void> {
    try {
      await Deno.remove(`${this.dir}/${name}`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /** Moves a rejected record to the quarantine directory. */
  async quarantine(name: string): Promise<void> {
    await Deno.rename(`${this.dir}/${name}`, `${this.dir}/${QUARANTINE_DIR}/${name}`);
  }

  async #syncDir(): Promise<void> {
    const dir = await Deno.open(this.dir, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  }
}
