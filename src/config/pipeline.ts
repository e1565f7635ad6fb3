/**
 * The relay's pipeline, typed: its sources (listeners), its sinks (destinations, each with its
 * record format) and the routes between them. The flags make a pipeline of one sink, named
 * `default`, that every listener feeds; a configuration file (`config_file.ts`) makes any.
 *
 * @module
 */
/** The record formats, by their `--record-format` names (`batch/record_formats.ts` has the formats). */
export const RECORD_FORMAT_NAMES = ["cwl", "ndjson", "kpl"] as const;
/** A `--record-format` value. */
export type RecordFormatName = typeof RECORD_FORMAT_NAMES[number];
/** `--record-compression`: gzip, or none (NDJSON only). */
export type RecordCompression = "gzip" | "none";
/** The AWS services a sink's `streams` may be of: Firehose delivery streams or Kinesis data streams. */
export const SINK_SERVICES = ["firehose", "kinesis"] as const;
/** The AWS service of a sink's streams. */
export type SinkService = typeof SINK_SERVICES[number];
/** `--partition-key`: how a Kinesis data stream's records are keyed (and so spread over its shards). */
export const PARTITION_KEYS = ["random", "source"] as const;
/** How a Kinesis data stream's records are keyed: at random, or by their source address. */
export type PartitionKeyMode = typeof PARTITION_KEYS[number];

/** What a source speaks. */
export const SOURCE_PROTOCOLS = ["syslog", "gelf", "relp"] as const;
/** What a source speaks: syslog (RFC 6587 framing on a stream), GELF, or RELP. */
export type SourceProtocol = typeof SOURCE_PROTOCOLS[number];
/** How a source's messages arrive. */
export const SOURCE_TRANSPORTS = ["udp", "tcp", "tls"] as const;
/** How a source's messages arrive. */
export type SourceTransport = typeof SOURCE_TRANSPORTS[number];

/** One listener. */
export interface SourceSpec {
  /** The name routes match (`listener`); the metrics label unless given: `udp/514`, `gelf-tls/12201`. */
  name: string;
  /** The metrics label: `<protocol>/<port>`, GELF ones `gelf-<protocol>/<port>`, RELP `relp[-tls]/<port>`. */
  label: string;
  protocol: SourceProtocol;
  transport: SourceTransport;
  port: number;
  /** Whether connections start with a PROXY protocol header (TCP and TLS only). */
  proxy: boolean;
  /**
   * IANA time zone of RFC 3164 timestamps, which carry none; `undefined` reads them as UTC.
   * Timestamps that carry a zone (RFC 5424, RFC 3339) keep theirs.
   */
  timeZone: string | undefined;
  /** What this source sets for itself over the relay-wide options (a file's source only). */
  settings: SourceSettings;
}

/**
 * Options one source may give itself, each over the relay-wide one it names: the bind address
 * (`listen.address`), the longest message (`listen.max_message_size`), and for TCP and TLS the
 * connection limits (`edge.max_connections`, `edge.max_connections_per_source`,
 * `edge.idle_timeout`, `edge.handshake_timeout`; seconds for the timeouts, 0 idle is off).
 */
export interface SourceSettings {
  address?: string;
  maxMessageSize?: number;
  maxConnections?: number;
  maxConnectionsPerSource?: number;
  idleTimeout?: number;
  handshakeTimeout?: number;
}

/** A source's own settings: the file's keys and the options whose table entry parses them. */
export const SOURCE_SETTINGS: readonly { key: string; option: string; field: keyof SourceSettings; stream?: true }[] = [
  { key: "address", option: "address", field: "address" },
  { key: "max_message_size", option: "max-message-size", field: "maxMessageSize" },
  { key: "max_connections", option: "max-connections", field: "maxConnections", stream: true },
  {
    key: "max_connections_per_source",
    option: "max-connections-per-source",
    field: "maxConnectionsPerSource",
    stream: true,
  },
  { key: "idle_timeout", option: "idle-timeout", field: "idleTimeout", stream: true },
  { key: "handshake_timeout", option: "handshake-timeout", field: "handshakeTimeout", stream: true },
];

/** An IAM role a sink delivers as (STS `AssumeRole`). */
export interface RoleSpec {
  arn: string;
  /** What the role's trust policy asks for, if anything. */
  externalId: string | undefined;
  /** The sessions' name (CloudTrail shows it). */
  sessionName: string;
}

/** One destination and the records it gets. */
export interface SinkSpec {
  /** Its name, as routes say it; records of the sink `default` are spooled at the top of the spool directory. */
  name: string;
  /** Streams of {@linkcode SinkSpec.service} (records spread over them by their quotas); empty with `outputDir`. */
  streams: string[];
  /** Whether `streams` are Firehose delivery streams or Kinesis data streams. */
  service: SinkService;
  /**
   * How records of a Kinesis data stream are keyed: `random` spreads them over its shards,
   * `source` keeps each source address on one shard, its events in order (and its records
   * apart from other sources'). Firehose and local sinks take `random`.
   */
  partitionKey: PartitionKeyMode;
  /** The role its calls are made as; `undefined`: the relay's own credentials. */
  role: RoleSpec | undefined;
  /** A local directory instead of Firehose. */
  outputDir: string | undefined;
  recordFormat: RecordFormatName;
  recordCompression: RecordCompression;
  /** gzip level, 1 to 9. */
  compressionLevel: number;
  /** Prefix of the records' `logGroup`, without a trailing slash. */
  groupPrefix: string;
}

/** A rate limit per source address: `messages` per second on average, `burst` at once. */
export interface RateLimitSpec {
  messages: number;
  burst: number;
}

/** What a route matches; every field given must hold (an absent one matches anything). */
export interface MatchSpec {
  /** Source address ranges (CIDR or single addresses), any of them. */
  sources?: string[];
  /** Listener names or labels, any of them. */
  listeners?: string[];
  /** Facility codes (0 to 23), any of them. */
  facilities?: number[];
  /** Severity code: this one or more severe (a lower code). */
  severity?: number;
  /** Host names (case-insensitive), any of them. */
  hostnames?: string[];
  /** App names (RFC 5424 APP-NAME, RFC 3164 TAG), any of them. */
  appNames?: string[];
  /** A regular expression the message text must match. */
  message?: string;
}

/** One route: what it matches, and where those messages go. */
export interface RouteSpec {
  name: string;
  match: MatchSpec;
  /** Sinks the matched messages go to; empty with `drop`. */
  sinks: string[];
  /** The matched messages are dropped (counted), and no later route sees them. */
  drop: boolean;
  /** No later route sees the matched messages. */
  final: boolean;
  /** 1 in `sample` matched messages is kept; the others are dropped (counted) and no later route sees them. */
  sample: number;
  /** At most this rate per source address; the excess is dropped (counted) and no later route sees it. */
  rateLimit: RateLimitSpec | undefined;
}

/** The relay's sources, sinks and routes. */
export interface Pipeline {
  sources: SourceSpec[];
  sinks: SinkSpec[];
  /** In order: each matching route adds its sinks, until a final or dropping one. */
  routes: RouteSpec[];
  /** Where a message no route takes goes; `undefined` drops it, counted as `unrouted`. */
  defaultSink: string | undefined;
}

/** The name of the flags' one sink, and the sink whose records stay at the top of the spool directory. */
export const DEFAULT_SINK = "default";

/** Most sinks: a message's sinks are a bit set of 31 bits in the ingest. */
export const MAX_SINKS = 31;

/** The metrics label of a listener. */
export function sourceLabel(s: Pick<SourceSpec, "protocol" | "transport" | "port">): string {
  if (s.protocol === "relp") return `relp${s.transport === "tls" ? "-tls" : ""}/${s.port}`;
  return `${s.protocol === "gelf" ? "gelf-" : ""}${s.transport}/${s.port}`;
}
