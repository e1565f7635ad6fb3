/**
 * The journal: every accepted message is appended here before it waits in memory, so a
 * crash (`kill -9`, OOM, power cut) loses at most what was received in the last fsync
 * interval.
 *
 * Design
 * - Segments `<journal dir>/<number>.ksj`, written sequentially (`journal_format.ts`).
 *   Messages are encoded into a memory buffer and written when it holds 256 KiB or every
 *   100 ms, and fsynced every `--fsync-interval`: `kill -9` loses at most the last 100 ms (a
 *   written byte is in the kernel's page cache), a power cut at most the last fsync
 *   interval. A write that fails (a full
 *   disk) is retried with backoff; meanwhile the bytes waiting grow and the relay's
 *   back-pressure stops intake (`pressure.ts`).
 * - Each segment counts its events not yet in the spool. Buffers and batches carry the
 *   segments of their events (`journal_runs.ts`); once a batch's records are in the spool
 *   (written and fsynced), {@linkcode Journal.release} lowers the counts, and a segment that
 *   is closed and has none left is deleted. A segment is closed at 8 MiB or 5 s.
 * - After a crash, the segments left over are replayed at startup (by the relay, through
 *   {@linkcode Journal.readLeftover}): their messages go into the buffers again, and into
 *   the new journal; the old segment is deleted once the new one is fsynced. A segment that
 *   is torn or damaged is replayed up to the damage and then moved to quarantine.
 * - A clean shutdown spools everything, so every segment is deleted and none is replayed.
 *
 * Replay can deliver a message twice: events of a segment that were already spooled are
 * replayed with the rest (delivery is at least once).
 *
 * @module
 */
import { type BlockKey, BlockWriter, type DecodedSegment, decodeSegment, SEGMENT_MAGIC } from "./journal_format.ts";
import type { Runs } from "./journal_runs.ts";
import { moveAside, notRegular, ownDirectory, readOwnFile, type SetAside } from "../spool/own_paths.ts";
import { timerDelay } from "../timer.ts";

/** Default `--fsync-interval`, in ms. */
export const DEFAULT_FSYNC_INTERVAL_MS = 1_000;
/** A segment is closed once it holds this many bytes. */
export const SEGMENT_BYTES = 8 * 1_048_576;
/** A segment is closed once it is this old (ms), so a quiet relay's segments are deleted too. */
export const SEGMENT_AGE_MS = 5_000;
/** Bytes encoded in memory that trigger a write (without fsync). */
export const WRITE_BYTES = 262_144;
/**
 * Encoded bytes are written at least this often (ms), fsync or not: a written byte survives
 * the death of the process (it is in the kernel's page cache), so `kill -9` loses at most
 * this much, and only a power cut loses up to the fsync interval.
 */
export const WRITE_INTERVAL_MS = 100;
/** Bytes of closed segments past which the relay flushes the buffers that hold them. */
export const JOURNAL_FLUSH_BYTES = 64 * 1_048_576;
/** A leftover segment larger than this is not read but quarantined (it is not ours). */
export const MAX_LEFTOVER_BYTES = 256 * 1_048_576;
/** Suffix of segment files. */
export const SEGMENT_SUFFIX = ".ksj";
/** Longest wait at shutdown for the last write and fsync, in ms. */
export const CLOSE_TIMEOUT_MS = 5_000;
/** The writer's spare chunks are let go after this long without anything to write, in ms. */
const SPARES_IDLE_MS = 10_000;
/** Longest pause between attempts to write, in ms. */
const MAX_RETRY_MS = 5_000;

/** Bytes taken from the writer on their way to a segment; see `Journal.#unwritten`. */
interface Unwritten {
  segment: Segment;
  /** What the writer handed out, handed back once written. */
  parts: Uint8Array[];
  /** The part being written, and how much of it is. */
  index: number;
  offset: number;
  /** Bytes of the parts not yet written. */
  bytes: number;
}

/** Options of {@linkcode Journal.open}. */
export interface JournalOptions {
  /** The journal directory (created). */
  dir: string;
  /** Where damaged segments are moved (created). */
  quarantineDir: string;
  /** How often written bytes are fsynced, in ms. @default {1000} */
  fsyncIntervalMs?: number;
  /** Size at which a segment is closed. @default {SEGMENT_BYTES} */
  segmentBytes?: number;
  /** Age at which a segment is closed, in ms. @default {SEGMENT_AGE_MS} */
  segmentAgeMs?: number;
  /** Told of every failed write or fsync (the journal retries). */
  onError?: (error: string, attempt: number) => void;
  /** The clock, in ms. @default {Date.now} */
  now?: () => number;
}

interface Segment {
  number: number;
  name: string;
  /** Open for writing; created with the first bytes written to the segment. */
  file: Deno.FsFile | undefined;
  bytes: number;
  /** Written since the last fsync. */
  unsynced: boolean;
  /** Events not yet in the spool. */
  held: number;
  openedAt: number;
  /** Clock reading when it was closed; undefined while written to. */
  closedAt: number | undefined;
}

/** Owns the journal directory; see the module documentation. */
export class Journal {
  readonly #o: Required<Omit<JournalOptions, "onError">> & Pick<JournalOptions, "onError">;
  readonly #segments = new Map<number, Segment>();
  readonly #writer = new BlockWriter();
  /** The segment the writer's bytes belong to: blocks ended now are attributed to it. */
  #current!: Segment;
  /**
   * Bytes taken from the writer and not yet written, and their segment (kept across a failed
   * write); see {@linkcode Unwritten}.
   */
  #unwritten: Unwritten | undefined;
  /** Segments closed for new blocks whose last bytes, fsync or file close are still due. */
  readonly #closing: Segment[] = [];
  #io: Promise<void> | undefined;
  #wantSync = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastSync = 0;
  /** When the writer last held bytes at a tick. */
  #lastBusy = 0;
  /** Deletions of released segments under way. */
  readonly #deleting = new Set<Promise<void>>();
  #closed = false;
  /** Close the current segment at the next write, whatever its size and age. */
  #closeNow = false;
  /** Nothing is written while set: the journal gave its space to the spool ({@linkcode Journal.shed}). */
  #suspended = false;
  /** The segments still open are to be deleted by the write loop, between two writes. */
  #shedOpen = false;
  /** Bytes freed by the write loop's part of a shed. */
  #shedFreed = 0;
  #diskBytes = 0;
  /** Bytes written to segments since open, in all (positions for {@linkcode Journal.durable}). */
  #writtenTotal = 0;
  /** Of {@linkcode Journal.#writtenTotal}, the bytes also fsynced. */
  #syncedTotal = 0;
  /** Bytes taken from the writer since open (written or on their way). */
  #takenTotal = 0;
  /** Who waits for bytes to be written (`fsync` false) or fsynced, in the order they asked. */
  readonly #waiters: { upTo: number; fsync: boolean; resolve: () => void }[] = [];
  #waitKick = false;
  /** Names of the segments left by the previous run, oldest first, to replay. */
  readonly leftovers: string[];
  /**
   * Entries named like segments (or the journal directory itself) that the relay did not
   * write, found at open and moved to the quarantine directory: never followed or truncated.
   */
  readonly setAside: SetAside[] = [];

  private constructor(options: JournalOptions, leftovers: string[]) {
    this.#o = {
      fsyncIntervalMs: DEFAULT_FSYNC_INTERVAL_MS,
      segmentBytes: SEGMENT_BYTES,
      segmentAgeMs: SEGMENT_AGE_MS,
      now: Date.now,
      ...options,
    };
    this.leftovers = leftovers;
  }

  /** Creates the directories, lists the leftover segments, and starts a new segment. */
  static async open(options: JournalOptions): Promise<Journal> {
    await Deno.mkdir(options.quarantineDir, { recursive: true });
    const setAside: SetAside[] = [];
    const dir = await ownDirectory(options.dir);
    if (dir !== undefined) setAside.push(dir);
    const names: string[] = [];
    let last = 0;
    for await (const item of Deno.readDir(options.dir)) {
      if (!SEGMENT_NAME.test(item.name)) continue;
      // Numbers go on after every name found, planted ones too.
      last = Math.max(last, parseInt(item.name, 10));
      const path = `${options.dir}/${item.name}`;
      const reason = notRegular(await Deno.lstat(path));
      if (reason === undefined) names.push(item.name);
      else setAside.push(await moveAside(path, options.quarantineDir, reason));
    }
    names.sort();
    const journal = new Journal(options, names);
    journal.setAside.push(...setAside);
    journal.#current = journal.#allocate(last + 1);
    journal.#lastSync = journal.#o.now();
    journal.#wakeUp();
    return journal;
  }

  /** Starts the write timer (it stops itself once there is nothing to write, sync or rotate). */
  #wakeUp(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const tick = Math.min(WRITE_INTERVAL_MS, this.#o.fsyncIntervalMs);
    this.#timer = setInterval(() => void this.#tick(), timerDelay(tick));
  }

  /**
   * Whether a tick has nothing to do now or later: nothing held, written unsynced or closing,
   * the current segment empty (nothing to rotate by age), spare buffers released.
   */
  #idle(now: number): boolean {
    const c = this.#current;
    return this.#writer.length === 0 && this.#unwritten === undefined && this.#io === undefined &&
      this.#closing.length === 0 && c.bytes === 0 && !c.unsynced && this.#waiters.length === 0 &&
      now - this.#lastBusy >= SPARES_IDLE_MS;
  }

  /** Opens a block of messages of `key` (one sink's (log group, log stream), arrived one way). */
  begin(key: BlockKey): void {
    this.#wakeUp();
    this.#writer.begin(key);
  }

  /** Adds one message to the open block. */
  add(message: Uint8Array, timeMs: number): void {
    this.#writer.add(message, timeMs);
  }

  /** Adds `count` messages already in the entries' form to the open block. */
  addEntries(entries: Uint8Array, count: number): void {
    this.#writer.addEntries(entries, count);
  }

  /**
   * Closes the block; returns the segment its messages are in and their number. They are
   * held until {@linkcode Journal.release}d.
   */
  end(): { segment: number; count: number } {
    const count = this.#writer.end();
    this.#current.held += count;
    if (this.#writer.length >= WRITE_BYTES && !this.#suspended) void this.#kick(false).catch(() => {});
    return { segment: this.#current.number, count };
  }

  /**
   * Resolves once every block ended so far is written to its segment (so that the death of
   * the process loses none of it), or also fsynced when `fsync` is true (so that a power cut
   * does not either). A write is started at once rather than at the next tick; the writes
   * asked for within one turn of the event loop are one. While the disk refuses writes the
   * promise waits (the journal retries); {@linkcode Journal.close} ends every wait.
   */
  durable(fsync: boolean): Promise<void> {
    const upTo = this.#takenTotal + this.#writer.length;
    if (upTo <= (fsync ? this.#syncedTotal : this.#writtenTotal) || this.#closed) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ upTo, fsync, resolve });
    if (!this.#waitKick) {
      this.#waitKick = true;
      setTimeout(() => {
        this.#waitKick = false;
        if (!this.#closed) void this.#kick(this.#waiters.some((w) => w.fsync)).catch(() => {});
      }, 0);
    }
    return promise;
  }

  /** Resolves the waits that the bytes written (and fsynced) so far satisfy. */
  #wake(): void {
    let kept = 0;
    for (const w of this.#waiters) {
      if (w.upTo <= (w.fsync ? this.#syncedTotal : this.#writtenTotal) || this.#closed) w.resolve();
      else this.#waiters[kept++] = w;
    }
    this.#waiters.length = kept;
  }

  /** The events of `runs` are in the spool (or were dropped and counted): their segments may go. */
  release(runs: Runs): void {
    for (let i = 0; i < runs.length; i += 2) {
      const segment = this.#segments.get(runs[i]!);
      if (segment === undefined) continue;
      segment.held -= runs[i + 1]!;
      if (segment.held <= 0 && segment.closedAt !== undefined) {
        const deleting = this.#delete(segment);
        this.#deleting.add(deleting);
        void deleting.finally(() => this.#deleting.delete(deleting));
      }
    }
  }

  /** Bytes encoded and not yet written (the relay bounds them with back-pressure). */
  get backlogBytes(): number {
    return this.#writer.length + (this.#unwritten?.bytes ?? 0);
  }

  /** Bytes of the journal's segments on disk. */
  get diskBytes(): number {
    return this.#diskBytes;
  }

  /**
   * When the oldest closed segment still holding events was closed, if closed segments hold
   * more than {@linkcode JOURNAL_FLUSH_BYTES}: buffers older than this should be flushed.
   */
  flushBefore(): number | undefined {
    let closedBytes = 0;
    let oldest: number | undefined;
    for (const s of this.#segments.values()) {
      if (s.closedAt === undefined) continue;
      closedBytes += s.bytes;
      oldest = oldest === undefined ? s.closedAt : Math.min(oldest, s.closedAt);
    }
    return closedBytes > JOURNAL_FLUSH_BYTES ? oldest : undefined;
  }

  /** Writes and fsyncs everything encoded so far; resolves when it is durable and released segments are gone. */
  async sync(): Promise<void> {
    await this.#kick(true);
    await Promise.all(this.#deleting);
  }

  /** Reads a leftover segment (a damaged one decodes up to the damage). */
  async readLeftover(name: string): Promise<DecodedSegment & { bytes: number }> {
    let data: Uint8Array;
    try {
      data = await readOwnFile(`${this.#o.dir}/${name}`, MAX_LEFTOVER_BYTES);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      return { blocks: [], goodBytes: 0, damage: `${error.message}: not a segment`, bytes: 0 };
    }
    return { ...decodeSegment(data), bytes: data.length };
  }

  /**
   * Retires a replayed leftover: deleted, or moved to the quarantine directory when it was
   * damaged. Call after {@linkcode Journal.sync}, so its messages are in the new journal.
   */
  async retire(name: string, damaged: boolean): Promise<void> {
    const path = `${this.#o.dir}/${name}`;
    if (damaged) await Deno.rename(path, `${this.#o.quarantineDir}/journal-${this.#o.now()}-${name}`);
    else await Deno.remove(path);
  }

  /**
   * Gives the journal's space to the spool: a way out when the disk is full and the spool
   * cannot write the records the journal's segments wait for (without it, a journal that
   * filled the disk holds itself there for good). Every segment's file is deleted, the one
   * being written too, and what was not written yet is let go; the counts are kept. Every
   * event accepted so far is then in memory only, on its way to the spool: a crash before it
   * is spooled loses it. Then nothing is written until {@linkcode Journal.resume} (once the
   * spool has written again), so that the journal does not take the space freed first; the
   * bytes encoded meanwhile wait, and their growing backlog holds intake back. Returns the
   * bytes freed.
   */
  async shed(): Promise<number> {
    this.#suspended = true;
    let freed = 0;
    for (const s of this.#segments.values()) {
      if (s.closedAt === undefined || s.bytes === 0) continue;
      freed += await this.#removeFile(s);
    }
    // A segment still open may be in the middle of a write: the write loop deletes it between two.
    this.#shedOpen = true;
    while (this.#shedOpen && !this.#closed) await this.#kick(false).catch(() => {});
    freed += this.#shedFreed;
    this.#shedFreed = 0;
    return freed;
  }

  /** Whether writes wait for {@linkcode Journal.resume} after a {@linkcode Journal.shed}. */
  get suspended(): boolean {
    return this.#suspended;
  }

  /** Writes again after {@linkcode Journal.shed}: the spool could write a record. */
  resume(): void {
    if (!this.#suspended) return;
    this.#suspended = false;
    this.#wakeUp();
    void this.#kick(true).catch(() => {});
  }

  /** Deletes a segment's file, keeping its count; returns the bytes freed. */
  async #removeFile(s: Segment): Promise<number> {
    try {
      await Deno.remove(`${this.#o.dir}/${s.name}`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        this.#o.onError?.((error as Error).message, 1);
        return 0;
      }
    }
    const freed = s.bytes;
    this.#diskBytes -= freed;
    s.bytes = 0;
    return freed;
  }

  /**
   * The write loop's part of {@linkcode Journal.shed}: the segments still open are closed and
   * their files deleted, and the bytes not written yet (taken, or still in the writer) are let
   * go, their positions counted as done so that no {@linkcode Journal.durable} waits for
   * them. A new segment takes the blocks ended from now on.
   */
  async #shedOpenSegments(): Promise<void> {
    this.#shedOpen = false;
    if (this.#unwritten !== undefined) this.#writer.recycle(this.#unwritten.parts);
    this.#unwritten = undefined;
    const parts = this.#writer.take();
    for (const part of parts) this.#takenTotal += part.length;
    this.#writer.recycle(parts);
    this.#writtenTotal = this.#syncedTotal = this.#takenTotal;
    const open = [...this.#closing, this.#current];
    this.#closing.length = 0;
    this.#current = this.#allocate(this.#current.number + 1);
    for (const s of open) {
      s.file?.close();
      s.file = undefined;
      s.unsynced = false;
      s.closedAt ??= this.#o.now();
      if (s.bytes > 0) this.#shedFreed += await this.#removeFile(s);
      if (s.held <= 0) await this.#delete(s);
    }
    this.#wake();
  }

  /**
   * Stops: writes and fsyncs what is encoded (unless every event is in the spool), and
   * deletes the segments whose events are all in the spool. Segments still holding events
   * stay, to be replayed at the next start.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    this.#suspended = false;
    const pending = [...this.#segments.values()].some((s) => s.held > 0);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)));
    // A disk that keeps failing must not hold the shutdown: what is not written is lost then.
    await Promise.race([(pending ? this.sync() : this.#io ?? Promise.resolve()).catch(() => {}), deadline]);
    clearTimeout(timer);
    this.#closed = true;
    this.#wake();
    for (const s of [...this.#segments.values()]) {
      s.file?.close();
      s.file = undefined;
      s.closedAt ??= this.#o.now();
      if (s.held <= 0) await this.#delete(s);
    }
  }

  async #tick(): Promise<void> {
    if (this.#closed || this.#suspended) return;
    const now = this.#o.now();
    const sync = now - this.#lastSync >= this.#o.fsyncIntervalMs;
    if (this.#writer.length > 0) this.#lastBusy = now;
    else if (now - this.#lastBusy >= SPARES_IDLE_MS) this.#writer.releaseSpares();
    if (this.#idle(now)) {
      // An idle relay sleeps: the next block starts the timer again.
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (sync) this.#lastSync = now;
    else if (this.#writer.length === 0) return;
    try {
      await this.#kick(sync);
    } catch { /* reported through onError */ }
  }

  /** Starts (or joins) the write loop. */
  #kick(sync: boolean): Promise<void> {
    this.#wantSync ||= sync;
    this.#io ??= this.#writeLoop().finally(() => {
      this.#io = undefined;
      // Blocks ended while the loop was fsyncing are written now if someone waits for them.
      if (this.#waiters.length > 0 && !this.#closed && !this.#suspended) {
        void this.#kick(this.#waiters.some((w) => w.fsync)).catch(() => {});
      }
    });
    return this.#io;
  }

  async #writeLoop(): Promise<void> {
    for (let attempt = 0;;) {
      try {
        if (this.#shedOpen) await this.#shedOpenSegments();
        if (this.#suspended) return;
        await this.#writeAll();
        if (this.#wantSync || this.#current.bytes >= this.#o.segmentBytes) {
          this.#wantSync = false;
          if (this.#rotationDue()) this.#rotate();
          await this.#writeAll();
          const upTo = this.#writtenTotal;
          while (this.#closing.length > 0) {
            const s = this.#closing[0]!;
            if (s.unsynced) await s.file!.sync();
            s.unsynced = false;
            s.file?.close();
            s.file = undefined;
            s.closedAt = this.#o.now();
            this.#closing.shift();
            if (s.held <= 0) await this.#delete(s);
          }
          const current = this.#current;
          if (current.unsynced) {
            await current.file!.sync();
            current.unsynced = false;
          }
          this.#syncedTotal = upTo;
          this.#wake();
        }
        return;
      } catch (error) {
        this.#wantSync = true;
        this.#o.onError?.((error as Error).message, ++attempt);
        if (this.#closed) return;
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, MAX_RETRY_MS)));
      }
    }
  }

  /** Writes what was taken, then what the writer holds, each to its segment. */
  async #writeAll(): Promise<void> {
    for (;;) {
      if (this.#unwritten === undefined) {
        // A full segment is closed before more is written (by the write loop), however fast
        // blocks come: a journal of one endless segment could never be deleted.
        if (this.#writer.length === 0 || this.#suspended || this.#current.bytes >= this.#o.segmentBytes) return;
        this.#unwritten = this.#take(this.#current);
      }
      const w = this.#unwritten;
      const segment = w.segment;
      segment.file ??= await this.#create(segment);
      while (w.index < w.parts.length) {
        const part = w.parts[w.index]!;
        const n = await segment.file.write(part.subarray(w.offset));
        w.offset += n;
        w.bytes -= n;
        if (w.offset === part.length) {
          w.index++;
          w.offset = 0;
        }
        segment.bytes += n;
        this.#diskBytes += n;
        this.#writtenTotal += n;
        segment.unsynced = true;
      }
      this.#writer.recycle(w.parts);
      this.#unwritten = undefined;
      this.#wake();
    }
  }

  /** Takes the writer's closed blocks, to be written to `segment`. */
  #take(segment: Segment): Unwritten {
    const parts = this.#writer.take();
    const bytes = parts.reduce((sum, part) => sum + part.length, 0);
    this.#takenTotal += bytes;
    return { segment, parts, index: 0, offset: 0, bytes };
  }

  #rotationDue(): boolean {
    const s = this.#current;
    const used = s.bytes > 0 || this.#writer.length > 0;
    if (used && this.#closeNow) return true;
    return s.bytes >= this.#o.segmentBytes || (used && this.#o.now() - s.openedAt >= this.#o.segmentAgeMs);
  }

  /**
   * Closes the segment being written now rather than at its size or age, so that it can be
   * deleted as soon as its events are in the spool (the spool's bound is reached and the
   * journal holds part of it). Resolves once it is closed, written and fsynced.
   */
  closeSegment(): Promise<void> {
    this.#closeNow = true;
    return this.#kick(true);
  }

  /**
   * Closes the current segment for new blocks, at once: what the writer holds is its last
   * bytes; blocks ended from now on belong to the next segment.
   */
  #rotate(): void {
    this.#closeNow = false;
    const old = this.#current;
    if (this.#writer.length > 0) {
      if (this.#unwritten !== undefined) throw new Error("journal rotation with bytes unwritten");
      this.#unwritten = this.#take(old);
    }
    this.#closing.push(old);
    this.#current = this.#allocate(old.number + 1);
  }

  #allocate(number: number): Segment {
    const segment: Segment = {
      number,
      name: `${String(number).padStart(12, "0")}${SEGMENT_SUFFIX}`,
      file: undefined,
      bytes: 0,
      unsynced: false,
      held: 0,
      openedAt: this.#o.now(),
      closedAt: undefined,
    };
    this.#segments.set(number, segment);
    return segment;
  }

  /**
   * Creates a segment's file with its magic, durably (the directory is fsynced too). The file
   * is new (`O_EXCL`): an entry planted under its name since the journal was opened is moved
   * aside, never followed or truncated.
   */
  async #create(segment: Segment): Promise<Deno.FsFile> {
    const path = `${this.#o.dir}/${segment.name}`;
    const options = { write: true, createNew: true };
    const file = await Deno.open(path, options).catch(async (error) => {
      if (error instanceof Deno.errors.AlreadyExists) {
        const info = await Deno.lstat(path);
        const moved = await moveAside(path, this.#o.quarantineDir, notRegular(info) ?? "foreign_name");
        this.#o.onError?.(`${path} was not the journal's (${moved.reason}); moved to ${moved.movedTo}`, 1);
      } else if (error instanceof Deno.errors.NotFound) {
        // The directory was removed under the relay: make it again rather than fail forever.
        await ownDirectory(this.#o.dir);
      } else {
        throw error;
      }
      return await Deno.open(path, options);
    });
    try {
      await file.write(SEGMENT_MAGIC);
      await file.sync();
      await syncDir(this.#o.dir);
    } catch (error) {
      file.close();
      // A full disk: the file is made again at the next attempt (it is new each time).
      await Deno.remove(path).catch(() => {});
      throw error;
    }
    segment.bytes = SEGMENT_MAGIC.length;
    this.#diskBytes += SEGMENT_MAGIC.length;
    return file;
  }

  async #delete(segment: Segment): Promise<void> {
    if (!this.#segments.delete(segment.number)) return;
    this.#diskBytes -= segment.bytes;
    if (segment.bytes === 0) return;
    try {
      await Deno.remove(`${this.#o.dir}/${segment.name}`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) this.#o.onError?.((error as Error).message, 1);
    }
  }
}

/** Names of segment files. */
const SEGMENT_NAME = /^\d{12}\.ksj$/;

async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}
