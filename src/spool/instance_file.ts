/**
 * The relay instance of a spool directory: its id and how far its event sequence numbers went
 * (`batch/event_id.ts` says what they make). File `<spool>/instance`, one line:
 *
 * ```
 * KSI1 <instance id, 20 digits> <end of the numbers reserved>
 * ```
 *
 * Numbers are handed out from reservations of {@linkcode RESERVED_SEQUENCES}: the file says
 * where the reservation in use ends before any number of it is given, so numbers never repeat
 * after a crash (those reserved and not used are skipped). The next reservation is written
 * when half of the current one is used, in the background. Writes are atomic (temporary file,
 * fsync, rename, directory fsync); the file is read without following a symlink. A file that
 * is not the relay's (a symlink, damaged, oversize) is moved to the quarantine directory and a new
 * instance begins: ids stay unique, and only events replayed from the journal then get new ids.
 *
 * @module
 */
import { INSTANCE_ID_DIGITS, isInstanceId } from "../batch/event_id.ts";
import { moveAside, readOwnFile, type SetAside } from "./own_paths.ts";

/** The instance file's name in the spool directory. */
export const INSTANCE_FILE = "instance";
/** Sequence numbers reserved at a time: at 1,000,000 events/s, a reservation lasts 71 minutes. */
export const RESERVED_SEQUENCES = 2 ** 32;
/** The largest instance file read (one line). */
const MAX_FILE_BYTES = 256;
const LINE = /^KSI1 (\d{20}) (\d{1,16})\n$/;

/** Options of {@linkcode InstanceFile.open}. */
export interface InstanceFileOptions {
  /** The spool directory (it exists). */
  dir: string;
  /** Where a file that is not the relay's goes. */
  quarantineDir: string;
  /** Told of a failed write of the next reservation (it is tried again at the next number). */
  onError?: (error: string) => void;
}

/** Owns `<spool>/instance`: the instance id and the sequence numbers; see the module documentation. */
export class InstanceFile {
  /** The instance id, 20 decimal digits. */
  readonly id: string;
  /** What was found at open and moved to the quarantine directory. */
  readonly setAside: SetAside[];
  readonly #o: InstanceFileOptions;
  #next: number;
  /** End (exclusive) of the numbers the file reserves. */
  #end: number;
  #writing: Promise<void> | undefined;

  private constructor(o: InstanceFileOptions, id: string, next: number, setAside: SetAside[]) {
    this.#o = o;
    this.id = id;
    this.#next = next;
    this.#end = next;
    this.setAside = setAside;
  }

  /** Reads (or creates) the file and reserves the first numbers of this run. */
  static async open(o: InstanceFileOptions): Promise<InstanceFile> {
    const path = `${o.dir}/${INSTANCE_FILE}`;
    const setAside: SetAside[] = [];
    let found: RegExpExecArray | null = null;
    try {
      const info = await Deno.lstat(path);
      if (info.isSymlink || !info.isFile) {
        setAside.push(await moveAside(path, o.quarantineDir, info.isSymlink ? "symlink" : "not_regular"));
      } else if (info.size > MAX_FILE_BYTES) {
        setAside.push(await moveAside(path, o.quarantineDir, "oversize"));
      } else {
        found = LINE.exec(new TextDecoder().decode(await readOwnFile(path, MAX_FILE_BYTES)));
        if (found === null) setAside.push(await moveAside(path, o.quarantineDir, "foreign_name"));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const id = found?.[1] ?? newInstanceId();
    const instance = new InstanceFile(o, id, Number(found?.[2] ?? 0), setAside);
    await instance.#reserve();
    return instance;
  }

  /** The next sequence number to give (not taken). */
  get next(): number {
    return this.#next;
  }

  /** Takes `count` numbers from {@linkcode InstanceFile.next} on. */
  advance(count: number): void {
    this.#next += count;
    if (this.#end - this.#next < RESERVED_SEQUENCES / 2 && this.#writing === undefined) {
      this.#writing = this.#reserve().catch((error) => this.#o.onError?.((error as Error).message)).finally(() => {
        this.#writing = undefined;
      });
    }
  }

  /** Waits for a reservation being written (at shutdown). */
  async close(): Promise<void> {
    await this.#writing;
  }

  /** Writes the end of the next reservation, then takes it. */
  async #reserve(): Promise<void> {
    const end = Math.max(this.#end, this.#next) + RESERVED_SEQUENCES;
    if (end > Number.MAX_SAFE_INTEGER) throw new RangeError(`Cannot reserve sequence numbers past ${end}`);
    const path = `${this.#o.dir}/${INSTANCE_FILE}`;
    const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      await file.write(new TextEncoder().encode(`KSI1 ${this.id} ${end}\n`));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
    const dir = await Deno.open(this.#o.dir, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
    this.#end = end;
  }
}

/** 64 random bits as 20 decimal digits. */
function newInstanceId(): string {
  const [value] = crypto.getRandomValues(new BigUint64Array(1));
  const id = value!.toString().padStart(INSTANCE_ID_DIGITS, "0");
  if (!isInstanceId(id)) throw new Error(`instance id ${id} is not ${INSTANCE_ID_DIGITS} digits`);
  return id;
}
