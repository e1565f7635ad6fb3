/**
 * What counts against `--spool-max-size`: the records in every sink's spool, the journal's
 * segments (on the same disk), and the raw bytes on their way to either. Raw bytes on their
 * way to records are counted at their size: compressed they are smaller, so the bound holds,
 * a little early. A record that cannot be written (a full or failing disk) counts as the bound
 * reached, so intake is held back until one is.
 *
 * @module
 */
import type { SpoolEntry } from "./spool_dir.ts";

/** What the journal holds on the spool's disk and on its way there. */
interface JournalBytes {
  readonly diskBytes: number;
  readonly backlogBytes: number;
}

/** The spool's records by count and size, and whether records can be written. */
export class SpoolUsage {
  #bytes = 0;
  #records = 0;
  /** Why the last attempt to write a record failed (cleared by the next success). */
  writeError: string | undefined;

  /** `workerBacklog`: raw bytes handed to the spool workers and not yet in records. */
  constructor(readonly workerBacklog: () => number, readonly journal: JournalBytes | undefined) {}

  /** Records written; returns their bytes. A write succeeded: clears the error. */
  written(entries: readonly SpoolEntry[]): number {
    this.writeError = undefined;
    return this.found(entries);
  }

  /** Records found in a spool (left by an earlier run); returns their bytes. */
  found(entries: readonly SpoolEntry[]): number {
    let bytes = 0;
    for (const e of entries) bytes += e.bytes;
    this.#bytes += bytes;
    this.#records += entries.length;
    return bytes;
  }

  /** Records left a spool (delivered or quarantined). */
  removed(bytes: number, records: number): void {
    this.#bytes -= bytes;
    this.#records -= records;
  }

  /** Bytes of records in the spools. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Records in the spools. */
  get records(): number {
    return this.#records;
  }

  /** What counts against `--spool-max-size` now; `Infinity` while a record cannot be written. */
  get counted(): number {
    if (this.writeError !== undefined) return Infinity;
    const journal = this.journal === undefined ? 0 : this.journal.diskBytes + this.journal.backlogBytes;
    return this.#bytes + this.workerBacklog() + journal;
  }
}
