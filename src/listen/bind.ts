/**
 * Binding the pipeline's sources: a UDP receiver (its own worker), or a TCP listener for TCP,
 * TLS and RELP (TLS runs through node:tls over it; plain TCP syslog with `--tcp-workers`
 * shares its port with the intake workers through `SO_REUSEPORT`). All or nothing: a source
 * that cannot be bound closes the ones bound before it, and the error names the port.
 *
 * @module
 */
import { StartupError } from "../config/config_error.ts";
import type { SourceSpec } from "../config/pipeline.ts";
import type { Level, LogFormat, Logger } from "../log.ts";
import type { ListenerInfo } from "./ingest.ts";
import type { ConnectionLimits } from "./stream_listener.ts";
import { limitsOf, TcpIntake } from "./tcp_intake.ts";
import type { IntakeOptions } from "./tcp_intake_protocol.ts";
import { UdpReceiver } from "./udp_receiver.ts";

/** A bind error that says the address is not one of this host's, or no name of one. */
const NOT_AN_ADDRESS = /lookup address|not known|Cannot assign requested address|AddrNotAvailable|os error 99/i;

/** Whether a bind error says that the address is not one of this host's. */
export function isNotAnAddress(why: string): boolean {
  return NOT_AN_ADDRESS.test(why);
}

/** The line for a bind address that is not this host's, naming its option and variable. */
export function notAnAddress(option: string, address: string, why: string): string {
  const variable = `KINESYSLOG_${option.toUpperCase().replaceAll("-", "_")}`;
  return `Cannot listen at --${option} '${address}' (${variable}): ` +
    `not an address of this host (${why}); give one of its addresses, 0.0.0.0 or ::`;
}

/** A source, bound. */
export type Bound =
  | { kind: "udp"; source: SourceSpec; receiver: UdpReceiver }
  | {
    kind: "tcp" | "tls";
    source: SourceSpec;
    listener: Deno.Listener;
    /** Plain TCP with `--tcp-workers`: the workers that share the port (`tcp_intake.ts`). */
    intakes: TcpIntake[];
  };

/** What binding needs of the configuration. */
export interface BindOptions {
  /** The bind address of every listener. */
  address: string;
  /** Receive buffer asked for each UDP socket, in bytes. */
  udpRecvBuffer: number;
  maxMessageSize: number;
  allowFrom: string[];
  /** TCP intake workers per plain TCP syslog port. */
  tcpWorkers: number;
  /** The limits of each stream listener's connections (split with its intake workers). */
  limits: ConnectionLimits;
  /** How intake workers log. */
  log: { level: Level; format: LogFormat };
}

/** What binding and serving `source` take: `options`, with what the source sets for itself over them. */
export function forSource<T extends Pick<BindOptions, "address" | "maxMessageSize" | "limits">>(
  options: T,
  source: SourceSpec,
): T {
  const own = source.settings;
  const { limits } = options;
  return {
    ...options,
    address: own.address ?? options.address,
    maxMessageSize: own.maxMessageSize ?? options.maxMessageSize,
    limits: {
      maxConnections: own.maxConnections ?? limits.maxConnections,
      maxConnectionsPerSource: own.maxConnectionsPerSource ?? limits.maxConnectionsPerSource,
      idleTimeoutMs: own.idleTimeout === undefined ? limits.idleTimeoutMs : own.idleTimeout * 1000,
      handshakeTimeoutMs: own.handshakeTimeout === undefined ? limits.handshakeTimeoutMs : own.handshakeTimeout * 1000,
    },
  };
}

/** Binds every source of `sources`; throws {@linkcode StartupError} (closing what it bound) when one cannot be bound. */
export async function bindAll(sources: readonly SourceSpec[], options: BindOptions, log: Logger): Promise<Bound[]> {
  const bound: Bound[] = [];
  for (const source of sources) {
    const hostname = forSource(options, source).address;
    try {
      bound.push(await bind(source, forSource(options, source), log));
    } catch (error) {
      closeAll(bound);
      const why = error instanceof Deno.errors.AddrInUse ? "address already in use" : (error as Error).message;
      const option = source.settings.address === undefined ? "address" : `sources: ${source.name}: address`;
      if (isNotAnAddress(why)) throw new StartupError(notAnAddress(option, hostname, why));
      throw new StartupError(`Cannot listen on ${portName(source)} port ${source.port} at ${hostname}: ${why}`);
    }
  }
  return bound;
}

/** Closes bound sources (at a failed start). */
export function closeAll(bound: Bound[]): void {
  for (const b of bound) {
    try {
      if (b.kind === "udp") void b.receiver.close();
      else {
        b.listener.close();
        for (const intake of b.intakes) void intake.close(0);
      }
    } catch { /* already closed */ }
  }
}

/** What a listener is, for records, routes and metrics. */
export function listenerInfo(source: SourceSpec): ListenerInfo {
  return {
    label: source.label,
    name: source.name,
    port: source.port,
    format: source.protocol === "gelf" ? "gelf" : "syslog",
    transport: source.protocol === "relp" ? "relp" : source.transport,
    timeZone: source.timeZone,
  };
}

/** How a startup error names a listener's port: `UDP`, `GELF TLS`, `RELP TLS`. */
function portName(source: SourceSpec): string {
  const transport = source.transport.toUpperCase();
  if (source.protocol === "relp") return source.transport === "tls" ? "RELP TLS" : "RELP";
  return source.protocol === "gelf" ? `GELF ${transport}` : transport;
}

/**
 * Binds one source. UDP is received by a worker of its own (udp_receive_worker.ts), bound
 * there; TLS runs over a plain TCP listener, through node:tls (see tls_terminator.ts); plain
 * TCP syslog with --tcp-workers shares the port (SO_REUSEPORT) with the workers. `options`
 * are the source's own ({@linkcode forSource}).
 */
async function bind(source: SourceSpec, options: BindOptions, log: Logger): Promise<Bound> {
  const hostname = options.address;
  const port = source.port;
  if (source.transport === "udp") {
    return {
      kind: "udp",
      source,
      receiver: await UdpReceiver.bind(hostname, port, {
        receiveBuffer: options.udpRecvBuffer,
        format: source.protocol === "gelf" ? "gelf" : "syslog",
        maxMessageBytes: options.maxMessageSize,
        allowFrom: options.allowFrom,
      }),
    };
  }
  const workers = source.transport === "tcp" && source.protocol !== "relp" ? options.tcpWorkers : 0;
  const listener = Deno.listen({ transport: "tcp", hostname, port, ...(workers > 0 && { reusePort: true }) });
  const b: Bound = { kind: source.transport, source, listener, intakes: [] };
  try {
    for (let i = 1; i <= workers; i++) b.intakes.push(await TcpIntake.start(intakeOptions(options, b, i), log));
  } catch (error) {
    closeAll([b]);
    throw error;
  }
  return b;
}

/** What TCP intake worker `index` (1 and up; the main thread is 0) of listener `b` is told. */
function intakeOptions(options: BindOptions, b: Extract<Bound, { kind: "tcp" | "tls" }>, index: number): IntakeOptions {
  return {
    hostname: options.address,
    port: (b.listener.addr as Deno.NetAddr).port,
    info: listenerInfo(b.source),
    proxy: b.source.proxy,
    maxMessageBytes: options.maxMessageSize,
    limits: limitsOf(options.limits, options.tcpWorkers + 1, index),
    allowFrom: options.allowFrom,
    log: options.log,
  };
}
