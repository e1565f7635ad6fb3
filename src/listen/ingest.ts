import type { Batcher, GroupBuffer } from "../batch/batcher.ts";
import { forEachBlockEvent, type JournalBlock } from "../journal/journal_format.ts";
import { addRun } from "../journal/journal_runs.ts";
import type { EventFormat, Transport } from "../batch/event_buffer.ts";
import { parseGelfMessage } from "../parse/gelf_message.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { Pressure } from "./pressure.ts";

/** What a listener is, for records and metrics. */
export interface ListenerInfo {
  /** `<protocol>/<port>`, the metrics label. */
  label: string;
  /** The records' log group: `<prefix>/<syslog|gelf>/<port>`. */
  logGroup: string;
  /** What the listener receives. */
  format: EventFormat;
  /** How its events arrive. */
  transport: Transport;
}

/**
 * Where accepted messages are noted before they wait in memory: the journal, or without one
 * the in-memory ledger (`memory_ledger.ts`). Either numbers the blocks so that buffers can
 * say which of their events are not yet in the spool.
 */
export interface EventLog {
  /** Opens a block of messages of one (log group, log stream) that arrived by `transport`. */
  begin(format: EventFormat, logGroup: string, logStream: string, transport: Transport): void;
  /** Adds one message to the open block. */
  add(message: Uint8Array, timeMs: number): void;
  /** Adds `count` messages already in the entries' form (`event_buffer.ts`) to the open block. */
  addEntries(entries: Uint8Array, count: number): void;
  /** Closes the block: the segment (or ticket) its messages are held under, and their number. */
  end(): { segment: number; count: number };
}

/** Whether a frame holds only white space (such messages are dropped and counted). */
export function isBlank(frame: Uint8Array): boolean {
  for (let i = 0; i < frame.length; i++) {
    const b = frame[i]!;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a && b !== 0x00) return false;
  }
  return true;
}

/** The names of the counters a stream listener and its protocols touch. */
export const STREAM_METRICS = [
  "connections",
  "connectionsOpen",
  "connectionErrors",
  "connectionsRefused",
  "tlsHandshakeFailures",
  "messagesDropped",
  "framesTruncated",
  "timestampFallbacks",
] as const;

/** One of {@linkcode STREAM_METRICS}. */
export type StreamMetric = typeof STREAM_METRICS[number];

/** A counter as a stream listener uses it (a prom-client counter, or a forwarder's). */
export interface CounterPort {
  /** Adds `value` (default 1) to the series of `labels`. */
  inc(labels: Record<string, string>, value?: number): void;
}

/** A gauge as a stream listener uses it. */
export interface GaugePort extends CounterPort {
  /** Takes `value` (default 1) from the series of `labels`. */
  dec(labels: Record<string, string>, value?: number): void;
}

/** The counters a stream listener and its protocols touch (a TCP intake worker forwards them). */
export type StreamMetrics = { [K in StreamMetric]: K extends "connectionsOpen" ? GaugePort : CounterPort };

/**
 * What a stream listener and its protocols need of the ingest: the main thread's
 * {@linkcode Ingest}, or in a TCP intake worker the forwarder that hands messages to it
 * (`intake_forwarder.ts`).
 */
export interface StreamIngest {
  /** Connection and drop counters. */
  readonly metrics: StreamMetrics;
  /** Where connection events are logged. */
  readonly log: Logger;
  /** Resolves once intake may go on; undefined when it may at once. */
  readonly pressure: { ready(): Promise<void> | undefined };
  /** Takes the frames of one read from a stream connection. */
  accept(info: ListenerInfo, source: string, frames: readonly Uint8Array[], receivedMs: number): void;
  /** Counts and logs (rate-limited) `count` messages not delivered. */
  dropped(info: ListenerInfo, source: string, reason: string, count?: number): void;
  /** Counts and logs (rate-limited) a message cut to `maxMessageBytes`, `bytes` long in full. */
  truncated(info: ListenerInfo, source: string, bytes: number, maxMessageBytes: number): void;
}

/** Counts and logs (rate-limited per listener and reason) `count` messages not delivered. */
export function countDropped(
  ingest: Pick<StreamIngest, "metrics" | "log">,
  drop: { info: ListenerInfo; source: string; reason: string; count: number },
): void {
  const { info, source, reason, count } = drop;
  ingest.metrics.messagesDropped.inc({ listener: info.label, reason }, count);
  ingest.log.limited("warn", `drop-${info.label}-${reason}`, "Message dropped", {
    listener: info.label,
    source,
    reason,
    count,
  });
}

/** Counts and logs (rate-limited) a message cut to `maxMessageBytes`, `bytes` long in full. */
export function countTruncated(
  ingest: Pick<StreamIngest, "metrics" | "log">,
  cut: { info: ListenerInfo; source: string; bytes: number; maxMessageBytes: number },
): void {
  const { info, source, bytes, maxMessageBytes } = cut;
  ingest.metrics.framesTruncated.inc({ listener: info.label });
  ingest.log.limited("warn", `truncated-${info.label}`, "Message truncated to --max-message-size", {
    listener: info.label,
    source,
    bytes,
    maxMessageBytes,
  });
}

/**
 * The event time of a message: the receive time of a syslog message; a GELF message's own
 * (the receive time where it has none, counted), or undefined when the GELF message is
 * refused (not a JSON object with a message: counted by reason).
 */
export function eventTime(
  ingest: Pick<StreamIngest, "metrics" | "dropped">,
  info: ListenerInfo,
  source: string,
  message: Uint8Array,
  receivedMs: number,
): number | undefined {
  if (info.format !== "gelf") return receivedMs;
  const parsed = parseGelfMessage(message);
  if (typeof parsed === "string") {
    ingest.dropped(info, source, parsed, 1);
    return undefined;
  }
  if (parsed.timestampMs !== undefined) return parsed.timestampMs;
  ingest.metrics.timestampFallbacks.inc({});
  return receivedMs;
}

/**
 * Where listeners hand their messages: drops blank ones, checks GELF messages (a JSON object
 * with a message; the event time read from it), counts what arrives and what is refused, and
 * appends the rest to the journal (when there is one) and to the batch of (listener,
 * source). Cost per syslog message: one copy into the journal's buffer, one into the batch.
 */
export class Ingest implements StreamIngest {
  /** Creates the junction between listeners and the batcher. */
  constructor(
    readonly batcher: Batcher,
    readonly pressure: Pressure,
    readonly metrics: Metrics,
    readonly log: Logger,
    readonly journal?: EventLog,
  ) {}

  /** Appends the messages of a block left in the journal by a crash; returns their number. */
  replay(block: JournalBlock): number {
    const buffer = this.batcher.buffer(block.logGroup, block.logStream, block.format, block.transport);
    this.journal?.begin(block.format, block.logGroup, block.logStream, block.transport);
    forEachBlockEvent(block, (message, time) => {
      buffer.append(message, time);
      this.journal?.add(message, time);
    });
    this.#journaled(buffer);
    this.batcher.afterAppend(buffer);
    return block.count;
  }

  /** Closes the journal block of a run of appends to `buffer`, and notes its segment in the buffer. */
  #journaled(buffer: GroupBuffer): void {
    if (this.journal === undefined) return;
    const { segment, count } = this.journal.end();
    addRun(buffer.runs, segment, count);
  }

  /** Takes the frames of one read from a stream connection. */
  accept(info: ListenerInfo, source: string, frames: readonly Uint8Array[], receivedMs: number): void {
    const buffer = this.batcher.buffer(info.logGroup, source, info.format, info.transport);
    const gelf = info.format === "gelf";
    const journal = this.journal;
    journal?.begin(info.format, info.logGroup, source, info.transport);
    let count = 0;
    let bytes = 0;
    let blank = 0;
    for (const frame of frames) {
      if (isBlank(frame)) {
        blank++;
        continue;
      }
      const time = gelf ? eventTime(this, info, source, frame, receivedMs) : receivedMs;
      if (time === undefined) continue;
      journal?.add(frame, time);
      buffer.append(frame, time);
      count++;
      bytes += frame.length;
    }
    this.#journaled(buffer);
    this.batcher.afterAppend(buffer);
    this.metrics.messagesReceived.inc({ listener: info.label }, count);
    this.metrics.bytesReceived.inc({ listener: info.label }, bytes);
    if (blank > 0) this.dropped(info, source, "empty", blank);
  }

  /**
   * Takes `count` messages of one source already checked and packed as entries
   * (`event_buffer.ts`: length, event time, message) by a TCP intake worker: one copy of the
   * run into the journal and one into the batch, whatever the number of messages.
   */
  acceptEntries(info: ListenerInfo, source: string, entries: Uint8Array, count: number, messageBytes: number): void {
    const buffer = this.batcher.buffer(info.logGroup, source, info.format, info.transport);
    this.journal?.begin(info.format, info.logGroup, source, info.transport);
    this.journal?.addEntries(entries, count);
    buffer.appendEntries(entries, count, messageBytes);
    this.#journaled(buffer);
    this.batcher.afterAppend(buffer);
    this.metrics.messagesReceived.inc({ listener: info.label }, count);
    this.metrics.bytesReceived.inc({ listener: info.label }, messageBytes);
  }

  /**
   * Takes a run of UDP messages from one source (one journal block, one count): drops them
   * (counted) while the relay is over a bound, blank ones under `empty`.
   */
  acceptDatagrams(info: ListenerInfo, source: string, messages: readonly Uint8Array[], receivedMs: number): void {
    const reason = this.pressure.reason();
    if (reason === undefined) {
      this.accept(info, source, messages, receivedMs);
      return;
    }
    let blank = 0;
    for (const message of messages) if (isBlank(message)) blank++;
    if (blank > 0) this.dropped(info, source, "empty", blank);
    if (messages.length > blank) this.dropped(info, source, reason, messages.length - blank);
  }

  /** Counts and logs (rate-limited) a message cut to `maxMessageBytes`, `bytes` long in full. */
  truncated(info: ListenerInfo, source: string, bytes: number, maxMessageBytes: number): void {
    countTruncated(this, { info, source, bytes, maxMessageBytes });
  }

  /** Counts and logs (rate-limited per listener and reason) `count` messages not delivered. */
  dropped(info: ListenerInfo, source: string, reason: string, count = 1): void {
    countDropped(this, { info, source, reason, count });
  }
}
