/**
 * Every series whose labels are known when the relay starts, exported at 0 from the start. A
 * labelled counter that does not exist until its first increment cannot be alerted on:
 * `increase(x[5m]) > 0` sees nothing when `x` appears at 1, so the first drop would be
 * missed. Labels that only a failure names (an AWS error code, a system error) still appear
 * when they first happen.
 *
 * @module
 */
import { FLUSH_REASONS } from "./batch/batcher.ts";
import type { GelfChunkError } from "./framing/gelf_chunk.ts";
import type { GelfDiscardReason } from "./framing/gelf_reassembler.ts";
import { PRESSURE_REASONS } from "./listen/pressure.ts";
import type { GelfMessageError } from "./parse/gelf_message.ts";
import type { GelfPayloadError } from "./parse/gelf_payload.ts";
import { FOREIGN_REASONS } from "./spool/own_paths.ts";
import type { Metrics } from "./metrics/metrics.ts";
import { RELP_SESSION_ERRORS } from "./listen/relp_protocol.ts";

/** A listener as its metrics name it. */
export interface KnownListener {
  /** The `listener` label: `<protocol>/<port>`, `gelf-<protocol>/<port>`. */
  label: string;
  /** Datagrams or a byte stream (TCP or TLS). */
  kind: "udp" | "tcp" | "tls";
  /** What it receives. */
  format: "syslog" | "gelf";
  /** Whether it speaks RELP. */
  relp: boolean;
}

/** Reasons any listener drops a message for. */
const DROPS = [...PRESSURE_REASONS, "empty", "not_allowed"] as const;
/** Reasons a UDP listener also drops one for. */
const UDP_DROPS = ["receive_queue_full"] as const;
/** Reasons a stream listener (TCP, TLS) also drops one for. */
const STREAM_DROPS = ["oversize", "unfinished"] as const;
/** Reasons a GELF listener also refuses one for. */
const GELF_DROPS: readonly (GelfMessageError | GelfPayloadError | GelfChunkError | GelfDiscardReason)[] = [
  "invalid_json",
  "not_object",
  "missing_message",
  "decompress_error",
  "decompressed_too_large",
  "oversize",
  "bad_chunk_header",
  "too_many_chunks",
  "bad_sequence",
  "chunks_expired",
  "chunks_evicted",
  "chunks_incomplete",
];
/** Why a stream connection ended other than by its sender closing it. */
const CONNECTION_ERRORS = ["reset", "broken_pipe", "read_error", "idle_timeout", "evicted", "accept_error"] as const;
/** Why a connection was refused before any message. */
const REFUSALS = ["connection_limit", "source_connection_limit", "not_allowed"] as const;
/** Why a TLS listener also refuses a connection, after its handshake. */
const TLS_REFUSALS = [
  "no_client_certificate",
  "untrusted_client_certificate",
  "client_not_allowed",
  "revoked",
  "cipher_not_allowed",
] as const;
/** Why a TLS handshake failed. */
const HANDSHAKE_FAILURES = ["timeout", "handshake_error"] as const;
/** What the relay itself drops, not a listener (`listener="all"`). */
const RELAY_DROPS = ["oversize_record", "record_build_failed"] as const;

/** Sets every known series to 0 (a series already counting is left as it is). */
export function declareKnownSeries(
  metrics: Metrics,
  known: {
    listeners: readonly KnownListener[];
    streams: readonly string[];
    tls: boolean;
    /** The pipeline's sinks. */
    sinks?: readonly string[];
    /** The reasons routes drop a message for, when there are routes. */
    routeDrops?: readonly string[];
    /** Whether SIGHUP reloads a configuration file. */
    reloads?: boolean;
  },
): void {
  const zero = (
    counter: { inc(labels: Record<string, string>, value: number): void },
    labels: Record<string, string>,
  ) => counter.inc(labels, 0);
  for (const { label: listener, kind, format, relp } of known.listeners) {
    zero(metrics.messagesReceived, { listener });
    zero(metrics.bytesReceived, { listener });
    zero(metrics.framesTruncated, { listener });
    const drops: readonly string[] = [
      ...DROPS,
      ...(kind === "udp" ? UDP_DROPS : STREAM_DROPS),
      ...(format === "gelf" ? GELF_DROPS : []),
    ];
    for (const reason of new Set(drops)) zero(metrics.messagesDropped, { listener, reason });
    if (kind === "udp") {
      zero(metrics.udpKernelDrops, { listener });
      continue;
    }
    zero(metrics.connections, { listener });
    metrics.connectionsOpen.set({ listener }, 0);
    for (const reason of CONNECTION_ERRORS) zero(metrics.connectionErrors, { listener, reason });
    if (relp) {
      for (const reason of [...RELP_SESSION_ERRORS, "reply_timeout"]) {
        zero(metrics.connectionErrors, { listener, reason });
      }
    }
    for (const reason of REFUSALS) zero(metrics.connectionsRefused, { listener, reason });
    if (kind === "tls") {
      for (const reason of HANDSHAKE_FAILURES) zero(metrics.tlsHandshakeFailures, { listener, reason });
      for (const reason of TLS_REFUSALS) zero(metrics.connectionsRefused, { listener, reason });
    }
  }
  for (const reason of RELAY_DROPS) zero(metrics.messagesDropped, { listener: "all", reason });
  for (const reason of FLUSH_REASONS) zero(metrics.batchesFlushed, { reason });
  for (const reason of FOREIGN_REASONS) zero(metrics.foreignFiles, { reason });
  for (const kind of ["spool", "journal"]) zero(metrics.corruptFiles, { kind });
  if (known.tls) { for (const result of ["ok", "error"]) zero(metrics.tlsReloads, { result }); }
  for (const sink of known.sinks ?? []) zero(metrics.sinkMessages, { sink });
  for (const { label: listener } of known.listeners) {
    for (const reason of known.routeDrops ?? []) zero(metrics.messagesDropped, { listener, reason });
  }
  if (known.reloads === true) {
    for (const result of ["ok", "unchanged", "restart_needed", "invalid"]) zero(metrics.configReloads, { result });
  }
  for (const stream of known.streams) {
    zero(metrics.putCalls, { result: "ok", stream });
    zero(metrics.recordsDelivered, { stream });
    zero(metrics.eventsDelivered, { stream });
    zero(metrics.deliveredBytes, { stream });
    zero(metrics.throttles, { stream });
  }
}
