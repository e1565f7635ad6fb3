/**
 * The configuration file (`--config FILE`, `kinesyslog check-config FILE`): YAML, read with
 * the `yaml` package, which keeps every key's line (TOML's parsers on npm report a syntax
 * error's line but not where a valid value sits, and every error here names its line), and
 * which the Kubernetes and Docker users we serve already write.
 *
 * ```yaml
 * sources:                      # listeners; replace the port flags
 *   - { protocol: syslog, transport: udp, port: 514, name: firewalls, time_zone: Europe/Berlin }
 * sinks:                        # destinations; replace --stream, --kinesis-stream and --output-dir
 *   security: { streams: [sec-logs], record_format: cwl }
 *   apps: { kinesis_streams: [app-logs], partition_key: source, record_format: kpl }
 *   archive: { output_dir: /var/lib/kinesyslog/out }
 * routes:                       # in order; each that matches adds its sinks
 *   - { name: fw, match: { listener: firewalls, severity: warning }, sinks: [security] }
 * default_sink: archive         # what no route takes; without it, dropped as unrouted
 * spool: { dir: /var/lib/kinesyslog, max_size: 10G }   # and every option of the table by its key
 * ```
 *
 * Every problem is reported at once, each with its line and key. Option values are parsed
 * by the option table's parsers, with the same bounds as the flags.
 *
 * @module
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { isTimeZone } from "../parse/syslog_timestamp.ts";
import { FACILITIES, SEVERITIES } from "../parse/syslog_fields.ts";
import { SourceFilter } from "../listen/source_filter.ts";
import { ConfigError } from "./config_error.ts";
import {
  checkedSources,
  checkSources,
  type FlagValues,
  sinkFromFlags,
  sinkOfFlags,
  sinkProblem,
} from "./flags_pipeline.ts";
import { LISTEN_OPTIONS, type OptionSpec } from "./listen_options.ts";
import {
  DEFAULT_SINK,
  type MatchSpec,
  MAX_SINKS,
  type Pipeline,
  type RouteSpec,
  type SinkSpec,
  SOURCE_PROTOCOLS,
  SOURCE_SETTINGS,
  SOURCE_TRANSPORTS,
  sourceLabel,
  type SourceProtocol,
  type SourceSettings,
  type SourceSpec,
  type SourceTransport,
} from "./pipeline.ts";

/** Largest configuration file read, in bytes. */
export const MAX_CONFIG_FILE_BYTES = 1_048_576;
/** What a sink or route name may be: it names a spool directory and a metrics label. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** The sections of the file that are not the option table's. */
const PIPELINE_KEYS = ["sources", "sinks", "routes", "default_sink"];

/** A file that does not validate: every problem, each `FILE:LINE: key: what`. */
export class ConfigFileError extends ConfigError {
  /** Creates the error from its problems. */
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigFileError";
  }
}

/** A configuration file, read and checked. */
export interface ConfigFile {
  /** Where it was read from. */
  path: string;
  /** The options it sets, by commander's attribute names, parsed. */
  options: Map<string, unknown>;
  /**
   * The pipeline: its sources and sinks, or the flags' where it has none (`o`: the options
   * after precedence, whose record options are every sink's defaults; `given`: the options
   * given as flags or variables).
   */
  pipeline(o: FlagValues, given: ReadonlySet<string>): Pipeline;
}

/** Collects problems with their lines. */
class Problems {
  readonly list: string[] = [];
  constructor(readonly path: string, readonly lines: Map<string, number>) {}

  /** Notes a problem at `key` (the line of the nearest key that has one). */
  add(key: string, what: string): void {
    let k = key;
    let line = this.lines.get(k);
    while (line === undefined && k.length > 0) {
      k = k.replace(/(\.[^.[\]]*|\[\d+\])$/, "");
      line = this.lines.get(k);
      if (!/[.[]/.test(k)) break;
    }
    this.list.push(`${this.path}:${line ?? 1}: ${key}: ${what}`);
  }
}

/** commander's attribute name of an option: `max-connections` to `maxConnections`, `no-journal` to `journal`. */
function attribute(spec: OptionSpec): string {
  return spec.name.replace(/^no-/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Reads `text`, the file at `path`; throws {@linkcode ConfigFileError} with every problem. */
export function parseConfigFile(path: string, text: string): ConfigFile {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigFileError(
      doc.errors.map((e) => `${path}:${e.linePos?.[0].line ?? 1}: ${e.message.split("\n")[0]}`),
    );
  }
  const lines = new Map<string, number>();
  keyLines(doc.contents, "", lines, counter);
  const problems = new Problems(path, lines);
  const root: unknown = doc.toJS() ?? {};
  if (!isRecord(root)) {
    throw new ConfigFileError([
      `${path}:1: the file must be a mapping of sections (sources, sinks, routes, spool, ...)`,
    ]);
  }
  const options = readOptions(root, problems);
  const sources = root.sources === undefined ? undefined : readSources(root.sources, problems);
  const sinks = root.sinks === undefined ? undefined : readSinkEntries(root.sinks, problems);
  const routes = root.routes === undefined ? [] : readRoutes(root.routes, problems);
  const defaultSink = root.default_sink === undefined ? undefined : String(root.default_sink);
  checkPipelineNames({ sinks, routes, defaultSink }, problems);
  if (sources !== undefined) {
    try {
      checkSources(sources);
    } catch (error) {
      problems.add("sources", (error as Error).message.replace(/give --udp-port.*/, "give at least one source"));
    }
  }
  if (problems.list.length > 0) throw new ConfigFileError(problems.list);
  return {
    path,
    options,
    pipeline: (o, given) => buildPipeline(o, given, { sources, sinks, routes, defaultSink }, problems),
  };
}

/** Reads the file at `path` (at most {@linkcode MAX_CONFIG_FILE_BYTES}); throws {@linkcode ConfigError}. */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    const info = Deno.statSync(path);
    if (!info.isFile) throw new Error("not a file");
    if (info.size > MAX_CONFIG_FILE_BYTES) throw new Error(`larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    text = Deno.readTextFileSync(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "not found" : (error as Error).message;
    throw new ConfigError(`Cannot read --config '${path}': ${why}`);
  }
  return parseConfigFile(path, text);
}

/** Notes the line of every key, by its path (`routes[1].match.severity`). */
function keyLines(node: unknown, path: string, lines: Map<string, number>, counter: LineCounter): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      const at = path === "" ? key : `${path}.${key}`;
      const range = (pair.key as Node).range;
      if (range !== undefined && range !== null) lines.set(at, counter.linePos(range[0]).line);
      keyLines(pair.value, at, lines, counter);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const at = `${path}[${i}]`;
      const range = (item as Node | null)?.range;
      if (range !== undefined && range !== null) lines.set(at, counter.linePos(range[0]).line);
      keyLines(item, at, lines, counter);
    });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The option table's keys, by section. */
function optionsBySection(): Map<string, Map<string, OptionSpec>> {
  const sections = new Map<string, Map<string, OptionSpec>>();
  for (const spec of LISTEN_OPTIONS) {
    if (spec.key === undefined) continue;
    const [section, name] = spec.key.split(".") as [string, string];
    if (!sections.has(section)) sections.set(section, new Map());
    sections.get(section)!.set(name, spec);
  }
  return sections;
}

/** The option sections' values, parsed by the option table. */
function readOptions(root: Record<string, unknown>, problems: Problems): Map<string, unknown> {
  const sections = optionsBySection();
  const options = new Map<string, unknown>();
  for (const [section, body] of Object.entries(root)) {
    if (PIPELINE_KEYS.includes(section)) continue;
    const specs = sections.get(section);
    if (specs === undefined) {
      problems.add(section, `unknown section; give one of ${[...PIPELINE_KEYS, ...sections.keys()].join(", ")}`);
      continue;
    }
    if (!isRecord(body)) {
      problems.add(section, "must be a mapping of options");
      continue;
    }
    for (const [name, value] of Object.entries(body)) {
      const key = `${section}.${name}`;
      const spec = specs.get(name);
      if (spec === undefined) {
        problems.add(key, `unknown option; ${section} has ${[...specs.keys()].join(", ")}`);
        continue;
      }
      try {
        options.set(attribute(spec), optionValue(spec, key, value));
      } catch (error) {
        problems.add(key, (error as Error).message.replace(`Invalid ${key} `, ""));
      }
    }
  }
  return options;
}

/** One option's value from the file, through the table's parser (a list element by element). */
function optionValue(spec: OptionSpec, key: string, value: unknown): unknown {
  if (spec.arg === undefined) {
    if (typeof value !== "boolean") throw new ConfigError("give true or false");
    // A negated switch's key is the positive one: `journal.enabled: false` is --no-journal.
    return value;
  }
  if (spec.choices !== undefined) {
    if (!spec.choices.includes(String(value))) throw new ConfigError(`give one of ${spec.choices.join(", ")}`);
    return String(value);
  }
  const kind = spec.value!;
  const items = Array.isArray(value) ? value : [value];
  if (items.some((v) => typeof v === "object" && v !== null)) throw new ConfigError("give a value or a list of values");
  let parsed: unknown = undefined;
  for (const item of items) parsed = kind.parse(key, String(item), parsed);
  return parsed;
}

/** A list of strings from one string or a list (`sinks: security` or `sinks: [a, b]`). */
function strings(value: unknown, key: string, problems: Problems): string[] | undefined {
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0 || items.some((v) => typeof v !== "string" && typeof v !== "number")) {
    problems.add(key, "give a name or a list of names");
    return undefined;
  }
  return items.map(String);
}

/** Problems with keys a mapping may not have. */
function unknownKeys(body: Record<string, unknown>, allowed: readonly string[], key: string, problems: Problems): void {
  for (const name of Object.keys(body)) {
    if (!allowed.includes(name)) problems.add(`${key}.${name}`, `unknown key; give one of ${allowed.join(", ")}`);
  }
}

const SOURCE_KEYS = [
  "name",
  "protocol",
  "transport",
  "port",
  "proxy_protocol",
  "time_zone",
  ...SOURCE_SETTINGS.map((s) => s.key),
];

function readSources(value: unknown, problems: Problems): SourceSpec[] | undefined {
  if (!Array.isArray(value)) {
    problems.add("sources", "must be a list of listeners");
    return undefined;
  }
  const sources: SourceSpec[] = [];
  value.forEach((body, i) => {
    const key = `sources[${i}]`;
    if (!isRecord(body)) return problems.add(key, "must be a mapping (protocol, transport, port, ...)");
    unknownKeys(body, SOURCE_KEYS, key, problems);
    const protocol = (body.protocol ?? "syslog") as SourceProtocol;
    if (!SOURCE_PROTOCOLS.includes(protocol)) {
      problems.add(`${key}.protocol`, `give one of ${SOURCE_PROTOCOLS.join(", ")}`);
    }
    const transport = body.transport as SourceTransport;
    if (!SOURCE_TRANSPORTS.includes(transport)) {
      problems.add(`${key}.transport`, `give one of ${SOURCE_TRANSPORTS.join(", ")}`);
    } else if (protocol === "relp" && transport === "udp") {
      problems.add(`${key}.transport`, "RELP runs over tcp or tls");
    }
    const port = body.port;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65_535) {
      problems.add(`${key}.port`, "give a port from 1 to 65535");
    }
    const proxy = body.proxy_protocol ?? false;
    if (typeof proxy !== "boolean") problems.add(`${key}.proxy_protocol`, "give true or false");
    else if (proxy && transport === "udp") problems.add(`${key}.proxy_protocol`, "PROXY headers come on tcp or tls");
    const timeZone = body.time_zone === undefined ? undefined : String(body.time_zone);
    if (timeZone !== undefined && !isTimeZone(timeZone)) {
      problems.add(`${key}.time_zone`, `unknown time zone '${timeZone}'; give an IANA name such as Europe/Berlin`);
    }
    const label = sourceLabel({ protocol, transport, port: port as number });
    const name = body.name === undefined ? label : String(body.name);
    if (sources.some((s) => s.name === name)) problems.add(`${key}.name`, `'${name}' names another source too`);
    const settings: SourceSettings = {};
    for (const { key: name, option, field, stream } of SOURCE_SETTINGS) {
      if (body[name] === undefined) continue;
      if (stream && transport === "udp") {
        problems.add(`${key}.${name}`, "connection limits are for tcp and tls sources");
        continue;
      }
      try {
        const spec = LISTEN_OPTIONS.find((s) => s.name === option)!;
        (settings as Record<string, unknown>)[field] = optionValue(spec, `${key}.${name}`, body[name]);
      } catch (error) {
        problems.add(`${key}.${name}`, (error as Error).message.replace(`Invalid ${key}.${name} `, ""));
      }
    }
    sources.push({ name, label, protocol, transport, port: port as number, proxy: proxy === true, timeZone, settings });
  });
  return sources;
}

const SINK_KEYS = [
  "streams",
  "kinesis_streams",
  "output_dir",
  "partition_key",
  "role_arn",
  "external_id",
  "role_session_name",
  "record_format",
  "record_compression",
  "compression_level",
  "group_prefix",
];

/** A sink as the file gives it: its own record options, the rest from the flags at build time. */
type SinkEntry = Partial<SinkSpec> & Pick<SinkSpec, "name" | "streams" | "service" | "outputDir">;

function readSinkEntries(value: unknown, problems: Problems): SinkEntry[] | undefined {
  if (!isRecord(value)) {
    problems.add("sinks", "must be a mapping of sink names to sinks");
    return undefined;
  }
  const entries: SinkEntry[] = [];
  for (const [name, body] of Object.entries(value)) {
    const key = `sinks.${name}`;
    if (!NAME.test(name)) problems.add(key, "a sink name is letters, digits, - and _ (at most 64)");
    if (!isRecord(body)) {
      problems.add(key, "must be a mapping (streams or output_dir, record_format, ...)");
      continue;
    }
    unknownKeys(body, SINK_KEYS, key, problems);
    const list = (field: string) => {
      const value = body[field];
      if (value === undefined || (Array.isArray(value) && value.length === 0)) return [];
      return strings(value, `${key}.${field}`, problems) ?? [];
    };
    const firehose = list("streams");
    const kinesis = list("kinesis_streams");
    const outputDir = body.output_dir === undefined ? undefined : String(body.output_dir);
    if ([firehose.length > 0, kinesis.length > 0, outputDir !== undefined].filter(Boolean).length !== 1) {
      problems.add(
        key,
        "give one of streams (Firehose), kinesis_streams (Kinesis Data Streams) or output_dir (local files)",
      );
    }
    const service = kinesis.length > 0 ? "kinesis" : "firehose";
    const entry: SinkEntry = { name, streams: kinesis.length > 0 ? kinesis : firehose, service, outputDir };
    const option = (field: string, optionName: string) => {
      if (body[field] === undefined) return undefined;
      const spec = LISTEN_OPTIONS.find((s) => s.name === optionName)!;
      try {
        return optionValue(spec, `${key}.${field}`, body[field]);
      } catch (error) {
        problems.add(`${key}.${field}`, (error as Error).message.replace(`Invalid ${key}.${field} `, ""));
        return undefined;
      }
    };
    const format = option("record_format", "record-format");
    if (format !== undefined) entry.recordFormat = format as SinkSpec["recordFormat"];
    const compression = option("record_compression", "record-compression");
    if (compression !== undefined) entry.recordCompression = compression as SinkSpec["recordCompression"];
    const partitionKey = option("partition_key", "partition-key");
    if (partitionKey !== undefined) entry.partitionKey = partitionKey as SinkSpec["partitionKey"];
    const roleArn = option("role_arn", "role-arn");
    const externalId = option("external_id", "external-id");
    const sessionName = option("role_session_name", "role-session-name");
    if (roleArn !== undefined) {
      entry.role = {
        arn: roleArn as string,
        externalId: externalId as string | undefined,
        sessionName: (sessionName ?? "kinesyslog") as string,
      };
    } else if (externalId !== undefined || sessionName !== undefined) {
      problems.add(key, "external_id and role_session_name go with role_arn");
    }
    const level = option("compression_level", "compression-level");
    if (level !== undefined) entry.compressionLevel = level as number;
    if (body.group_prefix !== undefined) entry.groupPrefix = String(body.group_prefix).replace(/\/+$/, "");
    entries.push(entry);
  }
  if (entries.length > MAX_SINKS) problems.add("sinks", `at most ${MAX_SINKS} sinks`);
  return entries;
}

const ROUTE_KEYS = ["name", "match", "sinks", "drop", "final", "sample", "rate_limit"];
const MATCH_KEYS = ["source", "listener", "facility", "severity", "hostname", "app_name", "message"];

function readRoutes(value: unknown, problems: Problems): RouteSpec[] {
  if (!Array.isArray(value)) {
    problems.add("routes", "must be a list of routes");
    return [];
  }
  const routes: RouteSpec[] = [];
  value.forEach((body, i) => {
    const key = `routes[${i}]`;
    if (!isRecord(body)) return problems.add(key, "must be a mapping (name, match, sinks, ...)");
    unknownKeys(body, ROUTE_KEYS, key, problems);
    const name = body.name === undefined ? `route-${i + 1}` : String(body.name);
    if (!NAME.test(name)) problems.add(`${key}.name`, "a route name is letters, digits, - and _ (at most 64)");
    if (routes.some((r) => r.name === name)) problems.add(`${key}.name`, `'${name}' names another route too`);
    const match = body.match === undefined ? {} : readMatch(body.match, `${key}.match`, problems);
    const drop = flag(body.drop, `${key}.drop`, problems);
    const sinks = body.sinks === undefined ? [] : strings(body.sinks, `${key}.sinks`, problems) ?? [];
    if (drop && sinks.length > 0) problems.add(`${key}.drop`, "a dropping route has no sinks");
    if (!drop && sinks.length === 0 && body.sinks === undefined) problems.add(key, "give sinks, or drop: true");
    const sample = body.sample ?? 1;
    if (typeof sample !== "number" || !Number.isInteger(sample) || sample < 1 || sample > 1_000_000) {
      problems.add(`${key}.sample`, "give a whole number from 1 to 1000000 (1 in N is kept)");
    }
    routes.push({
      name,
      match,
      sinks,
      drop,
      final: flag(body.final, `${key}.final`, problems),
      sample: sample as number,
      rateLimit: body.rate_limit === undefined
        ? undefined
        : readRateLimit(body.rate_limit, `${key}.rate_limit`, problems),
    });
  });
  return routes;
}

function flag(value: unknown, key: string, problems: Problems): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") problems.add(key, "give true or false");
  return value === true;
}

function readRateLimit(value: unknown, key: string, problems: Problems): RouteSpec["rateLimit"] {
  if (!isRecord(value)) {
    problems.add(key, "give messages (per second) and burst");
    return undefined;
  }
  unknownKeys(value, ["messages", "burst"], key, problems);
  const messages = value.messages;
  const burst = value.burst ?? messages;
  const ok = (n: unknown) => typeof n === "number" && Number.isFinite(n) && n > 0 && n <= 10_000_000;
  if (!ok(messages)) problems.add(`${key}.messages`, "give messages per second, more than 0 and at most 10000000");
  if (!ok(burst) || !Number.isInteger(burst)) {
    problems.add(`${key}.burst`, "give a whole number of messages, at least 1 and at most 10000000");
  }
  return { messages: messages as number, burst: burst as number };
}

function readMatch(value: unknown, key: string, problems: Problems): MatchSpec {
  const match: MatchSpec = {};
  if (!isRecord(value)) {
    problems.add(key, `must be a mapping of ${MATCH_KEYS.join(", ")}`);
    return match;
  }
  unknownKeys(value, MATCH_KEYS, key, problems);
  if (value.source !== undefined) {
    const ranges = strings(value.source, `${key}.source`, problems);
    try {
      if (ranges !== undefined) {
        SourceFilter.parse(ranges);
        match.sources = ranges;
      }
    } catch (error) {
      problems.add(`${key}.source`, (error as Error).message);
    }
  }
  const listeners = value.listener === undefined ? undefined : strings(value.listener, `${key}.listener`, problems);
  if (listeners !== undefined) match.listeners = listeners;
  if (value.facility !== undefined) {
    const names = strings(value.facility, `${key}.facility`, problems) ?? [];
    const codes = names.map((f) => /^\d+$/.test(f) ? Number(f) : FACILITIES.indexOf(f as typeof FACILITIES[number]));
    const bad = names.find((_, i) => !(codes[i]! >= 0 && codes[i]! < FACILITIES.length));
    if (bad !== undefined) problems.add(`${key}.facility`, `unknown facility '${bad}'; give ${FACILITIES.join(", ")}`);
    else match.facilities = codes;
  }
  if (value.severity !== undefined) {
    const text = String(value.severity);
    const code = /^\d$/.test(text) ? Number(text) : SEVERITIES.indexOf(text as typeof SEVERITIES[number]);
    if (!(code >= 0 && code < SEVERITIES.length)) {
      problems.add(
        `${key}.severity`,
        `unknown severity '${text}'; give ${SEVERITIES.join(", ")} (this one or more severe)`,
      );
    } else match.severity = code;
  }
  const hostnames = value.hostname === undefined ? undefined : strings(value.hostname, `${key}.hostname`, problems);
  if (hostnames !== undefined) match.hostnames = hostnames;
  const appNames = value.app_name === undefined ? undefined : strings(value.app_name, `${key}.app_name`, problems);
  if (appNames !== undefined) match.appNames = appNames;
  if (value.message !== undefined) {
    const text = String(value.message);
    try {
      new RegExp(text);
      match.message = text;
    } catch (error) {
      problems.add(`${key}.message`, `not a regular expression: ${(error as Error).message}`);
    }
  }
  return match;
}

/** Routes and the default name sinks that exist. */
function checkPipelineNames(
  p: { sinks: SinkEntry[] | undefined; routes: RouteSpec[]; defaultSink: string | undefined },
  problems: Problems,
): void {
  // Without a sinks section, the flags' one sink is there, named `default`.
  const names = p.sinks?.map((s) => s.name) ?? [DEFAULT_SINK];
  p.routes.forEach((route, i) => {
    for (const sink of route.sinks) {
      if (!names.includes(sink)) {
        problems.add(`routes[${i}].sinks`, `no sink '${sink}'; the sinks are ${names.join(", ")}`);
      }
    }
  });
  if (p.defaultSink !== undefined && !names.includes(p.defaultSink)) {
    problems.add("default_sink", `no sink '${p.defaultSink}'; the sinks are ${names.join(", ")}`);
  }
  if (p.routes.length === 0 && p.defaultSink === undefined && names.length > 1) {
    problems.add("sinks", "several sinks and no routes: give routes, or default_sink for where messages go");
  }
}

/** The flags the file's `sources` replace, and those its `sinks` replace (commander's attribute names). */
const SOURCE_FLAGS = [
  "udpPort",
  "tcpPort",
  "tlsPort",
  "port",
  "gelf",
  "gelfUdpPort",
  "gelfTcpPort",
  "gelfTlsPort",
  "relpPort",
  "relpTlsPort",
  "proxyProtocol",
];
const SINK_FLAGS = ["stream", "kinesisStream", "outputDir"];

/**
 * The pipeline of the file, sinks' record options defaulting to `o`'s; the flags' sources or
 * sink where it has none. A flag that the file's section replaces is refused when given.
 */
function buildPipeline(
  o: FlagValues,
  given: ReadonlySet<string>,
  p: {
    sources: SourceSpec[] | undefined;
    sinks: SinkEntry[] | undefined;
    routes: RouteSpec[];
    defaultSink: string | undefined;
  },
  problems: Problems,
): Pipeline {
  for (const [section, flags] of [["sources", SOURCE_FLAGS], ["sinks", SINK_FLAGS]] as const) {
    const replaced = flags.filter((f) => given.has(f));
    if ((section === "sources" ? p.sources : p.sinks) !== undefined && replaced.length > 0) {
      const names = replaced.map((f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(", ");
      throw new ConfigError(`${names} and the --config file's ${section} both say it: give one or the other`);
    }
  }
  const sources = p.sources ?? withSection("sources", () => checkedSources(o));
  const sinks = p.sinks === undefined ? [withSection("sinks", () => sinkOfFlags(o))] : p.sinks.map((entry) => ({
    ...sinkFromFlags(o, entry.name),
    // A role of the flags is every AWS sink's that names none; local files take none.
    ...(entry.outputDir === undefined ? {} : { role: undefined }),
    ...entry,
  }));
  for (const sink of sinks) {
    const problem = sinkProblem(sink);
    if (problem !== undefined) {
      problems.add(
        `sinks.${sink.name}`,
        problem.replace("--kinesis-stream", "kinesis_streams").replace(
          /--([a-z-]+)/g,
          (_, flag: string) => flag.replaceAll("-", "_"),
        ),
      );
    }
  }
  const known = new Set(sources.flatMap((s) => [s.name, s.label]));
  p.routes.forEach((route, i) => {
    for (const listener of route.match.listeners ?? []) {
      if (!known.has(listener)) {
        problems.add(
          `routes[${i}].match.listener`,
          `no listener '${listener}'; the sources are ${[...known].join(", ")}`,
        );
      }
    }
  });
  if (problems.list.length > 0) throw new ConfigFileError(problems.list);
  const defaultSink = p.defaultSink ?? (p.routes.length === 0 ? sinks[0]!.name : undefined);
  return { sources, sinks, routes: p.routes, defaultSink };
}

/** Runs `make`; its error says that the file could have given `section` instead of the flags. */
function withSection<T>(section: string, make: () => T): T {
  try {
    return make();
  } catch (error) {
    throw new ConfigError(`${(error as Error).message} (or give ${section} in the --config file)`);
  }
}
