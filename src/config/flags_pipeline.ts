/**
 * The pipeline the flags make (the one-pipe shorthand): a source per port flag, one sink named
 * `default` (`--stream`s, `--kinesis-stream`s or `--output-dir`, with `--record-format` and its kin), no routes:
 * every message goes to the one sink.
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";
import {
  DEFAULT_SINK,
  type PartitionKeyMode,
  type Pipeline,
  type RecordCompression,
  type RecordFormatName,
  type SinkSpec,
  sourceLabel,
  type SourceProtocol,
  type SourceSpec,
  type SourceTransport,
} from "./pipeline.ts";

/** The parsed values of `kinesyslog listen`'s options, by commander's attribute names. */
export type FlagValues = Record<string, unknown>;

/** The port flags by (protocol, transport), by commander's attribute names. */
const PORT_FLAGS: readonly [string, SourceProtocol, SourceTransport][] = [
  ["udpPort", "syslog", "udp"],
  ["tcpPort", "syslog", "tcp"],
  ["tlsPort", "syslog", "tls"],
  ["gelfUdpPort", "gelf", "udp"],
  ["gelfTcpPort", "gelf", "tcp"],
  ["gelfTlsPort", "gelf", "tls"],
  ["relpPort", "relp", "tcp"],
  ["relpTlsPort", "relp", "tls"],
];

/** The flags' one sink: the records the sink options say. */
export function sinkFromFlags(o: FlagValues, name: string): Omit<SinkSpec, "streams" | "outputDir" | "service"> {
  return {
    name,
    partitionKey: (o.partitionKey ?? "random") as PartitionKeyMode,
    role: o.roleArn === undefined ? undefined : {
      arn: String(o.roleArn),
      externalId: o.externalId === undefined ? undefined : String(o.externalId),
      sessionName: String(o.roleSessionName ?? "kinesyslog"),
    },
    recordFormat: o.recordFormat as RecordFormatName,
    recordCompression: o.recordCompression as RecordCompression,
    compressionLevel: o.compressionLevel as number,
    groupPrefix: String(o.groupPrefix).replace(/\/+$/, ""),
  };
}

/**
 * Why a sink's options do not go together, in the flags' words, or undefined. The file says
 * the same of its keys (`config_file.ts`).
 */
export function sinkProblem(sink: SinkSpec): string | undefined {
  if (sink.recordFormat === "kpl" && sink.service !== "kinesis") {
    return "--record-format kpl needs --kinesis-stream (aggregated records are read by Kinesis consumers)";
  }
  if (sink.recordCompression === "none" && sink.recordFormat === "cwl") {
    return "--record-compression none needs --record-format ndjson (CloudWatch-Logs-shaped records are always gzip)";
  }
  if (sink.role !== undefined && sink.outputDir !== undefined) {
    return "--role-arn needs --stream or --kinesis-stream (local files are written as the relay's user)";
  }
  if (sink.partitionKey === "source" && sink.service !== "kinesis") {
    return "--partition-key source needs --kinesis-stream (Firehose and local records have no partition key)";
  }
  return undefined;
}

/** Checks a sink's record options go together; throws {@linkcode ConfigError}. */
export function checkSink(sink: SinkSpec): void {
  const problem = sinkProblem(sink);
  if (problem !== undefined) throw new ConfigError(problem);
}

/** The sources of the port flags (`--gelf` turns the syslog ones into GELF ones, as the predecessor's switch did). */
export function sourcesFromFlags(o: FlagValues): SourceSpec[] {
  const proxyPorts = (o.proxyProtocol as number[] | undefined) ?? [];
  const sources: SourceSpec[] = [];
  for (const [flag, given, transport] of PORT_FLAGS) {
    const protocol = o.gelf === true && given === "syslog" ? "gelf" : given;
    for (const port of (o[flag] as number[] | undefined) ?? []) {
      if (sources.some((s) => s.port === port && s.protocol === protocol && s.transport === transport)) continue;
      const label = sourceLabel({ protocol, transport, port });
      const proxy = transport !== "udp" && proxyPorts.includes(port);
      sources.push({ name: label, label, protocol, transport, port, proxy, timeZone: undefined, settings: {} });
    }
  }
  return sources;
}

/** Checks that sources are there and no two share a port; throws {@linkcode ConfigError}. */
export function checkSources(sources: readonly SourceSpec[]): void {
  if (sources.length === 0) {
    throw new ConfigError(
      "No listener enabled: give --udp-port, --tcp-port, --tls-port, --relp-port or a --gelf-*-port",
    );
  }
  for (const [kind, udp] of [["TCP", false], ["UDP", true]] as const) {
    const ports = sources.filter((s) => (s.transport === "udp") === udp).map((s) => s.port);
    const twice = ports.find((port, i) => ports.indexOf(port) !== i);
    if (twice !== undefined) {
      throw new ConfigError(`${kind} port ${twice} is given to two listeners; give each its own`);
    }
  }
}

/** The flags' one sink, `default`; throws {@linkcode ConfigError} for flags that do not go together. */
export function sinkOfFlags(o: FlagValues): SinkSpec {
  const firehose = (o.stream as string[] | undefined) ?? [];
  const kinesis = (o.kinesisStream as string[] | undefined) ?? [];
  const outputDir = o.outputDir === undefined || o.outputDir === "" ? undefined : String(o.outputDir);
  if ([firehose.length > 0, kinesis.length > 0, outputDir !== undefined].filter(Boolean).length !== 1) {
    throw new ConfigError(
      "Give one of --stream NAME (Firehose; repeatable), --kinesis-stream NAME (Kinesis Data Streams; repeatable) " +
        "or --output-dir DIR (local files)",
    );
  }
  const streams = kinesis.length > 0 ? kinesis : firehose;
  const twice = streams.find((name, i) => streams.indexOf(name) !== i);
  if (twice !== undefined) {
    throw new ConfigError(`--${kinesis.length > 0 ? "kinesis-" : ""}stream ${twice} is given twice`);
  }
  const service = kinesis.length > 0 ? "kinesis" : "firehose";
  const sink: SinkSpec = { ...sinkFromFlags(o, DEFAULT_SINK), streams, service, outputDir };
  checkSink(sink);
  return sink;
}

/** The flags' sources, checked (some, ports not shared, `--proxy-protocol` naming one); throws {@linkcode ConfigError}. */
export function checkedSources(o: FlagValues): SourceSpec[] {
  const sources = sourcesFromFlags(o);
  checkSources(sources);
  for (const port of (o.proxyProtocol as number[] | undefined) ?? []) {
    if (!sources.some((s) => s.transport !== "udp" && s.port === port)) {
      throw new ConfigError(
        `--proxy-protocol ${port} names no TCP, TLS or RELP listener; give a --tcp-port, --tls-port or --relp-port`,
      );
    }
  }
  return sources;
}

/** The pipeline of the flags; throws {@linkcode ConfigError} for flags that do not go together. */
export function pipelineFromFlags(o: FlagValues): Pipeline {
  const sink = sinkOfFlags(o);
  return { sources: checkedSources(o), sinks: [sink], routes: [], defaultSink: DEFAULT_SINK };
}
