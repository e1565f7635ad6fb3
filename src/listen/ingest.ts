import {
  type BufferKey,
  type EventBuffer,
  type EventFormat,
  forEachEntryOf,
  type Transport,
} from "../batch/event_buffer.ts";
import { addRun, type Runs } from "../journal/journal_runs.ts";
import { addEventRun, type EventRuns } from "../batch/event_runs.ts";
import { parseGelfMessage } from "../parse/gelf_message.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { Pressure } from "./pressure.ts";
import { EventFields } from "../route/event_fields.ts";
import type { Router } from "../route/router.ts";

/** What a listener is, for records, routes and metrics. */
export interface ListenerInfo {
  /** `<protocol>/<port>`, the metrics label. */
  label: string;
  /** The name routes match: the configuration's, or the label. */
  name: string;
  /**
   * The port the records' log group names (`<prefix>/<syslog|gelf>/<port>`, the prefix the
   * sink's): the listener's, or the one a PROXY header says the client reached.
   */
  port: number;
  /** What the listener receives. */
  format: EventFormat;
  /** How its events arrive. */
  transport: Transport;
  /** IANA time zone of its RFC 3164 timestamps; `undefined` is UTC. */
  timeZone: string | undefined;
}

/**
 * Where accepted messages are noted before they wait in memory: the journal, or without one
 * the in-memory ledger (`memory_ledger.ts`). Either numbers the blocks so that buffers can
 * say which of their events are not yet in the spool.
 */
export interface EventLog {
  /**
   * Opens a block of messages of `key` (one sink's (log group, log stream), arrived one way,
   * numbered from `key.sequence` on).
   */
  begin(key: Omit<BufferKey, "sink"> & { transport: Transport; sequence: number }): void;
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

/** A buffer of the batches, as the ingest fills it (`batch/batcher.ts`'s `GroupBuffer`). */
export interface IngestBuffer extends EventBuffer, BufferKey {
  /** The journal segments of the events held. */
  runs: Runs;
  /** The sequence numbers, transports and streams of the events held. */
  origins: EventRuns;
  /** The number of the stream (`logGroup`, `logStream`) in the buffer's table, added if new. */
  streamOf(logGroup: string, logStream: string): number;
}

/**
 * Where events get their sequence numbers (their ids: `batch/event_id.ts`), never the same
 * twice: the spool's instance file (`spool/instance_file.ts`), or a counter from 0 (tests).
 */
export interface EventNumbers {
  /** The next number to give. */
  readonly next: number;
  /** Takes `count` numbers from `next` on. */
  advance(count: number): void;
}

/** The batches, as the ingest fills them (`batch/batcher.ts`'s `Batcher`). */
export interface IngestBatches {
  /** The buffer of `key`; call {@linkcode IngestBatches.afterAppend} once after a run of appends. */
  buffer(key: BufferKey): IngestBuffer;
  /** Flushes what a run of appends to `buffer` filled up. */
  afterAppend(buffer: IngestBuffer): void;
  /** Flushes the buffer of `key` now (a sender waits for its acknowledgement). */
  flushGroup(key: BufferKey, reason: "acknowledge"): void;
}

/** A run of messages left in the journal by a crash (`journal/journal_format.ts`'s `JournalBlock`). */
export interface ReplayedBlock extends Omit<BufferKey, "sink"> {
  /** How they arrived. */
  transport: Transport;
  /** The number of the first (the rest follow on), or undefined in a segment written before numbers were kept. */
  sequence: number | undefined;
  /** The messages, as entries. */
  entries: Uint8Array;
  /** Their number. */
  count: number;
}

/** The sinks the ingest feeds, by index (bit i of a route's set is `names[i]`). */
export interface IngestSinks {
  names: readonly string[];
  /**
   * Each sink's log group prefix, by index.
   * @default {"/kinesyslog" for each}
   */
  groupPrefixes?: readonly string[];
  /**
   * Where messages go without routes, and a replayed block of a sink no longer configured
   * (the default sink, or the only one).
   */
  fallback: number;
}

/** Ports (and formats) whose log groups an ingest keeps made, at most (PROXY headers name any port). */
const MAX_GROUP_PORTS = 1_024;

/** What the ingest routes to, and how it numbers events. */
export interface IngestRouting {
  sinks: IngestSinks;
  router: Router | undefined;
  /** @default {a counter from 0} */
  numbers?: EventNumbers;
}

/** Numbers from 0, in memory (an ingest without an instance file: tests). */
class Counter implements EventNumbers {
  next = 0;
  advance(count: number): void {
    this.next += count;
  }
}

/**
 * Where listeners hand their messages: drops blank ones, checks GELF messages (a JSON object
 * with a message; the event time read from it), routes each message to its sinks (with no
 * routes, all go to the one sink), counts what arrives and what is refused, and appends the
 * rest to the journal (when there is one) and to the batch of (sink, listener, source). Cost
 * per syslog message and sink: one copy into the journal's buffer, one into the batch.
 */
export class Ingest implements StreamIngest {
  #sinks: IngestSinks;
  #router: Router | undefined;
  /** The log group of each sink, by port (negative for GELF): made once per listener port. */
  readonly #groups = new Map<number, string[]>();
  readonly #fields = new EventFields();
  /** A routed read's messages, times and sink sets (reused). */
  readonly #messages: Uint8Array[] = [];
  readonly #times: number[] = [];
  readonly #sets: number[] = [];
  /** Names of replayed sinks no longer configured, logged once each. */
  readonly #unknownSinks = new Set<string>();
  readonly #numbers: EventNumbers;

  /** Creates the junction between listeners and the batcher. */
  constructor(
    readonly batcher: IngestBatches,
    readonly pressure: Pressure,
    readonly metrics: Metrics,
    readonly log: Logger,
    readonly journal?: EventLog,
    routing: IngestRouting = { sinks: { names: ["default"], fallback: 0 }, router: undefined },
  ) {
    this.#sinks = routing.sinks;
    this.#router = routing.router;
    this.#numbers = routing.numbers ?? new Counter();
  }

  /**
   * Routes the messages of reads from now on by `router` (a reloaded configuration's routes
   * over the same sinks): a read is routed whole by the routes in force when it arrives.
   */
  set router(router: Router | undefined) {
    this.#router = router;
  }

  /**
   * Feeds these sinks from the next read on (a reload added, retired or changed one): indices
   * of the sinks kept do not change; a router over the same names follows.
   */
  set sinks(sinks: IngestSinks) {
    this.#sinks = sinks;
    this.#groups.clear();
  }

  /** Appends the messages of a block left in the journal by a crash; returns their number. */
  replay(block: ReplayedBlock): number {
    let sink = this.#sinks.names.indexOf(block.sinkName);
    if (sink < 0) {
      sink = this.#sinks.fallback;
      if (!this.#unknownSinks.has(block.sinkName)) {
        this.#unknownSinks.add(block.sinkName);
        this.log.warn("The journal holds messages for a sink no longer configured; they go to another", {
          sink: block.sinkName,
          to: this.#sinks.names[sink],
        });
      }
    }
    const { format, logGroup, logStream, timeZone, sequence, transport } = block;
    const key: BufferKey = { sink, sinkName: this.#sinks.names[sink]!, format, logGroup, logStream, timeZone };
    const buffer = this.batcher.buffer(key);
    // Numbered when first accepted: the same ids again. A block from before numbers were kept gets new ones.
    const first = this.#begin(key, transport, sequence);
    forEachEntryOf(block.entries, (message, time) => {
      buffer.append(message, time);
      this.journal?.add(message, time);
    });
    this.#end(buffer, { key, transport, first, count: block.count, fresh: sequence === undefined });
    this.batcher.afterAppend(buffer);
    return block.count;
  }

  /**
   * Opens the journal block of a run of appends of `key`'s messages; returns the sequence
   * number of its first message (`sequence`, or the next free one).
   */
  #begin(key: BufferKey, transport: Transport, sequence = this.#numbers.next): number {
    const { sinkName, format, logGroup, logStream, timeZone } = key;
    this.journal?.begin({ sinkName, format, logGroup, logStream, timeZone, transport, sequence });
    return sequence;
  }

  /**
   * Closes the journal block of a run of `count` appends of `key`'s messages to `buffer`,
   * numbered from `first` (`fresh`: numbers taken now), and notes their segment, numbers,
   * transport and stream in the buffer.
   */
  #end(
    buffer: IngestBuffer,
    run: { key: BufferKey; transport: Transport; first: number; count: number; fresh: boolean },
  ): void {
    if (this.journal !== undefined) {
      const { segment, count } = this.journal.end();
      addRun(buffer.runs, segment, count);
    }
    const stream = buffer.streamOf(run.key.logGroup, run.key.logStream);
    addEventRun(buffer.origins, run.first, run.count, { transport: run.transport, stream });
    if (run.fresh) this.#numbers.advance(run.count);
  }

  /** The key of the buffer of sink `sink` for `source` on the listener `info`. */
  #key(info: ListenerInfo, source: string, sink: number): BufferKey {
    return {
      sink,
      sinkName: this.#sinks.names[sink]!,
      format: info.format,
      logGroup: this.#logGroup(info, sink),
      logStream: source,
      timeZone: info.timeZone,
    };
  }

  /** `<prefix>/<syslog|gelf>/<port>` of sink `sink` for `info`. */
  #logGroup(info: ListenerInfo, sink: number): string {
    const id = info.format === "gelf" ? -1 - info.port : info.port;
    let groups = this.#groups.get(id);
    if (groups === undefined) {
      if (this.#groups.size >= MAX_GROUP_PORTS) this.#groups.clear();
      const prefixes = this.#sinks.groupPrefixes;
      groups = this.#sinks.names.map((_, i) => `${prefixes?.[i] ?? "/kinesyslog"}/${info.format}/${info.port}`);
      this.#groups.set(id, groups);
    }
    return groups[sink]!;
  }

  /**
   * Flushes the buffers of `source` on `info` in every sink now (a RELP sender waits for the
   * acknowledgement of its messages, which comes only once they are spooled).
   */
  flushSource(info: ListenerInfo, source: string): void {
    for (let sink = 0; sink < this.#sinks.names.length; sink++) {
      this.batcher.flushGroup(this.#key(info, source, sink), "acknowledge");
    }
  }

  /** Takes the frames of one read from a stream connection. */
  accept(info: ListenerInfo, source: string, frames: readonly Uint8Array[], receivedMs: number): void {
    if (this.#router !== undefined) {
      this.#route(info, source, frames, undefined, receivedMs);
      return;
    }
    const key = this.#key(info, source, this.#sinks.fallback);
    const buffer = this.batcher.buffer(key);
    const gelf = info.format === "gelf";
    const journal = this.journal;
    const first = this.#begin(key, info.transport);
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
    this.#end(buffer, { key, transport: info.transport, first, count, fresh: true });
    this.batcher.afterAppend(buffer);
    this.#received(info, count, bytes);
    if (count > 0) this.metrics.sinkMessages.inc({ sink: buffer.sinkName }, count);
    if (blank > 0) this.dropped(info, source, "empty", blank);
  }

  /**
   * Takes `count` messages of one source already checked and packed as entries
   * (`event_buffer.ts`: length, event time, message) by a TCP intake worker: one copy of the
   * run into the journal and one into the batch, whatever the number of messages (with
   * routes, message by message).
   */
  acceptEntries(info: ListenerInfo, source: string, entries: Uint8Array, count: number, messageBytes: number): void {
    if (this.#router !== undefined) {
      const frames: Uint8Array[] = [];
      const times: number[] = [];
      forEachEntryOf(entries, (message, time) => {
        frames.push(message);
        times.push(time);
      });
      this.#route(info, source, frames, times, 0);
      return;
    }
    const key = this.#key(info, source, this.#sinks.fallback);
    const buffer = this.batcher.buffer(key);
    const first = this.#begin(key, info.transport);
    this.journal?.addEntries(entries, count);
    buffer.appendEntries(entries, count, messageBytes);
    this.#end(buffer, { key, transport: info.transport, first, count, fresh: true });
    this.batcher.afterAppend(buffer);
    this.#received(info, count, messageBytes);
    this.metrics.sinkMessages.inc({ sink: buffer.sinkName }, count);
  }

  /**
   * Routes the messages of one read: each gets its set of sinks (or a reason to go nowhere,
   * counted), then each sink's messages go to its buffer as one journal block. `times` are
   * the messages' event times where a TCP intake worker read them already.
   */
  #route(
    info: ListenerInfo,
    source: string,
    frames: readonly Uint8Array[],
    times: readonly number[] | undefined,
    receivedMs: number,
  ): void {
    const router = this.#router!;
    const gelf = info.format === "gelf";
    const messages = this.#messages, eventTimes = this.#times, sets = this.#sets;
    let blank = 0;
    let all = 0;
    const drops = new Map<string, number>();
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      if (isBlank(frame)) {
        blank++;
        continue;
      }
      let time = times?.[i] ?? receivedMs;
      let fields: EventFields | undefined;
      if (gelf) {
        const parsed = parseGelfMessage(frame);
        if (typeof parsed === "string") {
          this.dropped(info, source, parsed, 1);
          continue;
        }
        if (times === undefined) {
          if (parsed.timestampMs !== undefined) time = parsed.timestampMs;
          else this.metrics.timestampFallbacks.inc({});
        }
        fields = router.readsMessages ? this.#fields.reset(frame, parsed.fields) : undefined;
      } else if (router.readsMessages) {
        fields = this.#fields.reset(frame, undefined);
      }
      const verdict = router.route(info, source, fields);
      if (verdict.sinks === 0) {
        drops.set(verdict.reason!, (drops.get(verdict.reason!) ?? 0) + 1);
        continue;
      }
      messages.push(frame);
      eventTimes.push(time);
      sets.push(verdict.sinks);
      all |= verdict.sinks;
    }
    let bytes = 0;
    for (const m of messages) bytes += m.length;
    for (let sink = 0; all !== 0; sink++, all >>>= 1) {
      if ((all & 1) === 0) continue;
      const key = this.#key(info, source, sink);
      const buffer = this.batcher.buffer(key);
      const first = this.#begin(key, info.transport);
      let count = 0;
      for (let i = 0; i < messages.length; i++) {
        if ((sets[i]! & (1 << sink)) === 0) continue;
        this.journal?.add(messages[i]!, eventTimes[i]!);
        buffer.append(messages[i]!, eventTimes[i]!);
        count++;
      }
      this.#end(buffer, { key, transport: info.transport, first, count, fresh: true });
      this.batcher.afterAppend(buffer);
      this.metrics.sinkMessages.inc({ sink: buffer.sinkName }, count);
    }
    this.#received(info, messages.length, bytes);
    messages.length = 0;
    eventTimes.length = 0;
    sets.length = 0;
    if (blank > 0) this.dropped(info, source, "empty", blank);
    for (const [reason, count] of drops) this.dropped(info, source, reason, count);
  }

  /** Counts messages accepted from a listener. */
  #received(info: ListenerInfo, count: number, bytes: number): void {
    this.metrics.messagesReceived.inc({ listener: info.label }, count);
    this.metrics.bytesReceived.inc({ listener: info.label }, bytes);
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
