import type { ListenerInfo } from "./ingest.ts";

/** When a RELP message is acknowledged (`--relp-ack`). */
export type RelpAck = "written" | "fsync";

/** What a RELP acknowledgement waits for; see {@linkcode relpDurability}. */
export interface RelpDurabilityOptions {
  /** The journal, when there is one: resolves once what it was handed is written (and fsynced, if asked). */
  journal: { durable(fsync: boolean): Promise<void> } | undefined;
  /** Without a journal: the ledger of events on their way to the spool; resolves once they are spooled. */
  ledger: { spooled(): Promise<void> } | undefined;
  /** Flushes a sender's buffers at once (every sink's), when an acknowledgement waits for the spool. */
  flush: (info: ListenerInfo, source: string) => void;
  /** `--relp-ack`. */
  ack: RelpAck;
}

/**
 * When the messages handed to the ingest so far are durable enough to acknowledge over RELP:
 * with a journal, once written to it (the death of the process loses none), or fsynced too
 * with `--relp-ack fsync` (a power cut neither); without one, once their record is in the
 * spool: the sender's buffer is then flushed at once (within this turn of the event loop),
 * since its sender sends no more than its window until answered.
 */
export function relpDurability(o: RelpDurabilityOptions): (info: ListenerInfo, source: string) => Promise<void> {
  const journal = o.journal;
  if (journal !== undefined) {
    const fsync = o.ack === "fsync";
    return () => journal.durable(fsync);
  }
  const ledger = o.ledger!;
  const due = new Map<string, { info: ListenerInfo; source: string }>();
  return (info, source) => {
    const key = `${info.label}\n${info.port}\n${source}`;
    if (due.size === 0) {
      setTimeout(() => {
        for (const { info, source } of due.values()) o.flush(info, source);
        due.clear();
      }, 0);
    }
    due.set(key, { info, source });
    return ledger.spooled();
  };
}
