/**
 * The option table of `kinesyslog listen`, as Fluent Bit's `config_map[]`: every option once,
 * with its argument, group, kind of value and bounds, default and help. The command line
 * (`cli.ts`), the `KINESYSLOG_*` variables, `--help`, `kinesyslog install`'s override file
 * and `docs/options.md` are all made from it.
 *
 * Bounds say what a value means: a timeout of at most a day, a size of at most what a disk or
 * the relay's memory bounds could use, connections within the descriptors a process may have.
 * A duration the relay schedules is also clamped where it is scheduled (`timer.ts`).
 *
 * @module
 */
import { LEVELS, LOG_FORMATS } from "../log.ts";
import { DEFAULT_READY_DELIVERY_TIMEOUT_S } from "../metrics/readiness.ts";
import {
  DEFAULT_HANDSHAKE_TIMEOUT_S,
  DEFAULT_IDLE_TIMEOUT_S,
  DEFAULT_MAX_CONNECTIONS,
} from "../listen/stream_listener.ts";
import { DEFAULT_PUT_TIMEOUT_MS } from "../firehose/record_sink.ts";
import {
  BUFFER_OVERHEAD_BYTES,
  DEFAULT_FLUSH_BYTES,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_OPEN_BUFFERS,
} from "../batch/batcher.ts";
import { DEFAULT_METRICS_MAX_CONNECTIONS } from "../metrics/metrics_server.ts";
import { DEFAULT_FSYNC_INTERVAL_MS } from "../journal/journal.ts";
import { GZIP_LEVEL } from "../spool/gzip_deflater.ts";
import { DEFAULT_SPOOL_WORKERS, MAX_SPOOL_WORKERS } from "../spool/spool_worker_client.ts";
import { address, bytes, count, ports, seconds, shaped, text, type ValueKind, words } from "./option_values.ts";

/** The groups the options are documented in, in order. */
export const OPTION_GROUPS = [
  "Delivery",
  "Listeners",
  "TLS",
  "Network edge",
  "Batching and records",
  "Spool and journal",
  "Metrics and logs",
] as const;

/** A group of options. */
export type OptionGroup = typeof OPTION_GROUPS[number];

/** One option of `kinesyslog listen`. */
export interface OptionSpec {
  /** The flag without its dashes: `max-connections`; `no-journal` for a negated switch. */
  name: string;
  /**
   * Its key in a configuration file, `<section>.<name>` (`spool.max_size`); a negated
   * switch's key is the positive (`journal.enabled: false`). Absent for the flags that the
   * file's `sources` and `sinks` replace (the port flags, `--stream`, `--output-dir`).
   */
  key?: string;
  /** The argument's placeholder (`<n>`); absent for a switch. */
  arg?: string;
  /** Where it is documented. */
  group: OptionGroup;
  /** What it does, one line (`--help`). */
  help: string;
  /** More for the documentation (Markdown), where one line does not say it all. */
  doc?: string;
  /** The kind of value and its bounds; absent for a switch and for `choices`. */
  value?: ValueKind<unknown>;
  /** The values accepted, for a choice. */
  choices?: readonly string[];
  /** The default value; absent when there is none. */
  default?: unknown;
  /** The default as the help says it, where the value alone does not say it. */
  defaultText?: string;
  /** Accepted, but left out of the help (a predecessor's name). */
  hidden?: boolean;
}

/** The default TLS ports (`--tls-port`). */
export const DEFAULT_TLS_PORTS: readonly number[] = [6514];
/**
 * The receive buffer asked for each UDP socket: 32 MiB (the kernel grants 64 MiB of its
 * accounting where the process may force it), about 40,000 datagrams of 200 bytes: a burst
 * like `loggen`'s (0.9 s of 50,000/s at once) is held, where 8 MiB lost some in the kernel
 * (BENCHMARKS.md). Kernel memory, used only while datagrams wait; not in the relay's RSS.
 */
export const DEFAULT_UDP_RECV_BUFFER = 32 * 1_048_576;
/** Largest receive buffer one may ask for (the kernel takes an `int` and doubles it). */
const MAX_UDP_RECV_BUFFER = 1_073_741_824;
/** Most `--tcp-workers`: beyond a few, the main thread's journal and batches are the bound. */
export const MAX_TCP_WORKERS = 16;
/**
 * Largest `--max-message-size`: one message must fit in one record (1,024,000 bytes after
 * compression) even in the worst case of JSON escaping and incompressible text.
 */
export const MAX_MESSAGE_SIZE_LIMIT = 262_144;
/**
 * The most descriptors one Linux process may have (`fs.nr_open`'s default): no count of
 * connections can be larger. The process's own limit is checked at startup (`cli.ts`).
 */
export const MAX_DESCRIPTORS = 1_048_576;
/** A day, in seconds: the longest timeout or interval any option takes. */
export const DAY_S = 86_400;
/** An hour, in seconds. */
const HOUR_S = 3_600;
/**
 * Longest `--request-timeout`: Firehose answers a PutRecordBatch in seconds; a request
 * unanswered for ten minutes is lost, and the records it held wait in the spool meanwhile.
 */
export const MAX_REQUEST_TIMEOUT_S = 600;
/** Largest `--spool-max-size`: a pebibyte, more than one disk holds. */
const MAX_SPOOL_BYTES = 1024 ** 5;
/** Largest `--worker-memory-limit`: a tebibyte of resident memory. */
const MAX_WORKER_MEMORY = 1024 ** 4;
/**
 * Most `--max-open-buffers`: past the memory all buffers may hold together, with each open
 * buffer's own cost, the memory bound flushes before this one could.
 */
const MAX_OPEN_BUFFERS = DEFAULT_MAX_BUFFERED_BYTES / BUFFER_OVERHEAD_BYTES;

const PORT = "<port>";

/** Every option of `kinesyslog listen`, in `--help`'s order. */
export const LISTEN_OPTIONS: readonly OptionSpec[] = [
  {
    name: "config",
    arg: "<file>",
    group: "Delivery",
    help: "read sources, sinks, routes and options from a YAML file; flags and KINESYSLOG_* variables win over it",
    value: text(),
    doc:
      "The file's `sources` replace the port flags and its `sinks` replace `--stream` and `--output-dir` (giving both is an error); every other option is the key shown here. Check a file with `kinesyslog check-config FILE` ([pipelines](pipelines.md)).",
  },
  {
    name: "stream",
    arg: "<name>",
    group: "Delivery",
    help: "Firehose delivery stream; repeatable: records spread over the streams by their quotas",
    value: words(),
    doc:
      "One of `--stream`, `--kinesis-stream` or `--output-dir`. Several streams share the load: records go to whichever has room by the quota the relay has learned for each ([delivery](delivery.md)).",
  },
  {
    name: "kinesis-stream",
    arg: "<name>",
    group: "Delivery",
    help: "Kinesis data stream (PutRecords) instead of Firehose; repeatable: records spread over the streams",
    value: words(),
    doc:
      "Records are paced to what each stream accepts, shard quotas included; `--partition-key` says how they spread over the shards ([Kinesis Data Streams](kinesis.md)).",
  },
  {
    name: "partition-key",
    key: "delivery.partition_key",
    arg: "<mode>",
    group: "Delivery",
    help:
      "partition key of Kinesis data stream records: random (spread over the shards) or source (one shard per source address, its events in order)",
    choices: ["random", "source"],
    default: "random",
    doc:
      "With `source` each record holds one source's events (NDJSON records are not shared by sources) and its key is a hash of the source address ([Kinesis Data Streams](kinesis.md#partition-keys)).",
  },
  {
    name: "no-stream-check",
    key: "delivery.stream_check",
    group: "Delivery",
    help:
      "do not check each --stream with DescribeDeliveryStream at startup (by default one that does not exist stops the start)",
  },
  {
    name: "output-dir",
    arg: "<dir>",
    group: "Delivery",
    help: "deliver each record as a file in DIR instead of Firehose",
    value: text(),
  },
  {
    name: "address",
    key: "listen.address",
    arg: "<addr>",
    group: "Listeners",
    help: "bind address of every listener (IPv4 or IPv6)",
    value: address(),
    default: "0.0.0.0",
  },
  { name: "udp-port", arg: PORT, group: "Listeners", help: "UDP syslog port; repeatable; 0 is off", value: ports() },
  {
    name: "udp-recv-buffer",
    key: "listen.udp_recv_buffer",
    arg: "<bytes>",
    group: "Listeners",
    help:
      "receive buffer asked for each UDP socket (SO_RCVBUF; needs --allow-ffi for libc); 0 keeps the kernel's default",
    value: bytes(0, MAX_UDP_RECV_BUFFER),
    default: DEFAULT_UDP_RECV_BUFFER,
    defaultText: "32M",
    doc:
      "Set through libc's `setsockopt`, GELF sockets too; the size the kernel granted is logged and exported. Without `--allow-ffi` the kernel's default stays ([network edge](network-edge.md#udp-receive-buffer)).",
  },
  { name: "tcp-port", arg: PORT, group: "Listeners", help: "TCP syslog port; repeatable; 0 is off", value: ports() },
  {
    name: "tls-port",
    arg: PORT,
    group: "Listeners",
    help: "TLS syslog port; repeatable; 0 is off; needs --cert and --key",
    value: ports(DEFAULT_TLS_PORTS),
    default: DEFAULT_TLS_PORTS,
    defaultText: "6514",
  },
  {
    name: "port",
    arg: PORT,
    group: "Listeners",
    help: "the predecessor's name for --tls-port (kept for compatibility)",
    value: ports(),
    hidden: true,
  },
  { name: "gelf", group: "Listeners", help: "every listener of this process speaks GELF instead of syslog" },
  {
    name: "gelf-udp-port",
    arg: PORT,
    group: "Listeners",
    help: "UDP GELF port beside the syslog ones; repeatable; 0 is off",
    value: ports(),
  },
  {
    name: "gelf-tcp-port",
    arg: PORT,
    group: "Listeners",
    help: "TCP GELF port (NUL-delimited); repeatable; 0 is off",
    value: ports(),
  },
  {
    name: "gelf-tls-port",
    arg: PORT,
    group: "Listeners",
    help: "TLS GELF port (NUL-delimited); repeatable; 0 is off; needs --cert and --key",
    value: ports(),
  },
  {
    name: "relp-port",
    arg: PORT,
    group: "Listeners",
    help: "RELP port (rsyslog omrelp): every message acknowledged once durable; repeatable",
    value: ports(),
  },
  {
    name: "relp-tls-port",
    arg: PORT,
    group: "Listeners",
    help: 'RELP over TLS (omrelp tls="on"); repeatable; needs --cert and --key',
    value: ports(),
  },
  {
    name: "relp-ack",
    key: "listen.relp_ack",
    arg: "<when>",
    group: "Listeners",
    help:
      "acknowledge a RELP message once journaled (written: a crash of the relay loses none) or also fsynced (fsync: a power cut neither)",
    choices: ["written", "fsync"],
    default: "written",
    doc: "With `--no-journal`, a message is answered once its record is in the spool ([protocols](protocols.md#relp)).",
  },
  {
    name: "cert",
    key: "tls.cert",
    arg: "<path>",
    group: "TLS",
    help: "PEM certificate chain for TLS",
    value: text(),
    doc:
      "Checked to be a pair with `--key` at startup (exit 1) and on SIGHUP, which reloads both; a bad pair keeps the old one, logged and counted.",
  },
  { name: "key", key: "tls.key", arg: "<path>", group: "TLS", help: "PEM private key for TLS", value: text() },
  {
    name: "client-ca",
    key: "tls.client_ca",
    arg: "<path>",
    group: "TLS",
    help: "PEM CA bundle to verify client certificates (mutual TLS)",
    value: text(),
  },
  {
    name: "client-auth",
    key: "tls.client_auth",
    arg: "<mode>",
    group: "TLS",
    help: "client certificates: none, optional or required",
    choices: ["none", "optional", "required"],
    defaultText: "required with --client-ca, else none",
  },
  {
    name: "client-allow",
    key: "tls.client_allow",
    arg: "<name>",
    group: "TLS",
    help: "with --client-auth required: a client certificate CN or SAN to accept; repeatable; *.domain allowed",
    value: words(),
    doc:
      "Matched by RFC 6125: a dNSName subjectAltName (the subject CN only when there is none), an iPAddress one for an IP; `*.example.net` stands for one label; email and URI names never match.",
  },
  {
    name: "client-crl",
    key: "tls.client_crl",
    arg: "<path>",
    group: "TLS",
    help: "PEM revocation lists of the --client-ca CAs: a revoked client certificate is refused (reloaded on SIGHUP)",
    value: text(),
    doc:
      "Each list must be signed by a CA of `--client-ca`. Only the client's own certificate is looked up, not the intermediate CAs of its chain. A list past its next update is logged and still applied.",
  },
  {
    name: "tls-min-version",
    key: "tls.min_version",
    arg: "<version>",
    group: "TLS",
    help: "oldest TLS version a client may use (TLS 1.1 and older are never spoken)",
    choices: ["1.2", "1.3"],
    default: "1.2",
  },
  {
    name: "tls-ciphers",
    key: "tls.ciphers",
    arg: "<suites>",
    group: "TLS",
    help: "TLS 1.2 suites a client may use, OpenSSL names separated by colons (default: all the relay speaks, " +
      "AEAD with forward secrecy only)",
    value: words(),
    doc:
      'Deno\'s TLS speaks only AEAD suites with forward secrecy; this narrows them. The suite is judged once the handshake has chosen it, and a connection on another is ended and counted (`reason="cipher_not_allowed"`).',
  },
  {
    name: "tls-ciphersuites",
    key: "tls.ciphersuites",
    arg: "<suites>",
    group: "TLS",
    help: "TLS 1.3 suites a client may use, separated by colons (default: all three)",
    value: words(),
  },
  {
    name: "proxy-protocol",
    arg: PORT,
    group: "Network edge",
    help: "a TCP or TLS port whose connections start with a PROXY v1/v2 header; repeatable",
    value: ports(),
  },
  {
    name: "max-connections",
    key: "edge.max_connections",
    arg: "<n>",
    group: "Network edge",
    help:
      "open connections per TCP/TLS listener; at the limit the one that completed no message for longest makes room",
    value: count(1, MAX_DESCRIPTORS),
    default: DEFAULT_MAX_CONNECTIONS,
    doc:
      "At the limit, the connection that has completed no message for longest (at least 2 s) makes room; otherwise the new one is refused. At most the descriptors the process may open (`ulimit -n`).",
  },
  {
    name: "idle-timeout",
    key: "edge.idle_timeout",
    arg: "<seconds>",
    group: "Network edge",
    help: "close a TCP/TLS connection silent this long; 0 is off",
    value: seconds(1, DAY_S, { off: true }),
    default: DEFAULT_IDLE_TIMEOUT_S,
  },
  {
    name: "handshake-timeout",
    key: "edge.handshake_timeout",
    arg: "<seconds>",
    group: "Network edge",
    help: "time for the PROXY header and the TLS handshake",
    value: seconds(0.1, HOUR_S),
    default: DEFAULT_HANDSHAKE_TIMEOUT_S,
  },
  {
    name: "spool-dir",
    key: "spool.dir",
    arg: "<dir>",
    group: "Spool and journal",
    help: "where records wait for delivery",
    value: text(),
    default: "/var/spool/kinesyslog",
  },
  {
    name: "spool-max-size",
    key: "spool.max_size",
    arg: "<bytes>",
    group: "Spool and journal",
    help: "bound on the spool (records and journal); when full, TCP/TLS senders are slowed and UDP dropped",
    value: bytes(1_048_576, MAX_SPOOL_BYTES),
    default: 1_073_741_824,
    defaultText: "1G",
    doc:
      "When full, TCP/TLS senders are slowed and UDP messages dropped (counted). Sizes take units: `10G`, `512M`, `64K` (powers of 1024; `GB`, `MB`, `KB` of 1000).",
  },
  {
    name: "fsync-interval",
    key: "journal.fsync_interval",
    arg: "<seconds>",
    group: "Spool and journal",
    help: "how often the journal is fsynced: the most a power cut loses (a crash of the relay loses at most 0.1 s)",
    value: seconds(0.01, HOUR_S),
    default: DEFAULT_FSYNC_INTERVAL_MS / 1000,
  },
  {
    name: "no-journal",
    key: "journal.enabled",
    group: "Spool and journal",
    help: "keep buffered messages only in memory (a crash loses them)",
  },
  {
    name: "request-timeout",
    key: "delivery.request_timeout",
    arg: "<seconds>",
    group: "Delivery",
    help: "longest wait for one PutRecordBatch response",
    value: seconds(1, MAX_REQUEST_TIMEOUT_S),
    default: DEFAULT_PUT_TIMEOUT_MS / 1000,
  },
  {
    name: "region",
    key: "delivery.region",
    arg: "<region>",
    group: "Delivery",
    help: "AWS region (default: the SDK's chain)",
    value: text(),
  },
  {
    name: "profile",
    key: "delivery.profile",
    arg: "<name>",
    group: "Delivery",
    help: "AWS credentials profile (default: the SDK's chain)",
    value: text(),
  },
  {
    name: "endpoint-url",
    key: "delivery.endpoint_url",
    arg: "<url>",
    group: "Delivery",
    help: "Firehose or Kinesis endpoint override (VPC endpoint, local endpoint)",
    value: text(),
  },
  {
    name: "https-proxy",
    key: "delivery.https_proxy",
    arg: "<url>",
    group: "Delivery",
    help: "HTTPS proxy for every AWS call (overrides HTTPS_PROXY); none for hosts of --noproxy or NO_PROXY",
    value: shaped(/^https?:\/\/\S+$/, "a proxy URL (http://proxy.example:3128)"),
    doc:
      "Without it, `HTTPS_PROXY` (or `https_proxy`) is used when set, as Deno's HTTP client reads it; the startup log says which proxy is in use ([delivery](delivery.md#roles-proxies-and-endpoints)).",
  },
  {
    name: "noproxy",
    key: "delivery.no_proxy",
    arg: "<hosts>",
    group: "Delivery",
    help:
      "hosts reached without the proxy, comma-separated, as curl's --noproxy (overrides NO_PROXY): .example.com,10.0.0.1",
    value: text(),
  },
  {
    name: "use-fips-endpoint",
    key: "delivery.use_fips_endpoint",
    group: "Delivery",
    help: "call AWS at its FIPS 140 endpoints; the start fails in a region without them",
  },
  {
    name: "use-dualstack-endpoint",
    key: "delivery.use_dualstack_endpoint",
    group: "Delivery",
    help: "call AWS at its dual-stack (IPv4 and IPv6) endpoints",
  },
  {
    name: "role-arn",
    key: "delivery.role_arn",
    arg: "<arn>",
    group: "Delivery",
    help: "IAM role to deliver as, assumed with STS AssumeRole (a central logging account's); per sink in the file",
    value: shaped(
      /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]{1,512}$/,
      "an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
    ),
    doc:
      "The relay's own credentials (the SDK's chain, `--profile`) assume the role; its temporary credentials are cached and renewed five minutes before they expire ([delivery](delivery.md#roles-proxies-and-endpoints)).",
  },
  {
    name: "external-id",
    key: "delivery.external_id",
    arg: "<id>",
    group: "Delivery",
    help: "external id that --role-arn's trust policy asks for",
    value: shaped(/^[\w+=,.@:\/-]{2,1224}$/, "2 to 1,224 letters, digits and +=,.@:/-"),
  },
  {
    name: "role-session-name",
    key: "delivery.role_session_name",
    arg: "<name>",
    group: "Delivery",
    help: "session name of --role-arn's sessions, as CloudTrail shows it",
    value: shaped(/^[\w+=,.@-]{2,64}$/, "2 to 64 letters, digits and +=,.@-"),
    default: "kinesyslog",
  },
  {
    name: "group-prefix",
    key: "records.group_prefix",
    arg: "<text>",
    group: "Batching and records",
    help: "prefix of logGroup in records",
    value: text(),
    default: "/kinesyslog",
  },
  {
    name: "prometheus-port",
    key: "metrics.ports",
    arg: PORT,
    group: "Metrics and logs",
    help: "HTTP port for /metrics, /health and /ready; repeatable; 0 is off",
    value: ports(),
  },
  {
    name: "metrics-address",
    key: "metrics.address",
    arg: "<addr>",
    group: "Metrics and logs",
    help: "bind address of the metrics ports",
    value: address(),
    defaultText: "--address",
  },
  {
    name: "metrics-max-connections",
    key: "metrics.max_connections",
    arg: "<n>",
    group: "Metrics and logs",
    help: "open connections per metrics port; more are refused",
    value: count(1, MAX_DESCRIPTORS),
    default: DEFAULT_METRICS_MAX_CONNECTIONS,
    doc: "More are closed at once. Each request must arrive and be answered within 10 s.",
  },
  {
    name: "metrics-reload",
    key: "metrics.reload",
    group: "Metrics and logs",
    help: "POST /-/reload on the metrics ports reloads as SIGHUP does (off: anyone who reaches the port could)",
    doc:
      'For a platform where a signal is awkward to send (a configuration watcher beside the relay in a pod). It answers 200 with `{"result":"ok"}` or `"unchanged"`, 400 `invalid`, 409 `restart_needed`; other methods than POST get 405. Off by default, as Prometheus keeps its own lifecycle endpoints off unless asked: the metrics ports have no authentication, so keep them on an address only the platform reaches (`--metrics-address`).',
  },
  {
    name: "allow-from",
    key: "edge.allow_from",
    arg: "<cidr>",
    group: "Network edge",
    help: "accept only sources in this range (IPv4 or IPv6 CIDR, or one address); repeatable; default: any",
    value: words(),
    doc: "Others: datagrams dropped, connections closed before any TLS handshake, both counted (`not_allowed`).",
  },
  {
    name: "max-connections-per-source",
    key: "edge.max_connections_per_source",
    arg: "<n>",
    group: "Network edge",
    help: "open connections from one source address per TCP/TLS listener; 0 is no cap",
    value: count(0, MAX_DESCRIPTORS),
    default: 0,
  },
  {
    name: "max-open-buffers",
    key: "batching.max_open_buffers",
    arg: "<n>",
    group: "Batching and records",
    help: "sender buffers (one per log group and source) held at once; past it the oldest is flushed",
    value: count(1, MAX_OPEN_BUFFERS),
    default: DEFAULT_MAX_OPEN_BUFFERS,
    doc: "The buffer with the oldest first event is flushed into a record of its own.",
  },
  {
    name: "max-message-size",
    key: "listen.max_message_size",
    arg: "<bytes>",
    group: "Network edge",
    help: "longer messages are truncated and counted",
    value: bytes(64, MAX_MESSAGE_SIZE_LIMIT),
    default: 65_536,
    defaultText: "64K",
  },
  {
    name: "flush-size",
    key: "batching.flush_size",
    arg: "<bytes>",
    group: "Batching and records",
    help: "raw bytes of one sender's buffer that trigger a flush (at most the memory all buffers share)",
    value: bytes(1, DEFAULT_MAX_BUFFERED_BYTES),
    default: DEFAULT_FLUSH_BYTES,
    defaultText: "4M",
  },
  {
    name: "flush-interval",
    key: "batching.flush_interval",
    arg: "<seconds>",
    group: "Batching and records",
    help: "age of a buffer that triggers a flush",
    value: seconds(0.1, DAY_S),
    default: 60,
  },
  {
    name: "spool-workers",
    key: "spool.workers",
    arg: "<n>",
    group: "Spool and journal",
    help: "workers that build and compress records (one core each)",
    value: count(1, MAX_SPOOL_WORKERS),
    default: DEFAULT_SPOOL_WORKERS,
    doc:
      "The first starts at once, another once all have been busy for 2 s and it fits `--worker-memory-limit`, and one idle for a minute stops (`kinesyslog_spool_workers`); each costs about 12 MB idle, 20 MB at work ([BENCHMARKS.md](../BENCHMARKS.md)).",
  },
  {
    name: "tcp-workers",
    key: "listen.tcp_workers",
    arg: "<n>",
    group: "Listeners",
    help: "workers that accept, read and frame plain TCP connections beside the main thread, sharing each TCP port " +
      "(SO_REUSEPORT); for 8 cores and more",
    value: count(0, MAX_TCP_WORKERS),
    default: 0,
    doc:
      "Each listens on the same port; the kernel spreads new connections over them and the main thread, and the frames go to the main thread's journal and batches. `--max-connections` and `--max-connections-per-source` are split among them. Not TLS or RELP. On 2 cores it only adds a thread ([development](development.md#design-choices)).",
  },
  {
    name: "worker-memory-limit",
    key: "spool.worker_memory_limit",
    arg: "<bytes>",
    group: "Spool and journal",
    help: "another spool worker starts only while resident memory plus its ~20 MiB stays within this; 0 is no limit",
    value: bytes(0, MAX_WORKER_MEMORY),
    defaultText: "110 MiB + 20 MiB per --spool-workers and --tcp-workers",
    doc:
      "Past it the busy workers are left to it, counted (`kinesyslog_spool_workers_held_back_total`) and logged. Buffers and queues have bounds of their own.",
  },
  {
    name: "compression-level",
    key: "records.compression_level",
    arg: "<n>",
    group: "Batching and records",
    help: "gzip level of records: 1 is fastest, 9 smallest",
    value: count(1, 9),
    default: GZIP_LEVEL,
    doc: "Level 4 builds records about 35% faster and makes them about 5% larger.",
  },
  {
    name: "record-format",
    key: "records.format",
    arg: "<format>",
    group: "Batching and records",
    help:
      "records as CloudWatch Logs subscription data (cwl), one JSON object per event and line with parsed fields (ndjson), or KPL-aggregated NDJSON events (kpl, Kinesis data streams only)",
    choices: ["cwl", "ndjson", "kpl"],
    default: "cwl",
    doc:
      "`cwl` keeps the raw message; `ndjson` carries the parsed syslog and GELF fields ([records](records.md#record-formats-cwl-and-ndjson)); `kpl` makes each NDJSON event a user record of a KPL aggregated record, never compressed ([Kinesis Data Streams](kinesis.md#aggregated-records)).",
  },
  {
    name: "record-compression",
    key: "records.compression",
    arg: "<mode>",
    group: "Batching and records",
    help: "gzip, or none (only with --record-format ndjson)",
    choices: ["gzip", "none"],
    default: "gzip",
    doc: "`none` is for destinations that read the records themselves (dynamic partitioning, Splunk, HTTP endpoints).",
  },
  {
    name: "shutdown-grace",
    key: "listen.shutdown_grace",
    arg: "<seconds>",
    group: "Spool and journal",
    help: "at shutdown, how long open connections may take to finish",
    value: seconds(0.1, HOUR_S),
    default: 5,
  },
  {
    name: "ready-delivery-timeout",
    key: "metrics.ready_delivery_timeout",
    arg: "<seconds>",
    group: "Metrics and logs",
    help: "/ready fails once deliveries have failed this long with nothing delivered; 0 is never",
    value: seconds(1, DAY_S, { off: true }),
    default: DEFAULT_READY_DELIVERY_TIMEOUT_S,
  },
  {
    name: "log-level",
    key: "log.level",
    arg: "<level>",
    group: "Metrics and logs",
    help: "lowest level logged to stderr",
    choices: LEVELS,
    default: "info",
  },
  {
    name: "log-format",
    key: "log.format",
    arg: "<format>",
    group: "Metrics and logs",
    help: "log lines as text or JSON",
    choices: LOG_FORMATS,
    default: "text",
  },
  { name: "debug", group: "Metrics and logs", help: "the same as --log-level debug" },
];

/** The environment variable of an option: `KINESYSLOG_MAX_CONNECTIONS`. */
export function envName(spec: Pick<OptionSpec, "name">): string {
  return `KINESYSLOG_${spec.name.toUpperCase().replaceAll("-", "_")}`;
}

/** The flag as `--help` shows it: `--max-connections <n>`. */
export function flags(spec: Pick<OptionSpec, "name" | "arg">): string {
  return spec.arg === undefined ? `--${spec.name}` : `--${spec.name} ${spec.arg}`;
}

/** The default as a person reads it (lists space-separated), or undefined when there is none. */
export function defaultText(spec: OptionSpec): string | undefined {
  if (spec.defaultText !== undefined) return spec.defaultText;
  return spec.default === undefined ? undefined : [spec.default].flat().join(" ");
}
