/**
 * Buffer and journal keys for unit tests: a sink's (log group, log stream), arrived one way.
 *
 * @module
 */
import type { BufferKey } from "../src/batch/batcher.ts";
import type { EventFormat, Transport } from "../src/batch/event_buffer.ts";

/**
 * The key of (`logGroup`, `logStream`) in the `default` sink (index 0), UTC; as a journal
 * block's key, arrived by `transport` (default `unknown`) and numbered from `sequence` (default none).
 */
export function key(
  logGroup: string,
  logStream: string,
  more: {
    format?: EventFormat;
    transport?: Transport;
    sink?: number;
    sinkName?: string;
    timeZone?: string;
    sequence?: number;
  } = {},
): BufferKey & { transport: Transport; sequence: number | undefined } {
  return {
    sink: more.sink ?? 0,
    sinkName: more.sinkName ?? "default",
    format: more.format ?? "syslog",
    transport: more.transport ?? "unknown",
    sequence: more.sequence,
    logGroup,
    logStream,
    timeZone: more.timeZone,
  };
}
