/**
 * Messages between the main thread (`tcp_intake.ts`) and a TCP intake worker
 * (`tcp_intake_worker.ts`): a plain TCP listener of its own on the same port
 * (`SO_REUSEPORT`), whose connections the worker reads and frames, handing the frames over in
 * packs.
 *
 * @module
 */
import type { Level, LogFormat } from "../log.ts";
import type { ListenerInfo, StreamMetric } from "./ingest.ts";
import type { ConnectionLimits } from "./stream_listener.ts";

/** What a worker listens on, and how. */
export interface IntakeOptions {
  /** The address the main thread's listener is bound to. */
  hostname: string;
  /** Its port (bound already by the main thread, with `reusePort`). */
  port: number;
  /** Names for records and metrics. */
  info: ListenerInfo;
  /** Whether each connection starts with a PROXY protocol header. */
  proxy: boolean;
  /** Longest message kept, in bytes. */
  maxMessageBytes: number;
  /** This worker's share of the listener's limits. */
  limits: ConnectionLimits;
  /** `--allow-from` ranges (empty: any source). */
  allowFrom: string[];
  /** How the worker logs (it writes to the same standard error). */
  log: { level: Level; format: LogFormat };
}

/** Messages of one read of one connection, within a pack: the next `bytes` of its entries. */
export interface IntakeGroup {
  /** The port the records name (a PROXY header may name another than the listener's). */
  port: number;
  /** The sender's address. */
  source: string;
  /** Messages. */
  count: number;
  /** Bytes of their entries (headers included). */
  bytes: number;
  /** Bytes of the messages alone. */
  messageBytes: number;
}

/** A change of one series of a forwarded counter since the last pack. */
export interface MetricDelta {
  metric: StreamMetric;
  labels: Record<string, string>;
  /** What to add (negative for a gauge that went down). */
  value: number;
}

/** To the worker. */
export type ToIntake =
  /** Listen and serve; see {@linkcode IntakeOptions}. */
  | ({ type: "listen" } & IntakeOptions)
  /**
   * The main thread has taken in a pack of this many bytes and may take more; the pack's
   * buffer comes back with it, for the next pack.
   */
  | { type: "ack"; bytes: number; buffer: ArrayBuffer }
  /** Stop accepting, let connections end for `graceMs`, then end them; deliver what they sent. */
  | { type: "close"; graceMs: number };

/** From the worker. */
export type FromIntake =
  | { type: "listening" }
  | { type: "listen_error"; error: string }
  /**
   * Messages as entries of the relay's buffers (`u32 length | f64 event time | message`),
   * in order; `groups` say whose they are, each the next run of `data`. `metrics`: the
   * counters' changes since the last pack (sent alone when no message came).
   */
  | { type: "pack"; data: Uint8Array<ArrayBuffer>; groups: IntakeGroup[]; metrics: MetricDelta[] }
  /** Every connection has ended and every frame has been handed over. */
  | { type: "closed" };
