/**
 * The relay's configuration, validated: what the command line, the `KINESYSLOG_*` variables
 * and the option table (`listen_options.ts`) make, and what the relay is built from.
 *
 * @module
 */
import type { ClientAuthMode } from "../listen/client_auth.ts";
import type { TlsMinVersion } from "../listen/tls_policy.ts";
import type { Level, LogFormat } from "../log.ts";
import type { RelpAck } from "../listen/relp_durability.ts";
import type { Pipeline } from "./pipeline.ts";

export type { RelpAck };

/** The relay's configuration, validated. */
export interface Config {
  /** Sources, sinks and routes (the flags make one sink, `default`, that every listener feeds). */
  pipeline: Pipeline;
  /** The `--config` file, read again on SIGHUP; undefined without one. */
  configFile: string | undefined;
  /** Bind address of every listener. */
  address: string;
  /** Receive buffer asked for each UDP socket, in bytes (0: the kernel's default). */
  udpRecvBuffer: number;
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
  /** PEM revocation lists of the client CAs. */
  clientCrl: string | undefined;
  /** Oldest TLS version a client may use. */
  tlsMinVersion: TlsMinVersion;
  /** TLS 1.2 suites a client may use; empty: all. */
  tlsCiphers: string[];
  /** TLS 1.3 suites a client may use; empty: all. */
  tlsCiphersuites: string[];
  /** Names a client certificate must carry (CN or subjectAltName), any of them. */
  clientAllow: string[];
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
  /** Firehose and Kinesis endpoint override. */
  endpointUrl: string | undefined;
  /** HTTPS proxy of every AWS call (`--https-proxy`, over `HTTPS_PROXY`). */
  httpsProxy: string | undefined;
  /** Hosts reached without the proxy (`--no-proxy`, over `NO_PROXY`). */
  noProxy: string | undefined;
  /** AWS at its FIPS endpoints. */
  useFipsEndpoint: boolean;
  /** AWS at its dual-stack endpoints. */
  useDualstackEndpoint: boolean;
  /** Ports serving `/metrics`, `/health` and `/ready`. */
  prometheusPorts: number[];
  /** Bind address of the metrics ports. */
  metricsAddress: string;
  /** Open connections per metrics port, at most. */
  metricsMaxConnections: number;
  /** `POST /-/reload` on the metrics ports reloads as SIGHUP does. */
  metricsReload: boolean;
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
  /** How long connections may take to finish at shutdown, in seconds. */
  shutdownGrace: number;
  /** How long deliveries may fail before `/ready` fails, in seconds; 0 is never. */
  readyDeliveryTimeout: number;
  /** Lowest log level written. */
  logLevel: Level;
  /** Log line format. */
  logFormat: LogFormat;
}
