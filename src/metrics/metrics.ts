/**
 * Every metric of the relay, in one Prometheus registry (SPEC section 6). Names follow
 * `kinesyslog_<what>_<unit>`; counters end in `_total`. Labels are bounded: a listener
 * label is `<protocol>/<port>`, never a source address.
 *
 * @module
 */
import client from "prom-client";
import process from "node:process";
import { VERSION } from "../version.ts";

/**
 * Buckets of the PutRecordBatch duration, in seconds: from a fast call in-region to the
 * SDK's own retries of a slow one.
 */
export const PUT_DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The relay's metrics and the registry that renders them. */
export class Metrics {
  /** Renders the exposition text. */
  readonly registry = new client.Registry();

  /** Messages accepted into a buffer, per listener. */
  readonly messagesReceived = this.#counter("kinesyslog_messages_received_total", "Messages received", [
    "listener",
  ]);
  /** Message bytes accepted, per listener. */
  readonly bytesReceived = this.#counter("kinesyslog_received_bytes_total", "Message bytes received", [
    "listener",
  ]);
  /** Messages cut to --max-message-size. */
  readonly framesTruncated = this.#counter(
    "kinesyslog_frames_truncated_total",
    "Messages truncated to --max-message-size",
    ["listener"],
  );
  /** Messages not delivered, by reason. */
  readonly messagesDropped = this.#counter("kinesyslog_messages_dropped_total", "Messages dropped, by reason", [
    "listener",
    "reason",
  ]);
  /** Events whose timestamp could not be read. */
  readonly timestampFallbacks = this.#counter(
    "kinesyslog_timestamp_fallbacks_total",
    "Events stamped with the receive time because no timestamp could be read",
    [],
  );
  /** Connections accepted, per listener. */
  readonly connections = this.#counter("kinesyslog_connections_total", "Connections accepted", ["listener"]);
  /** Open connections, per listener. */
  readonly connectionsOpen = this.#gauge("kinesyslog_connections_open", "Open connections", ["listener"]);
  /** Connection errors (resets, TLS handshake failures), by reason. */
  readonly connectionErrors = this.#counter(
    "kinesyslog_connection_errors_total",
    "Connections ended by an error or by the relay (idle, evicted), by reason",
    ["listener", "reason"],
  );
  /** Connections refused or closed before any message, by reason. */
  readonly connectionsRefused = this.#counter(
    "kinesyslog_connections_refused_total",
    "Connections refused: limit, PROXY header, plain text on TLS, TLS on plain, client certificate",
    ["listener", "reason"],
  );
  /** TLS handshakes that failed, by reason. */
  readonly tlsHandshakeFailures = this.#counter(
    "kinesyslog_tls_handshake_failures_total",
    "TLS handshakes that failed or timed out",
    ["listener", "reason"],
  );
  /** Certificate reloads (SIGHUP), by result. */
  readonly tlsReloads = this.#counter(
    "kinesyslog_tls_reloads_total",
    "Certificate reloads on SIGHUP, by result",
    ["result"],
  );
  /** Reloads of the configuration file (SIGHUP), by result. */
  readonly configReloads = this.#counter(
    "kinesyslog_config_reloads_total",
    "Reloads of the --config file on SIGHUP, by result: ok (routes applied), unchanged, invalid, restart_needed",
    ["result"],
  );
  /** Incomplete chunked GELF messages held, per listener. */
  readonly gelfPendingMessages = this.#gauge(
    "kinesyslog_gelf_pending_messages",
    "Chunked GELF messages waiting for their missing chunks",
    ["listener"],
  );
  /** Chunk bytes held for incomplete GELF messages, per listener. */
  readonly gelfPendingBytes = this.#gauge(
    "kinesyslog_gelf_pending_bytes",
    "Chunk bytes held for incomplete GELF messages",
    ["listener"],
  );
  /** GELF chunks ignored as duplicates (or late chunks of a finished message). */
  readonly gelfDuplicateChunks = this.#counter(
    "kinesyslog_gelf_duplicate_chunks_total",
    "GELF chunks ignored: already held, or of a message already completed or given up",
    ["listener"],
  );
  /** Sender buffers flushed into batches, by why. */
  readonly batchesFlushed = this.#counter(
    "kinesyslog_batches_flushed_total",
    "Sender buffers flushed into batches: size, age, memory, open_buffers (the cap on senders), journal, shutdown",
    ["reason"],
  );
  /** Open sender buffers. */
  readonly openBuffers = this.#gauge(
    "kinesyslog_open_buffers",
    "Sender buffers holding events (one per log group and source)",
    [],
  );
  /** Memory the sender buffers allocated. */
  readonly bufferMemory = this.#gauge(
    "kinesyslog_buffer_memory_bytes",
    "Memory the sender buffers hold: chunks allocated plus each buffer's own cost",
    [],
  );
  /** Datagrams the kernel dropped because the relay did not read them in time. */
  readonly udpKernelDrops = this.#counter(
    "kinesyslog_udp_kernel_drops_total",
    "Datagrams the kernel dropped on a full receive buffer before the relay read them (the socket's SO_MEMINFO through libc, else /proc/net/udp under --allow-all)",
    ["listener"],
  );
  /** The receive buffer each UDP socket has. */
  readonly udpReceiveBuffer = this.#gauge(
    "kinesyslog_udp_receive_buffer_bytes",
    "Receive buffer of each UDP socket as the kernel reports it (Linux counts twice what is asked); absent where it cannot be read",
    ["listener"],
  );
  /** Events written to the spool, inside records. */
  readonly eventsSpooled = this.#counter("kinesyslog_events_spooled_total", "Events written to the spool", []);
  /** Records written to the spool. */
  readonly recordsSpooled = this.#counter("kinesyslog_records_spooled_total", "Records written to the spool", []);
  /** Compressed bytes written to the spool. */
  readonly spooledBytes = this.#counter("kinesyslog_spooled_bytes_total", "Record bytes written to the spool", []);
  /** Failed attempts to write a record to the spool. */
  readonly spoolWriteErrors = this.#counter(
    "kinesyslog_spool_write_errors_total",
    "Failed attempts to write a record to the spool (retried)",
    [],
  );
  /** Failed attempts to delete a delivered record's file. */
  readonly spoolDeleteErrors = this.#counter(
    "kinesyslog_spool_delete_errors_total",
    "Failed attempts to delete a delivered record (retried; the record is not sent again)",
    [],
  );
  /** Entries in the spool or journal that the relay did not write, moved aside. */
  readonly foreignFiles = this.#counter(
    "kinesyslog_foreign_files_total",
    "Entries named like spool records or journal segments that the relay did not write (symlink, not_regular, foreign_name, oversize, empty), moved to the quarantine directory",
    ["reason"],
  );
  /** Records in the spool. */
  readonly spoolFiles = this.#gauge("kinesyslog_spool_files", "Records waiting in the spool", []);
  /** Bytes in the spool. */
  readonly spoolBytes = this.#gauge(
    "kinesyslog_spool_bytes",
    "Record bytes waiting in the spool (the bound, kinesyslog_spool_limit_bytes, counts these plus kinesyslog_journal_bytes)",
    [],
  );
  /** The bound on the spool (`--spool-max-size`). */
  readonly spoolLimitBytes = this.#gauge(
    "kinesyslog_spool_limit_bytes",
    "The bound on the spool (--spool-max-size): when kinesyslog_spool_bytes plus kinesyslog_journal_bytes reach it, intake is held back",
    [],
  );
  /** Raw bytes buffered in memory or waiting for the worker. */
  readonly bufferedBytes = this.#gauge(
    "kinesyslog_buffered_bytes",
    "Raw message bytes in memory, not yet spooled",
    [],
  );
  /** PutRecordBatch calls, by result. */
  readonly putCalls = this.#counter("kinesyslog_put_record_batch_calls_total", "PutRecordBatch calls", [
    "result",
    "stream",
  ]);
  /** Records delivered. */
  readonly recordsDelivered = this.#counter("kinesyslog_records_delivered_total", "Records delivered", ["stream"]);
  /** Events delivered, inside the records delivered. */
  readonly eventsDelivered = this.#counter(
    "kinesyslog_events_delivered_total",
    "Events (messages) in the records Firehose accepted",
    ["stream"],
  );
  /** Record bytes delivered. */
  readonly deliveredBytes = this.#counter("kinesyslog_delivered_bytes_total", "Record bytes delivered", ["stream"]);
  /** Records that failed, by error code (each is retried). */
  readonly recordsFailed = this.#counter("kinesyslog_records_failed_total", "Record delivery failures", [
    "code",
    "stream",
  ]);
  /** Records sent again after a failure. */
  readonly recordRetries = this.#counter("kinesyslog_record_retries_total", "Records sent again", []);
  /** Calls or records throttled by Firehose. */
  readonly throttles = this.#counter(
    "kinesyslog_throttles_total",
    "Records (or whole calls) Firehose refused for the stream's quota",
    ["stream"],
  );
  /** Credentials renewed after Firehose refused them as expired. */
  readonly credentialRefreshes = this.#counter(
    "kinesyslog_credential_refreshes_total",
    "Times the AWS credentials were fetched again after Firehose refused them as expired",
    [],
  );
  /** Wall time of PutRecordBatch calls, failed ones included. */
  readonly putDuration = new client.Histogram({
    name: "kinesyslog_put_record_batch_duration_seconds",
    help: "PutRecordBatch call duration, failed calls included",
    buckets: PUT_DURATION_BUCKETS_S,
    registers: [this.registry],
  });
  /**
   * Values read when `/metrics` is scraped, set by the relay: the age of the oldest spooled
   * record, how long deliveries have been failing, and the pause throttling imposes, in seconds.
   */
  readonly live = {
    spoolWorkers: () => 0,
    spoolOldestAgeSeconds: () => 0,
    deliveryFailingSeconds: () => 0,
    deliveryPauseSeconds: () => 0,
    streams: (): { name: string; bytesPerSecond: number; inRotation: boolean }[] => [],
    routeCounts: (): { route: string; outcome: string; count: number }[] => [],
  };
  /** What each route did with the messages it matched (read from the routes at each scrape). */
  readonly routeMessages = new client.Counter({
    name: "kinesyslog_route_messages_total",
    help:
      "Messages each route matched, by outcome: taken (sent to its sinks, or dropped by a drop route), sampled_out, rate_limited",
    labelNames: ["route", "outcome"],
    registers: [this.registry],
    collect: () => {
      this.routeMessages.reset();
      for (const { route, outcome, count } of this.live.routeCounts()) {
        this.routeMessages.inc({ route, outcome }, count);
      }
    },
  });
  /** Messages accepted into each sink's buffers. */
  readonly sinkMessages = this.#counter(
    "kinesyslog_sink_messages_total",
    "Messages accepted for each sink (a message routed to two sinks counts in each)",
    ["sink"],
  );
  /** How long the pacing holds the oldest waiting record back. */
  readonly deliveryPause = this.#liveGauge(
    "kinesyslog_delivery_pause_seconds",
    "How long pacing at the streams' learned quotas holds the oldest waiting record back now; 0 when not",
    () => this.live.deliveryPauseSeconds(),
  );
  /** Each stream's learned quota. */
  readonly streamRate = new client.Gauge({
    name: "kinesyslog_stream_rate_bytes_per_second",
    help: "The byte rate each delivery stream is paced at, learned from what it accepts and refuses; 0 while not paced",
    labelNames: ["stream"],
    registers: [this.registry],
    collect: () => {
      for (const { name, bytesPerSecond } of this.live.streams()) {
        this.streamRate.set({ stream: name }, bytesPerSecond === Infinity ? 0 : Math.round(bytesPerSecond));
      }
    },
  });
  /** Whether each stream is in rotation. */
  readonly streamInRotation = new client.Gauge({
    name: "kinesyslog_stream_in_rotation",
    help:
      "1 while records go to the delivery stream; 0 once it accepted nothing (failed calls, or refusals for its quota for 2 s while another stream accepts): it is probed with one record at a time until it accepts again",
    labelNames: ["stream"],
    registers: [this.registry],
    collect: () => {
      for (const { name, inRotation } of this.live.streams()) {
        this.streamInRotation.set({ stream: name }, inRotation ? 1 : 0);
      }
    },
  });
  /** Spool workers running. */
  readonly spoolWorkers = this.#liveGauge(
    "kinesyslog_spool_workers",
    "Spool workers running: the first from the start, more (up to --spool-workers) while all are busy; those idle for a minute stop",
    () => this.live.spoolWorkers(),
  );
  /** Times another spool worker was wanted and did not fit `--worker-memory-limit`. */
  readonly spoolWorkersHeldBack = this.#counter(
    "kinesyslog_spool_workers_held_back_total",
    "Times every spool worker had been busy for 2 s but another did not fit --worker-memory-limit",
    [],
  );
  /** `--worker-memory-limit`, in bytes. */
  readonly workerMemoryLimit = this.#gauge(
    "kinesyslog_worker_memory_limit_bytes",
    "Resident memory within which another spool worker may start (--worker-memory-limit); 0 is no limit",
    [],
  );
  /** Age of the oldest record waiting in the spool. */
  readonly spoolOldestAge = this.#liveGauge(
    "kinesyslog_spool_oldest_record_age_seconds",
    "Age of the oldest record waiting for delivery; 0 when the spool is empty",
    () => this.live.spoolOldestAgeSeconds(),
  );
  /** When records were last delivered. */
  readonly lastDelivery = this.#gauge(
    "kinesyslog_last_delivery_timestamp_seconds",
    "Unix time of the last call that delivered records; 0 before the first",
    [],
  );
  /** How long deliveries have been failing. */
  readonly deliveryFailing = this.#liveGauge(
    "kinesyslog_delivery_failing_seconds",
    "Seconds since delivery began failing with no record delivered since; 0 when delivering or idle",
    () => this.live.deliveryFailingSeconds(),
  );
  /** Records moved to quarantine. */
  readonly recordsQuarantined = this.#counter(
    "kinesyslog_records_quarantined_total",
    "Records rejected as invalid and moved to the quarantine directory",
    [],
  );

  /** Files found damaged at startup (journal segments, spooled records) and quarantined. */
  readonly corruptFiles = this.#counter(
    "kinesyslog_corrupt_files_total",
    "Damaged journal segments or spool records found and moved to the quarantine directory",
    ["kind"],
  );
  /** Bytes of journal segments on disk. */
  readonly journalBytes = this.#gauge("kinesyslog_journal_bytes", "Bytes of journal segments on disk", []);
  /** Journal bytes not yet written. */
  readonly journalBacklogBytes = this.#gauge(
    "kinesyslog_journal_backlog_bytes",
    "Journal bytes encoded in memory and not yet written",
    [],
  );
  /** Journal bytes deleted to make room for the spool on a full disk. */
  readonly journalShedBytes = this.#counter(
    "kinesyslog_journal_shed_bytes_total",
    "Journal segment bytes deleted before their messages were spooled, to make room for the spool on a full disk (a crash before they are spooled loses them)",
    [],
  );
  /** Failed journal writes or fsyncs. */
  readonly journalWriteErrors = this.#counter(
    "kinesyslog_journal_write_errors_total",
    "Failed journal writes or fsyncs (retried)",
    [],
  );
  /** Messages replayed from a journal left by a crash. */
  readonly journalReplayed = this.#counter(
    "kinesyslog_journal_replayed_messages_total",
    "Messages replayed at startup from journal segments left by a crash",
    [],
  );

  /** The version, as a label of a gauge that is always 1. */
  readonly buildInfo = this.#gauge("kinesyslog_build_info", "Always 1; labels say what is running", [
    "version",
    "deno",
    "v8",
  ]);

  /** Creates the metrics, with the process metrics Prometheus expects of any exporter. */
  constructor() {
    this.buildInfo.set({ version: VERSION, deno: Deno.version.deno, v8: Deno.version.v8 }, 1);
    // Standard names (https://prometheus.io/docs/instrumenting/writing_clientlibs/#process-metrics),
    // read from Deno itself: prom-client's own collectors read /proc, which the relay may not.
    const started = Date.now() / 1000 - performance.now() / 1000;
    const registers = [this.registry];
    new client.Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes",
      registers,
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
    new client.Gauge({
      name: "process_heap_bytes",
      help: "JavaScript heap in use, in bytes",
      registers,
      collect() {
        this.set(Deno.memoryUsage().heapUsed);
      },
    });
    new client.Counter({
      name: "process_cpu_seconds_total",
      help: "User and system CPU time spent, in seconds",
      registers,
      collect() {
        const { user, system } = process.cpuUsage();
        this.reset();
        this.inc((user + system) / 1e6);
      },
    });
    new client.Gauge({
      name: "process_start_time_seconds",
      help: "Start time of the process since the Unix epoch, in seconds",
      registers,
    }).set(Math.round(started));
  }

  #counter(name: string, help: string, labelNames: string[]): client.Counter<string> {
    return new client.Counter({ name, help, labelNames, registers: [this.registry] });
  }

  #liveGauge(name: string, help: string, read: () => number): client.Gauge<string> {
    return new client.Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  #gauge(name: string, help: string, labelNames: string[]): client.Gauge<string> {
    return new client.Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}
