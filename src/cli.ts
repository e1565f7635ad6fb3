/**
 * The command line (SPEC section 1): `kinesyslog listen [OPTIONS]` runs the relay; every one of
 * its options can also be set as `KINESYSLOG_<OPTION>` (the command line wins; lists are
 * space-separated). `kinesyslog install` writes a systemd unit; `kinesyslog decode` prints
 * the events of record files.
 *
 * @module
 */
import { Command, CommanderError, Option } from "commander";
import type { EventEmitter } from "node:events";
import type { ClientAuthMode } from "./listen/client_auth.ts";
import { type Level, LEVELS, LOG_FORMATS, type LogFormat } from "./log.ts";
import { DEFAULT_READY_DELIVERY_TIMEOUT_S } from "./metrics/readiness.ts";
import {
  DEFAULT_HANDSHAKE_TIMEOUT_S,
  DEFAULT_IDLE_TIMEOUT_S,
  DEFAULT_MAX_CONNECTIONS,
} from "./listen/stream_listener.ts";
import { DEFAULT_PUT_TIMEOUT_MS } from "./firehose/record_sink.ts";
import { DEFAULT_MAX_OPEN_BUFFERS } from "./batch/batcher.ts";
import { DEFAULT_METRICS_MAX_CONNECTIONS } from "./metrics/metrics_server.ts";
import { SourceFilter } from "./listen/source_filter.ts";
import { DEFAULT_FSYNC_INTERVAL_MS } from "./journal/journal.ts";
import { GZIP_LEVEL } from "./spool/gzip_deflater.ts";
import { DEFAULT_SPOOL_WORKERS, defaultWorkerMemoryLimitMiB, MAX_SPOOL_WORKERS } from "./spool/spool_worker_client.ts";
import { VERSION } from "./version.ts";
import type { RecordFormatName } from "./batch/record_formats.ts";
import type { RecordCompression } from "./spool/worker_protocol.ts";

/** When a RELP message is acknowledged (`--relp-ack`). */
export type RelpAck = "written" | "fsync";

/** The relay's configuration, validated. */
export interface Config {
  /** Firehose delivery streams (records spread over them), or none with `outputDir`. */
  streams: string[];
  /** Local delivery directory, or undefined with `stream`. */
  outputDir: string | undefined;
  /** Bind address of every listener. */
  address: string;
  /** UDP syslog ports. */
  udpPorts: number[];
  /** Receive buffer asked for each UDP socket, in bytes (0: the kernel's default). */
  udpRecvBuffer: number;
  /** TCP syslog ports. */
  tcpPorts: number[];
  /** TLS syslog ports. */
  tlsPorts: number[];
  /** UDP GELF ports. */
  gelfUdpPorts: number[];
  /** TCP GELF ports. */
  gelfTcpPorts: number[];
  /** TLS GELF ports. */
  gelfTlsPorts: number[];
  /** RELP ports (plain TCP). */
  relpPorts: number[];
  /** RELP ports over TLS. */
  relpTlsPorts: number[];
  /** When a RELP message is acknowledged: once journaled (`written`), or also fsynced. */
  relpAck: RelpAck;
  /** PEM certificate chain for TLS. */
  cert: string | undefined;
  /** PEM private key for TLS. */
  key: string | undefined;
  /** PEM CA bundle that signs client certificates. */
  clientCa: string | undefined;
  /** Client certificate policy of TLS listeners. */
  clientAuth: ClientAuthMode;
  /** Names a client certificate must carry (CN or subjectAltName), any of them. */
  clientAllow: string[];
  /** TCP and TLS ports whose connections start with a PROXY protocol header. */
  proxyPorts: number[];
  /** Open connections per stream listener, at most. */
  maxConnections: number;
  /** Seconds a connection may wait for data before it is closed; 0 is off. */
  idleTimeout: number;
  /** Seconds for the PROXY header and the TLS handshake. */
  handshakeTimeout: number;
  /** Spool directory. */
  spoolDir: string;
  /** Bound on the spool, in bytes. */
  spoolMaxSize: number;
  /** Whether accepted messages are journaled before they are buffered. */
  journal: boolean;
  /** Whether every `--stream` is checked with `DescribeDeliveryStream` at startup. */
  streamCheck: boolean;
  /** How often the journal is fsynced, in seconds. */
  fsyncInterval: number;
  /** Longest wait for one PutRecordBatch response, in seconds. */
  requestTimeout: number;
  /** AWS region. */
  region: string | undefined;
  /** AWS credentials profile. */
  profile: string | undefined;
  /** Firehose endpoint override. */
  endpointUrl: string | undefined;
  /** Prefix of `logGroup`. */
  groupPrefix: string;
  /** Ports serving `/metrics`, `/health` and `/ready`. */
  prometheusPorts: number[];
  /** Bind address of the metrics ports. */
  metricsAddress: string;
  /** Open connections per metrics port, at most. */
  metricsMaxConnections: number;
  /** Source ranges allowed to send (empty: any). */
  allowFrom: string[];
  /** Open connections from one source address per stream listener, at most; 0 is no cap. */
  maxConnectionsPerSource: number;
  /** Open sender buffers at most. */
  maxOpenBuffers: number;
  /** Longest message kept, in bytes. */
  maxMessageSize: number;
  /** Raw bytes of one buffer that trigger a flush. */
  flushSize: number;
  /** Age of a buffer that triggers a flush, in seconds. */
  flushInterval: number;
  /** Spool workers, at most. */
  spoolWorkers: number;
  /** Workers that accept and read plain TCP connections beside the main thread (`--tcp-workers`). */
  tcpWorkers: number;
  /** Resident memory, in bytes, within which another spool worker may start; 0 is no limit. */
  workerMemoryLimit: number;
  /** gzip level of records. */
  compressionLevel: number;
  /** `--record-format`. */
  recordFormat: RecordFormatName;
  /** `--record-compression`. */
  recordCompression: RecordCompression;
  /** How long connections may take to finish at shutdown, in seconds. */
  shutdownGrace: number;
  /** How long deliveries may fail before `/ready` fails, in seconds; 0 is never. */
  readyDeliveryTimeout: number;
  /** Lowest log level written. */
  logLevel: Level;
  /** Log line format. */
  logFormat: LogFormat;
}

/** Options of `kinesyslog install`. */
export interface InstallOptions {
  /** Directory the unit is written to. */
  systemDir: string;
  /** Account the service runs as; undefined runs it as a systemd dynamic user. */
  user: string | undefined;
  /** Path of the kinesyslog binary; undefined is the running one. */
  exec: string | undefined;
}

/** Options of `kinesyslog decode`. */
export interface DecodeOptions {
  /** Record files, S3 objects, or spool directories; none reads stdin. */
  files: string[];
  /** Print totals instead of events. */
  count: boolean;
}

/** An option of `kinesyslog listen`, as the environment sees it (for the systemd override file). */
export interface ListenOption {
  /** The flag with its argument, as in `--help`: `--udp-port <port>`. */
  flags: string;
  /** The environment variable. */
  env: string;
  /** What it does. */
  description: string;
  /** The default value (lists space-separated); undefined when there is none. */
  default: string | undefined;
  /** The default as `--help` describes it; undefined when there is none. */
  defaultText: string | undefined;
  /** A switch without a value. */
  boolean: boolean;
}

/**
 * Largest `--max-message-size`: one message must fit in one record (1,024,000 bytes after
 * compression) even in the worst case of JSON escaping and incompressible text.
 */
export const MAX_MESSAGE_SIZE_LIMIT = 262_144;

/** Exit code of a configuration error. */
export const EXIT_CONFIG = 2;

/** A configuration error: one line for stderr. */
export class ConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const DEFAULT_TLS_PORTS = [6514];
/**
 * The receive buffer asked for each UDP socket: 32 MiB (the kernel grants 64 MiB of its
 * accounting where the process may force it), about 40,000 datagrams of 200 bytes: a burst
 * like `loggen`'s (0.9 s of 50,000/s at once) is held. With 8 MiB, as rsyslog's
 * `imudp rcvbufSize="8m"`, 1 to 4.5% of that burst was lost in the kernel (BENCHMARKS.md).
 * Kernel memory, used only while datagrams wait; not in the relay's RSS.
 */
export const DEFAULT_UDP_RECV_BUFFER = 32 * 1_048_576;
/** Largest receive buffer one may ask for (the kernel takes an `int` and doubles it). */
const MAX_UDP_RECV_BUFFER = 1_073_741_824;
/** Most `--tcp-workers`: beyond a few, the main thread's journal and batches are the bound. */
export const MAX_TCP_WORKERS = 16;

function ports(flag: string) {
  return (value: string, previous: number[] | undefined): number[] => {
    // The first value given replaces the default; later ones add to it. Environment
    // variables hold space-separated lists.
    const list = previous === undefined || previous === DEFAULT_TLS_PORTS ? [] : [...previous];
    for (const word of value.trim().split(/\s+/)) {
      const port = Number(word);
      if (!/^\d+$/.test(word) || port > 65535) {
        throw new ConfigError(`Invalid ${flag} '${word}': give a port number from 0 (off) to 65535`);
      }
      if (port !== 0 && !list.includes(port)) list.push(port);
    }
    return list;
  };
}

function integer(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      throw new ConfigError(`Invalid ${flag} '${value}': give a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** Multipliers of the units a byte size may carry: K, M, G, T (and KiB, ...) are powers of 1024, KB, MB, GB, TB of 1000. */
const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};

/**
 * A byte size such as `1073741824`, `10G`, `512MiB` or `1.5GB`; undefined when it is not one.
 *
 * @example
 * ```ts
 * parseBytes("10G"); // 10737418240
 * ```
 */
export function parseBytes(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match === null ? undefined : BYTE_UNITS[match[2]!.toLowerCase()];
  if (match === null || unit === undefined) return undefined;
  const bytes = Math.round(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

function bytes(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = parseBytes(value);
    if (n === undefined || n < min || n > max) {
      throw new ConfigError(
        `Invalid ${flag} '${value}': give a size from ${min} to ${max} bytes, with a unit if you like (64K, 512M, 10G)`,
      );
    }
    return n;
  };
}

function seconds(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n <= 0) {
      throw new ConfigError(`Invalid ${flag} '${value}': give a number of seconds above 0`);
    }
    return n;
  };
}

function secondsOrOff(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
      throw new ConfigError(`Invalid ${flag} '${value}': give a number of seconds, or 0 for off`);
    }
    return n;
  };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.trim().split(/\s+/).filter((w) => w !== "")];
}

function option(flags: string, description: string): Option {
  const long = /--([a-z-]+)/.exec(flags)![1]!;
  return new Option(flags, description).env(`KINESYSLOG_${long.toUpperCase().replaceAll("-", "_")}`);
}

/** The result of reading the command line. */
export type CliResult =
  | { kind: "listen"; config: Config }
  | { kind: "install"; options: InstallOptions }
  | { kind: "decode"; options: DecodeOptions }
  | { kind: "exit"; code: number };

/**
 * Reads the command line and the `KINESYSLOG_*` environment variables. Help and version are written to `out`, errors
 * as one line to `err`; neither starts anything.
 */
export function parseCli(
  argv: readonly string[],
  out: (text: string) => void,
  err: (text: string) => void,
): CliResult {
  let result: CliResult = { kind: "exit", code: 0 };
  // commander's own errors read like ours: "kinesyslog: unknown option '--nope'".
  const output = {
    writeOut: out,
    writeErr: err,
    outputError: (text: string, write: (text: string) => void) => write(`kinesyslog: ${text.replace(/^error: /, "")}`),
  };
  const program = new Command("kinesyslog")
    .description("Syslog and GELF relay to AWS Kinesis Data Firehose")
    .version(VERSION, "--version", "print the version")
    .exitOverride()
    .configureOutput(output);

  program.addCommand(
    listenCommand().exitOverride().configureOutput(output).action(
      (opts: Record<string, unknown>, command: Command) => {
        // --port (the predecessor's flag) replaces the default TLS port, like --tls-port does.
        if (opts.port !== undefined) {
          const given = command.getOptionValueSource("tlsPort") === "default" ? [] : (opts.tlsPort as number[]);
          opts.tlsPort = [...new Set([...given, ...(opts.port as number[])])];
        }
        result = { kind: "listen", config: validate(opts) };
      },
    ),
  );

  program.command("install")
    .description("write a systemd unit for kinesyslog and a commented override file of its settings")
    .exitOverride()
    .configureOutput(output)
    .option("--system-dir <dir>", "directory of systemd units", "/etc/systemd/system")
    .option("--user <name>", "run as this account (default: a systemd dynamic user)")
    .option("--exec <path>", "path of the kinesyslog binary (default: this one)")
    .action((opts: Record<string, unknown>) => {
      result = {
        kind: "install",
        options: {
          systemDir: String(opts.systemDir),
          user: opts.user === undefined ? undefined : String(opts.user),
          exec: opts.exec === undefined ? undefined : String(opts.exec),
        },
      };
    });

  program.command("decode")
    .description(
      "print the events of record files, spool files or S3 objects (gzip members of JSON), one JSON line each",
    )
    .exitOverride()
    .configureOutput(output)
    .argument("[files...]", "files, or directories of record files (a spool); none reads stdin")
    .option("--count", "print totals (files, records, events) instead of events")
    .action((files: string[], opts: Record<string, unknown>) => {
      result = { kind: "decode", options: { files, count: opts.count === true } };
    });

  try {
    program.parse(argv as string[], { from: "user" });
  } catch (error) {
    if (error instanceof ConfigError) {
      err(`kinesyslog: ${error.message}\n`);
      return { kind: "exit", code: EXIT_CONFIG };
    }
    // commander has printed help, the version, or its own one-line error; explicit --help
    // and --version exit 0, help shown for a missing command is a usage error.
    if (error instanceof CommanderError) return { kind: "exit", code: error.exitCode === 0 ? 0 : EXIT_CONFIG };
    throw error;
  }
  return result;
}

/** Every visible option of `kinesyslog listen`, with its environment variable and default. */
export function listenOptions(): ListenOption[] {
  return listenCommand().options.filter((o) => !o.hidden && o.envVar !== undefined).map((o) => {
    const value = o.defaultValue === undefined ? undefined : [o.defaultValue].flat().join(" ");
    return {
      flags: o.flags,
      env: o.envVar!,
      description: o.description,
      default: value,
      defaultText: o.defaultValueDescription ?? value,
      boolean: !o.required && !o.optional,
    };
  });
}

function listenCommand(): Command {
  return fromEnvironment(
    new Command("listen")
      .description("receive syslog and GELF and deliver them to Firehose (or a local directory)")
      .addOption(
        option(
          "--stream <name>",
          "Firehose delivery stream; repeatable: records spread over the streams by their quotas",
        )
          .argParser(collect),
      )
      .addOption(
        option(
          "--no-stream-check",
          "do not check each --stream with DescribeDeliveryStream at startup (by default one that does not exist stops the start)",
        ),
      )
      .addOption(option("--output-dir <dir>", "deliver each record as a file in DIR instead of Firehose"))
      .addOption(option("--address <addr>", "bind address of every listener (IPv4 or IPv6)").default("0.0.0.0"))
      .addOption(option("--udp-port <port>", "UDP syslog port; repeatable; 0 is off").argParser(ports("--udp-port")))
      .addOption(
        option(
          "--udp-recv-buffer <bytes>",
          "receive buffer asked for each UDP socket (SO_RCVBUF; needs --allow-ffi for libc); 0 keeps the kernel's default",
        )
          .argParser(bytes("--udp-recv-buffer", 0, MAX_UDP_RECV_BUFFER)).default(DEFAULT_UDP_RECV_BUFFER, "32M"),
      )
      .addOption(option("--tcp-port <port>", "TCP syslog port; repeatable; 0 is off").argParser(ports("--tcp-port")))
      .addOption(
        option("--tls-port <port>", "TLS syslog port; repeatable; 0 is off; needs --cert and --key")
          .argParser(ports("--tls-port")).default(DEFAULT_TLS_PORTS, "6514"),
      )
      .addOption(
        option("--port <port>", "the predecessor's name for --tls-port (kept for compatibility)")
          .argParser(ports("--port")).hideHelp(),
      )
      .addOption(option("--gelf", "every listener of this process speaks GELF instead of syslog"))
      .addOption(
        option("--gelf-udp-port <port>", "UDP GELF port beside the syslog ones; repeatable; 0 is off")
          .argParser(ports("--gelf-udp-port")),
      )
      .addOption(
        option("--gelf-tcp-port <port>", "TCP GELF port (NUL-delimited); repeatable; 0 is off")
          .argParser(ports("--gelf-tcp-port")),
      )
      .addOption(
        option("--gelf-tls-port <port>", "TLS GELF port (NUL-delimited); repeatable; 0 is off; needs --cert and --key")
          .argParser(ports("--gelf-tls-port")),
      )
      .addOption(
        option("--relp-port <port>", "RELP port (rsyslog omrelp): every message acknowledged once durable; repeatable")
          .argParser(ports("--relp-port")),
      )
      .addOption(
        option("--relp-tls-port <port>", 'RELP over TLS (omrelp tls="on"); repeatable; needs --cert and --key')
          .argParser(ports("--relp-tls-port")),
      )
      .addOption(
        option(
          "--relp-ack <when>",
          "acknowledge a RELP message once journaled (written: a crash of the relay loses none) or also fsynced (fsync: a power cut neither)",
        )
          .choices(["written", "fsync"]).default("written"),
      )
      .addOption(option("--cert <path>", "PEM certificate chain for TLS"))
      .addOption(option("--key <path>", "PEM private key for TLS"))
      .addOption(option("--client-ca <path>", "PEM CA bundle to verify client certificates (mutual TLS)"))
      .addOption(
        option("--client-auth <mode>", "client certificates: none, optional or required")
          .choices(["none", "optional", "required"]).default(undefined, "required with --client-ca, else none"),
      )
      .addOption(
        option(
          "--client-allow <name>",
          "with --client-auth required: a client certificate CN or SAN to accept; repeatable; *.domain allowed",
        )
          .argParser(collect),
      )
      .addOption(
        option(
          "--proxy-protocol <port>",
          "a TCP or TLS port whose connections start with a PROXY v1/v2 header; repeatable",
        )
          .argParser(ports("--proxy-protocol")),
      )
      .addOption(
        option(
          "--max-connections <n>",
          "open connections per TCP/TLS listener; at the limit the one that completed no message for longest makes room",
        )
          .argParser(integer("--max-connections", 1)).default(DEFAULT_MAX_CONNECTIONS),
      )
      .addOption(
        option("--idle-timeout <seconds>", "close a TCP/TLS connection silent this long; 0 is off")
          .argParser(secondsOrOff("--idle-timeout")).default(DEFAULT_IDLE_TIMEOUT_S),
      )
      .addOption(
        option("--handshake-timeout <seconds>", "time for the PROXY header and the TLS handshake")
          .argParser(seconds("--handshake-timeout")).default(DEFAULT_HANDSHAKE_TIMEOUT_S),
      )
      .addOption(option("--spool-dir <dir>", "where records wait for delivery").default("/var/spool/kinesyslog"))
      .addOption(
        option(
          "--spool-max-size <bytes>",
          "bound on the spool (records and journal); when full, TCP/TLS senders are slowed and UDP dropped",
        )
          .argParser(bytes("--spool-max-size", 1_048_576)).default(1_073_741_824),
      )
      .addOption(
        option("--fsync-interval <seconds>", "how often the journal is fsynced: the most a crash loses")
          .argParser(seconds("--fsync-interval")).default(DEFAULT_FSYNC_INTERVAL_MS / 1000),
      )
      .addOption(option("--no-journal", "keep buffered messages only in memory (a crash loses them)"))
      .addOption(
        option("--request-timeout <seconds>", "longest wait for one PutRecordBatch response")
          .argParser(seconds("--request-timeout")).default(DEFAULT_PUT_TIMEOUT_MS / 1000),
      )
      .addOption(option("--region <region>", "AWS region (default: the SDK's chain)"))
      .addOption(option("--profile <name>", "AWS credentials profile (default: the SDK's chain)"))
      .addOption(option("--endpoint-url <url>", "Firehose endpoint override (VPC endpoint, local endpoint)"))
      .addOption(option("--group-prefix <text>", "prefix of logGroup in records").default("/kinesyslog"))
      .addOption(
        option("--prometheus-port <port>", "HTTP port for /metrics, /health and /ready; repeatable; 0 is off")
          .argParser(ports("--prometheus-port")),
      )
      .addOption(option("--metrics-address <addr>", "bind address of the metrics ports (default: --address)"))
      .addOption(
        option("--metrics-max-connections <n>", "open connections per metrics port; more are refused")
          .argParser(integer("--metrics-max-connections", 1)).default(DEFAULT_METRICS_MAX_CONNECTIONS),
      )
      .addOption(
        option(
          "--allow-from <cidr>",
          "accept only sources in this range (IPv4 or IPv6 CIDR, or one address); repeatable; default: any",
        )
          .argParser(collect),
      )
      .addOption(
        option(
          "--max-connections-per-source <n>",
          "open connections from one source address per TCP/TLS listener; 0 is no cap",
        )
          .argParser(integer("--max-connections-per-source", 0)).default(0),
      )
      .addOption(
        option(
          "--max-open-buffers <n>",
          "sender buffers (one per log group and source) held at once; past it the oldest is flushed",
        )
          .argParser(integer("--max-open-buffers", 1)).default(DEFAULT_MAX_OPEN_BUFFERS),
      )
      .addOption(
        option("--max-message-size <bytes>", "longer messages are truncated and counted")
          .argParser(bytes("--max-message-size", 64, MAX_MESSAGE_SIZE_LIMIT)).default(65_536),
      )
      .addOption(
        option("--flush-size <bytes>", "raw bytes of one sender's buffer that trigger a flush")
          .argParser(bytes("--flush-size", 1)).default(4_194_304),
      )
      .addOption(
        option("--flush-interval <seconds>", "age of a buffer that triggers a flush")
          .argParser(seconds("--flush-interval")).default(60),
      )
      .addOption(
        option("--spool-workers <n>", "workers that build and compress records (one core each)")
          .argParser(integer("--spool-workers", 1, MAX_SPOOL_WORKERS)).default(DEFAULT_SPOOL_WORKERS),
      )
      .addOption(
        option(
          "--tcp-workers <n>",
          "workers that accept, read and frame plain TCP connections beside the main thread, sharing each TCP port " +
            "(SO_REUSEPORT); for 8 cores and more",
        )
          .argParser(integer("--tcp-workers", 0, MAX_TCP_WORKERS)).default(0),
      )
      .addOption(
        option(
          "--worker-memory-limit <bytes>",
          "another spool worker starts only while resident memory plus its ~20 MiB stays within this; 0 is no limit " +
            "(default: 110 MiB + 20 MiB per --spool-workers and --tcp-workers)",
        )
          .argParser(bytes("--worker-memory-limit", 0)),
      )
      .addOption(
        option("--compression-level <n>", "gzip level of records: 1 is fastest, 9 smallest")
          .argParser(integer("--compression-level", 1, 9)).default(GZIP_LEVEL),
      )
      .addOption(
        option(
          "--record-format <format>",
          "records as CloudWatch Logs subscription data (cwl) or one JSON object per event and line with parsed fields (ndjson)",
        )
          .choices(["cwl", "ndjson"]).default("cwl"),
      )
      .addOption(
        option("--record-compression <mode>", "gzip, or none (only with --record-format ndjson)")
          .choices(["gzip", "none"]).default("gzip"),
      )
      .addOption(
        option("--shutdown-grace <seconds>", "at shutdown, how long open connections may take to finish")
          .argParser(seconds("--shutdown-grace")).default(5),
      )
      .addOption(
        option(
          "--ready-delivery-timeout <seconds>",
          "/ready fails once deliveries have failed this long with nothing delivered; 0 is never",
        )
          .argParser(secondsOrOff("--ready-delivery-timeout")).default(DEFAULT_READY_DELIVERY_TIMEOUT_S),
      )
      .addOption(option("--log-level <level>", "lowest level logged to stderr").choices(LEVELS).default("info"))
      .addOption(option("--log-format <format>", "log lines as text or JSON").choices(LOG_FORMATS).default("text"))
      .addOption(option("--debug", "the same as --log-level debug")),
  );
}

/** The values an on/off variable takes (SPEC section 1), case-insensitive. */
const ON = new Set(["true", "1", "yes", "on"]);
const OFF = new Set(["false", "0", "no", "off"]);

/**
 * Makes the options' environment variables honest: an on/off variable (`KINESYSLOG_GELF`,
 * `KINESYSLOG_NO_JOURNAL`, ...) is on or off by its value, and anything but true/false,
 * 1/0, yes/no, on/off is an error (commander would take any value, even `false`, as on); an
 * error in a value from a variable names the variable.
 */
function fromEnvironment(command: Command): Command {
  // A Command is an EventEmitter; its typings leave out prependListener.
  const events = command as unknown as EventEmitter;
  for (const o of command.options) {
    const envVar = o.envVar;
    if (envVar === undefined) continue;
    const event = `optionEnv:${o.name()}`;
    if (o.required || o.optional) {
      const parse = o.parseArg;
      if (parse === undefined) continue;
      let fromEnv = false;
      events.prependListener(event, () => (fromEnv = true));
      command.on(event, () => (fromEnv = false));
      o.argParser((value: string, previous: unknown) => {
        try {
          return parse(value, previous);
        } catch (error) {
          if (!fromEnv || !(error instanceof ConfigError)) throw error;
          const flag = o.long ?? o.name();
          throw new ConfigError(error.message.replace(`Invalid ${flag} `, `Invalid ${envVar} (${flag}) `));
        }
      });
      continue;
    }
    let value = "";
    events.prependListener(event, () => {
      value = (Deno.env.get(envVar) ?? "").trim().toLowerCase();
      if (!ON.has(value) && !OFF.has(value)) {
        throw new ConfigError(
          `Invalid ${envVar} '${Deno.env.get(envVar)}': give true or false (also 1/0, yes/no, on/off)`,
        );
      }
    });
    // commander has set the flag as if given; an "off" value takes it back.
    command.on(event, () => {
      if (OFF.has(value)) command.setOptionValueWithSource(o.attributeName(), o.negate ? true : undefined, "env");
    });
  }
  return command;
}

function validate(o: Record<string, unknown>): Config {
  const str = (key: string) => (o[key] === undefined || o[key] === "" ? undefined : String(o[key]));
  const config: Config = {
    streams: (o.stream as string[] | undefined) ?? [],
    outputDir: str("outputDir"),
    address: String(o.address),
    udpPorts: (o.udpPort as number[] | undefined) ?? [],
    udpRecvBuffer: o.udpRecvBuffer as number,
    tcpPorts: (o.tcpPort as number[] | undefined) ?? [],
    tlsPorts: [...(o.tlsPort as number[])],
    gelfUdpPorts: (o.gelfUdpPort as number[] | undefined) ?? [],
    gelfTcpPorts: (o.gelfTcpPort as number[] | undefined) ?? [],
    gelfTlsPorts: (o.gelfTlsPort as number[] | undefined) ?? [],
    relpPorts: (o.relpPort as number[] | undefined) ?? [],
    relpTlsPorts: (o.relpTlsPort as number[] | undefined) ?? [],
    relpAck: o.relpAck as RelpAck,
    cert: str("cert"),
    key: str("key"),
    clientCa: str("clientCa"),
    clientAuth: (o.clientAuth as ClientAuthMode | undefined) ?? (str("clientCa") !== undefined ? "required" : "none"),
    clientAllow: (o.clientAllow as string[] | undefined) ?? [],
    proxyPorts: (o.proxyProtocol as number[] | undefined) ?? [],
    maxConnections: o.maxConnections as number,
    idleTimeout: o.idleTimeout as number,
    handshakeTimeout: o.handshakeTimeout as number,
    spoolDir: String(o.spoolDir),
    spoolMaxSize: o.spoolMaxSize as number,
    journal: o.journal !== false,
    streamCheck: o.streamCheck !== false,
    fsyncInterval: o.fsyncInterval as number,
    requestTimeout: o.requestTimeout as number,
    region: str("region"),
    profile: str("profile"),
    endpointUrl: str("endpointUrl"),
    groupPrefix: String(o.groupPrefix).replace(/\/+$/, ""),
    prometheusPorts: (o.prometheusPort as number[] | undefined) ?? [],
    metricsAddress: str("metricsAddress") ?? String(o.address),
    metricsMaxConnections: o.metricsMaxConnections as number,
    allowFrom: (o.allowFrom as string[] | undefined) ?? [],
    maxConnectionsPerSource: o.maxConnectionsPerSource as number,
    maxOpenBuffers: o.maxOpenBuffers as number,
    maxMessageSize: o.maxMessageSize as number,
    flushSize: o.flushSize as number,
    flushInterval: o.flushInterval as number,
    spoolWorkers: o.spoolWorkers as number,
    tcpWorkers: o.tcpWorkers as number,
    workerMemoryLimit: (o.workerMemoryLimit as number | undefined) ??
      defaultWorkerMemoryLimitMiB((o.spoolWorkers as number) + (o.tcpWorkers as number)) * 1_048_576,
    compressionLevel: o.compressionLevel as number,
    recordFormat: o.recordFormat as RecordFormatName,
    recordCompression: o.recordCompression as RecordCompression,
    shutdownGrace: o.shutdownGrace as number,
    readyDeliveryTimeout: o.readyDeliveryTimeout as number,
    logLevel: o.debug === true ? "debug" : o.logLevel as Level,
    logFormat: o.logFormat as LogFormat,
  };
  if (o.gelf === true) {
    // The predecessor's switch: the syslog ports speak GELF.
    config.gelfUdpPorts = merge(config.gelfUdpPorts, config.udpPorts);
    config.gelfTcpPorts = merge(config.gelfTcpPorts, config.tcpPorts);
    config.gelfTlsPorts = merge(config.gelfTlsPorts, config.tlsPorts);
    config.udpPorts = [];
    config.tcpPorts = [];
    config.tlsPorts = [];
  }
  if ((config.streams.length === 0) === (config.outputDir === undefined)) {
    throw new ConfigError("Give either --stream NAME (Firehose; repeatable) or --output-dir DIR (local files)");
  }
  const twice = config.streams.find((name, i) => config.streams.indexOf(name) !== i);
  if (twice !== undefined) throw new ConfigError(`--stream ${twice} is given twice`);
  const streamPorts = [
    ...config.tcpPorts,
    ...config.tlsPorts,
    ...config.gelfTcpPorts,
    ...config.gelfTlsPorts,
    ...config.relpPorts,
    ...config.relpTlsPorts,
  ];
  const udpPorts = [...config.udpPorts, ...config.gelfUdpPorts];
  if (streamPorts.length + udpPorts.length === 0) {
    throw new ConfigError(
      "No listener enabled: give --udp-port, --tcp-port, --tls-port, --relp-port or a --gelf-*-port",
    );
  }
  for (const [kind, list] of [["TCP", streamPorts], ["UDP", udpPorts]] as const) {
    const twice = list.find((port, i) => list.indexOf(port) !== i);
    if (twice !== undefined) {
      throw new ConfigError(`${kind} port ${twice} is given to two listeners; give each its own`);
    }
  }
  const tlsPorts = [...config.tlsPorts, ...config.gelfTlsPorts, ...config.relpTlsPorts];
  if (tlsPorts.length > 0 && (config.cert === undefined || config.key === undefined)) {
    const missing = config.cert === undefined ? (config.key === undefined ? "--cert and --key" : "--cert") : "--key";
    const off = config.relpTlsPorts.length > 0
      ? "--relp-tls-port 0"
      : config.gelfTlsPorts.length > 0 && o.gelf !== true
      ? "--gelf-tls-port 0"
      : "--tls-port 0";
    throw new ConfigError(
      `Cannot listen on TLS port ${tlsPorts.join(", ")}: ${missing} not given; ` +
        `give --cert and --key, or turn TLS off with ${off}`,
    );
  }
  if (config.clientAuth !== "none" && config.clientCa === undefined) {
    throw new ConfigError(
      `--client-auth ${config.clientAuth} needs --client-ca, the CA bundle that signs client certificates`,
    );
  }
  if (config.clientCa !== undefined && tlsPorts.length === 0) {
    throw new ConfigError(
      "--client-ca is given but no TLS listener is enabled; give --tls-port, --gelf-tls-port or --relp-tls-port",
    );
  }
  if (config.clientAllow.length > 0 && config.clientAuth !== "required") {
    throw new ConfigError("--client-allow needs --client-auth required (an unverified client proves no name)");
  }
  for (const port of config.proxyPorts) {
    if (!streamPorts.includes(port)) {
      throw new ConfigError(
        `--proxy-protocol ${port} names no TCP, TLS or RELP listener; give a --tcp-port, --tls-port or --relp-port`,
      );
    }
  }
  if (config.recordCompression === "none" && config.recordFormat !== "ndjson") {
    throw new ConfigError(
      "--record-compression none needs --record-format ndjson (CloudWatch-Logs-shaped records are always gzip)",
    );
  }
  try {
    SourceFilter.parse(config.allowFrom);
  } catch (error) {
    throw new ConfigError(`${(error as Error).message} (--allow-from)`);
  }
  if (config.endpointUrl !== undefined && !URL.canParse(config.endpointUrl)) {
    throw new ConfigError(`Invalid --endpoint-url '${config.endpointUrl}': give a URL such as https://host:443`);
  }
  return config;
}

function merge(a: number[], b: number[]): number[] {
  return [...new Set([...a, ...b])];
}
