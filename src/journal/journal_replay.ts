/**
 * Replay at startup: the segments a crash left in the journal go back through the ingest, one
 * at a time, oldest first, and each old segment goes once the new journal holds its messages.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { Journal } from "./journal.ts";
import type { JournalBlock } from "./journal_format.ts";

/** What replay needs of the relay. */
export interface ReplayOptions {
  /** Takes one block's messages back into the buffers and the new journal; returns their number. */
  ingest: { replay(block: JournalBlock): number };
  /** Waits while memory is over a bound (a full spool excepted: spooling replayed messages shrinks it). */
  pressure: { ready(except: "spool_full"): Promise<void> | undefined };
  metrics: Pick<Metrics, "journalReplayed" | "corruptFiles">;
  log: Logger;
  /** Where a damaged segment goes (for the log line). */
  quarantineDir: string;
}

/**
 * Replays the segments a crash left in `journal`, oldest first, one at a time: their messages
 * go to the buffers and the new journal, and each old segment is deleted once the new journal
 * is fsynced (or quarantined, after its good part, when it is damaged). Waits while the
 * workers are behind, so memory stays bounded. Returns the messages replayed.
 */
export async function replayJournal(journal: Journal, o: ReplayOptions): Promise<number> {
  let total = 0;
  for (const name of journal.leftovers) {
    let segment;
    try {
      segment = await journal.readLeftover(name);
    } catch (error) {
      o.log.error("Cannot read a journal segment left by the last run; left in place", {
        segment: name,
        error: (error as Error).message,
      });
      continue;
    }
    let messages = 0;
    for (const block of segment.blocks) {
      await o.pressure.ready("spool_full");
      messages += o.ingest.replay(block);
    }
    await journal.sync();
    total += messages;
    o.metrics.journalReplayed.inc(messages);
    if (segment.damage !== undefined) {
      o.metrics.corruptFiles.inc({ kind: "journal" });
      o.log.error("Journal segment damaged; its good part was replayed and the file moved to quarantine", {
        segment: name,
        damage: segment.damage,
        replayedMessages: messages,
        unreadBytes: segment.bytes - segment.goodBytes,
        quarantine: o.quarantineDir,
      });
    } else {
      o.log.info("Journal segment replayed", { segment: name, messages });
    }
    try {
      await journal.retire(name, segment.damage !== undefined);
    } catch (error) {
      o.log.error("Cannot remove a replayed journal segment; it will be replayed again", {
        segment: name,
        error: (error as Error).message,
      });
    }
  }
  return total;
}
