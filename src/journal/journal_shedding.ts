/**
 * When the disk is full and a record cannot be written while the journal holds the space,
 * the journal's segments are deleted (their events are in memory, on their way to the
 * spool), or the journal would keep the disk full for good. Intake stays held back meanwhile
 * (the spool cannot be written), and the journal writes nothing until the spool has written
 * a record, so that the journal does not fill the space again first. Counted and logged.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { Journal } from "./journal.ts";

/** A spool write error that says the disk is full (`ENOSPC`). */
const DISK_FULL = /No space left|os error 28|ENOSPC/i;

/** Sheds the journal when a spool write fails for want of space; one shedding at a time. */
export class JournalShedding {
  #shedding = false;

  constructor(readonly journal: Journal, readonly metrics: Metrics, readonly log: Logger) {}

  /** A record could not be written for `error`: sheds the journal if the disk is full and the journal holds space. */
  async afterSpoolError(error: string): Promise<void> {
    const journal = this.journal;
    if (!DISK_FULL.test(error) || this.#shedding || journal.diskBytes === 0) return;
    this.#shedding = true;
    try {
      const freed = await journal.shed();
      if (freed === 0) return;
      this.metrics.journalShedBytes.inc(freed);
      this.log.limited(
        "error",
        "journal-shed",
        "The disk is full and the journal holds the space the spool needs: deleted the journal's copy of " +
          "messages waiting to be spooled (a crash before they are spooled loses them); the journal writes " +
          "again once the spool does",
        { freedBytes: freed },
      );
    } finally {
      this.#shedding = false;
    }
  }

  /** The spool wrote a record: a journal suspended by a shedding may take what space is left. */
  afterSpoolWrite(): void {
    if (!this.journal.suspended) return;
    this.journal.resume();
    this.log.limited("info", "journal-resume", "The spool writes again; the journal resumes");
  }
}
