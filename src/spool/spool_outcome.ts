/**
 * What follows from what the spool workers report: records spooled are counted and handed to
 * delivery, their events let go of the journal (those handed back keep it and go back to the
 * batcher), events too large for a record are counted as dropped, a failing write holds intake
 * back (and sheds the journal on a full disk), and the workers' scaling is logged.
 *
 * @module
 */
import type { Batch } from "../batch/batcher.ts";
import type { Runs } from "../journal/journal_runs.ts";
import { runsCount, splitRuns } from "../journal/journal_runs.ts";
import type { JournalShedding } from "../journal/journal_shedding.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { SpoolEntry } from "./spool_dir.ts";
import type { SpoolUsage } from "./spool_usage.ts";
import type { SpoolWorkerEvents } from "./spool_worker_client.ts";

/** What the outcome of spooling reaches. */
export interface SpoolOutcomeOptions {
  usage: SpoolUsage;
  shedding: JournalShedding | undefined;
  /** Learns how records compress, and takes back the events a worker handed back. */
  batcher: { observeCompression(compressedPerRawByte: number): void; requeue(events: Omit<Batch, "carry">): void };
  /** Takes sink `sink`'s new records for delivery. */
  deliver: (sink: number, entries: SpoolEntry[]) => void;
  /** Where events are held until spooled (the journal, or the in-memory ledger), if anywhere. */
  eventLog: () => { release(runs: Runs): void } | undefined;
  metrics: Metrics;
  log: Logger;
  /** `--spool-workers` and `--worker-memory-limit`, for the log. */
  workers: { most: number; memoryLimit: number };
  /** A worker died: the relay cannot go on. */
  onCrash: (error: string) => void;
  /** Something the gauges show changed. */
  onChange: () => void;
}

/** The spool workers' events, handled as the module says. */
export function spoolOutcome(o: SpoolOutcomeOptions): SpoolWorkerEvents {
  const { metrics, log } = o;
  return {
    onSpooled: (entries, report, runs) => {
      o.shedding?.afterSpoolWrite();
      const bytes = o.usage.written(entries);
      metrics.recordsSpooled.inc(entries.length);
      metrics.eventsSpooled.inc(report.events);
      metrics.spooledBytes.inc(bytes);
      metrics.timestampFallbacks.inc(report.timestampFallbacks);
      o.batcher.observeCompression(report.compressedPerRawByte);
      if (report.oversizeEvents > 0) {
        metrics.messagesDropped.inc({ listener: "all", reason: "oversize_record" }, report.oversizeEvents);
        log.error("Events too large for one Firehose record were dropped", { count: report.oversizeEvents });
      }
      o.deliver(report.sink, entries);
      // The events in records (or dropped as oversize) free their journal segments; the
      // events handed back keep theirs.
      const [done, kept] = splitRuns(runs, runsCount(runs) - (report.carried?.count ?? 0));
      o.eventLog()?.release(done);
      if (report.carried !== undefined) o.batcher.requeue({ ...report.carried, runs: kept });
      o.onChange();
    },
    onFailed: (events, error, runs) => {
      o.eventLog()?.release(runs);
      metrics.messagesDropped.inc({ listener: "all", reason: "record_build_failed" }, events);
      log.error("Cannot build records from a batch; its events are lost", { events, error });
    },
    onCrash: (error) => {
      log.error("The spool worker failed; stopping", { error });
      o.onCrash(error);
    },
    onStarted: (running) => {
      log.info("Another spool worker started: all were busy", { running, most: o.workers.most, rssMiB: rssMiB() });
    },
    onStopped: (running) => {
      log.info("A spool worker stopped: idle for a minute", { running });
    },
    onHeldBack: (running) => {
      metrics.spoolWorkersHeldBack.inc();
      log.limited("warn", "worker-memory", "All spool workers are busy, but another would pass --worker-memory-limit", {
        running,
        rssMiB: rssMiB(),
        limitMiB: Math.round(o.workers.memoryLimit / 1_048_576),
      });
    },
    onSpoolError: (error, attempt) => {
      o.usage.writeError = error;
      metrics.spoolWriteErrors.inc();
      log.limited("error", "spool-write", "Cannot write a record to the spool; retrying", { error, attempt });
      void o.shedding?.afterSpoolError(error);
    },
  };
}

/** The process's resident memory now, in MiB (for log lines). */
export function rssMiB(): number {
  return Math.round(Deno.memoryUsage().rss / 1_048_576);
}
