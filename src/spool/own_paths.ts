/**
 * Paths inside the spool that the relay owns and never follows out of it. Anyone who can
 * write the spool directory could plant a symlink named like a journal segment, a record or
 * the quarantine directory; followed, it would let the relay truncate, overwrite, move or
 * send a file elsewhere. So entries are judged with `lstat`, files are read with
 * `O_NOFOLLOW` (through `node:fs`: `Deno.open` has no such flag), and created with
 * `createNew` (`O_EXCL`, which never follows a symlink either). What is not the relay's is
 * set aside, not deleted: someone may want to see it.
 *
 * @module
 */
import { constants, promises as fs } from "node:fs";

/** Every reason an entry in the spool is found not to be the relay's (`kinesyslog_foreign_files_total{reason}`). */
export const FOREIGN_REASONS = ["symlink", "not_regular", "foreign_name", "oversize", "empty"] as const;
/** Why a directory entry in the spool is not the relay's. */
export type ForeignReason = typeof FOREIGN_REASONS[number];

/** An entry set aside, for the caller to count and log. */
export interface SetAside {
  /** The entry's path as found. */
  path: string;
  /** Where it was moved. */
  movedTo: string;
  /** Why. */
  reason: ForeignReason;
}

/** Why an entry found with `lstat` is not a regular file, or `undefined` when it is one. */
export function notRegular(info: Deno.FileInfo): ForeignReason | undefined {
  if (info.isSymlink) return "symlink";
  return info.isFile ? undefined : "not_regular";
}

/**
 * Makes `path` a directory of the relay's own: created when missing; an entry of that name
 * that is not a directory (a symlink to one included) is moved aside to
 * `<path>.foreign-<ms>` first. Returns what was set aside.
 */
export async function ownDirectory(path: string): Promise<SetAside | undefined> {
  let setAside: SetAside | undefined;
  try {
    const info = await Deno.lstat(path);
    if (info.isDirectory) return undefined;
    const movedTo = `${path}.foreign-${Date.now()}`;
    await Deno.rename(path, movedTo);
    setAside = { path, movedTo, reason: info.isSymlink ? "symlink" : "not_regular" };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const parent = path.slice(0, path.lastIndexOf("/"));
  if (parent !== "") await Deno.mkdir(parent, { recursive: true });
  // Not recursive: should an entry appear under this name meanwhile, this fails instead of using it.
  await Deno.mkdir(path);
  return setAside;
}

/**
 * Reads a whole regular file without following a symlink; throws when `path` is a symlink
 * (`ELOOP`), and without reading it when the file holds more than `maxBytes`.
 */
export async function readOwnFile(path: string, maxBytes: number): Promise<Uint8Array> {
  const handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) throw new RangeError(`${size} bytes, more than the ${maxBytes} it may hold`);
    const data = new Uint8Array(size);
    let read = 0;
    while (read < size) {
      const { bytesRead } = await handle.read(data, read, size - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return read === size ? data : data.subarray(0, read);
  } finally {
    await handle.close();
  }
}

/** Moves an entry (never what a symlink points to) into `dir` under a name that says why. */
export async function moveAside(path: string, dir: string, reason: ForeignReason): Promise<SetAside> {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const movedTo = `${dir}/${reason}-${Date.now()}-${base}`;
  await Deno.rename(path, movedTo);
  return { path, movedTo, reason };
}
