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
 *   startup, never the records themselves. A write that fails removes its `.tmp` file.
 * - Nothing in the spool is followed out of it (`own_paths.ts`): entries are judged by
 *   `lstat`, records read with `O_NOFOLLOW`. An entry named like a record that the relay
 *   would not have written (a symlink, not a regular file, a name it does not make, empty or
 *   over 1,024,000 bytes) is moved to the quarantine directory when the spool is listed, so
 *   it neither blocks delivery nor counts toward `--spool-max-size`.
 *
 * @module
 */
import { MAX_RECORD_BYTES } from "../batch/record_builder.ts";
import { DEFAULT_SINK } from "../config/pipeline.ts";
import { moveAside, notRegular, ownDirectory, readOwnFile, type SetAside } from "./own_paths.ts";

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
  /** Events in the record, when known (records left by an earlier run learn it when checked). */
  events?: number;
}

/** Names the relay gives records: `<ms, 13 digits>-<sequence>-<8 hex digits>.json.gz`. */
const RECORD_NAME = /^\d{13}-\d{9,}-[0-9a-f]{8}\.json\.gz$/;

/** What {@linkcode SpoolDir.list} found. */
export interface SpoolListing {
  /** Complete records, oldest first. */
  records: SpoolEntry[];
  /** Entries named like records that the relay did not write, now in the quarantine directory. */
  setAside: SetAside[];
}

/** Where a sink's records are spooled: the spool directory for `default`, `sinks/<name>` in it for the others. */
export function sinkSpoolDir(spoolDir: string, sink: string): string {
  return sink === DEFAULT_SINK ? spoolDir : `${spoolDir}/sinks/${sink}`;
}

/**
 * Records waiting in the spool of sinks that `sinks` does not name (a sink a reload or an edit
 * of the file removed; `default`'s, at the top, once a file names other sinks): by sink name,
 * those with any. They are not delivered until a sink of that name is configured again.
 */
export async function unconfiguredSpools(
  spoolDir: string,
  sinks: readonly string[],
): Promise<{ sink: string; records: number }[]> {
  const count = async (dir: string) => {
    let records = 0;
    for await (const item of Deno.readDir(dir)) if (item.isFile && RECORD_NAME.test(item.name)) records++;
    return records;
  };
  const found: { sink: string; records: number }[] = [];
  const names = [DEFAULT_SINK];
  try {
    for await (const item of Deno.readDir(`${spoolDir}/sinks`)) if (item.isDirectory) names.push(item.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const sink of names) {
    if (sinks.includes(sink)) continue;
    const records = await count(sinkSpoolDir(spoolDir, sink));
    if (records > 0) found.push({ sink, records });
  }
  return found;
}

let sequence = 0;

/** When a record was spooled, in ms since the epoch, read from its file name; `undefined` for a foreign name. */
export function recordCreatedMs(name: string): number | undefined {
  const match = /^(\d{13})-/.exec(name);
  return match === null ? undefined : Number(match[1]);
}

/**
 * The last part of a record's name: 8 hex digits, random, or for a Kinesis data stream sink
 * keyed by source the source's {@linkcode sourceTag}. It is the record's partition key, so a
 * record sent again after a restart goes to the shard it was made for.
 */
export function recordTag(name: string): string {
  return /-([0-9a-f]{8})\.json\.gz$/.exec(name)?.[1] ?? "00000000";
}

/** Eight random hex digits. */
export function randomTag(): string {
  return crypto.randomUUID().slice(0, 8);
}

/**
 * The tag of a source's records: its address hashed (FNV-1a, 32 bits) to 8 hex digits, the
 * same in every run and on every relay of a fleet.
 *
 * @example
 * ```ts
 * sourceTag("192.0.2.1") === sourceTag("192.0.2.1"); // true
 * ```
 */
export function sourceTag(source: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < source.length; i++) hash = Math.imul(hash ^ source.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, "0");
}

/** Owns one spool directory: atomic writes, listing, deletion and quarantine. */
export class SpoolDir {
  /** Creates a handle; call {@linkcode SpoolDir.prepare} before use. */
  constructor(readonly dir: string) {}

  /**
   * Creates the directory (and its quarantine), removes leftover temporary files, and
   * proves it is writable; throws with the path and the cause when it is not.
   */
  async prepare(): Promise<SetAside[]> {
    try {
      await Deno.mkdir(this.dir, { recursive: true });
      const quarantine = await ownDirectory(`${this.dir}/${QUARANTINE_DIR}`);
      for await (const item of Deno.readDir(this.dir)) {
        // A symlink named like a temporary file is removed as a link: its target is untouched.
        if ((item.isFile || item.isSymlink) && item.name.endsWith(TMP_SUFFIX)) {
          await Deno.remove(`${this.dir}/${item.name}`);
        }
      }
      await this.probe();
      return quarantine === undefined ? [] : [quarantine];
    } catch (error) {
      throw new Error(`Cannot use spool directory '${this.dir}': ${(error as Error).message}`);
    }
  }

  /**
   * Writes records atomically (temporary name, fsync, rename, one directory fsync), their
   * names ending in `tag` ({@linkcode recordTag}; random when not given).
   */
  async write(records: readonly Uint8Array[], tag?: string): Promise<SpoolEntry[]> {
    const entries: SpoolEntry[] = [];
    for (const data of records) {
      const name = `${String(Date.now()).padStart(13, "0")}-${String(sequence++).padStart(9, "0")}-${
        tag ?? randomTag()
      }${RECORD_SUFFIX}`;
      const tmp = `${this.dir}/${name}${TMP_SUFFIX}`;
      const file = await Deno.open(tmp, { write: true, createNew: true });
      try {
        try {
          let written = 0;
          while (written < data.length) written += await file.write(data.subarray(written));
          await file.sync();
        } finally {
          file.close();
        }
        await Deno.rename(tmp, `${this.dir}/${name}`);
      } catch (error) {
        // A full or failing disk: the half-written file must not stay (the write is retried).
        await Deno.remove(tmp).catch(() => {});
        throw error;
      }
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

  /**
   * Complete records, oldest first; entries named like records that the relay would not have
   * written are moved to the quarantine directory and reported.
   */
  async list(): Promise<SpoolListing> {
    const records: SpoolEntry[] = [];
    const setAside: SetAside[] = [];
    for await (const item of Deno.readDir(this.dir)) {
      if (!item.name.endsWith(RECORD_SUFFIX)) continue;
      const path = `${this.dir}/${item.name}`;
      try {
        const info = await Deno.lstat(path);
        const reason = notRegular(info) ??
          (!RECORD_NAME.test(item.name)
            ? "foreign_name"
            : info.size === 0
            ? "empty"
            : info.size > MAX_RECORD_BYTES
            ? "oversize"
            : undefined);
        if (reason === undefined) records.push({ name: item.name, bytes: info.size });
        else setAside.push(await moveAside(path, `${this.dir}/${QUARANTINE_DIR}`, reason));
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { records, setAside };
  }

  /** The bytes of one record, never through a symlink; throws for a file larger than a record. */
  read(name: string): Promise<Uint8Array> {
    return readOwnFile(`${this.dir}/${name}`, MAX_RECORD_BYTES);
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
