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
import type { Level, LogFormat } from "./log.ts";
import { SourceFilter } from "./listen/source_filter.ts";
import { defaultWorkerMemoryLimitMiB } from "./spool/spool_worker_client.ts";
import { VERSION } from "./version.ts";
import type { Config, RelpAck } from "./config/config.ts";
import { ConfigError, EXIT_CONFIG } from "./config/config_error.ts";
import { envName, flags, LISTEN_OPTIONS, type OptionSpec } from "./config/listen_options.ts";
import { openFileLimit } from "./open_file_limit.ts";
import { type ConfigFile, readConfigFile } from "./config/config_file.ts";
import { pipelineFromFlags } from "./config/flags_pipeline.ts";
import { parseSuites, TLS12_SUITES, TLS13_SUITES, type TlsMinVersion } from "./listen/tls_policy.ts";
import type { InstallOptions } from "./install/install_command.ts";
import type { DecodeOptions } from "./decode/decode_command.ts";

/** The result of reading the command line. */
export type CliResult =
  | { kind: "listen"; config: Config }
  | { kind: "check-config"; path: string; config: Config }
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
        result = { kind: "listen", config: configure(opts, command) };
      },
    ),
  );

  program.command("check-config")
    .description("check a configuration file as `listen --config FILE` would read it; every error with its line")
    .exitOverride()
    .configureOutput(output)
    .argument("<file>", "the YAML file")
    .action((path: string) => {
      const listen = listenCommand().exitOverride().configureOutput(output);
      listen.action((opts: Record<string, unknown>, command: Command) => {
        result = { kind: "check-config", path, config: configure(opts, command) };
      });
      listen.parse(["--config", path], { from: "user" });
    });

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
      err(error.message.split("\n").map((line) => `kinesyslog: ${line}\n`).join(""));
      return { kind: "exit", code: EXIT_CONFIG };
    }
    // commander has printed help, the version, or its own one-line error; explicit --help
    // and --version exit 0, help shown for a missing command is a usage error.
    if (error instanceof CommanderError) return { kind: "exit", code: error.exitCode === 0 ? 0 : EXIT_CONFIG };
    throw error;
  }
  return result;
}

/**
 * The configuration of `listen`: the flags and variables, over the `--config` file's values,
 * over the defaults.
 */
function configure(opts: Record<string, unknown>, command: Command): Config {
  // --port (the predecessor's flag) replaces the default TLS port, like --tls-port does.
  if (opts.port !== undefined) {
    const given = command.getOptionValueSource("tlsPort") === "default" ? [] : (opts.tlsPort as number[]);
    opts.tlsPort = [...new Set([...given, ...(opts.port as number[])])];
  }
  const given = new Set<string>();
  for (const o of command.options) {
    const name = o.attributeName();
    const source = command.getOptionValueSource(name);
    if (source === "cli" || source === "env") given.add(name);
  }
  if (opts.config === undefined) return validate(opts);
  const file = readConfigFile(String(opts.config));
  for (const [name, value] of file.options) if (!given.has(name)) opts[name] = value;
  return validate(opts, { file, given });
}

/** Builds `kinesyslog listen` from the option table. */
function listenCommand(): Command {
  const command = new Command("listen")
    .description("receive syslog and GELF and deliver them to Firehose (or a local directory)");
  for (const spec of LISTEN_OPTIONS) command.addOption(commanderOption(spec));
  return fromEnvironment(command);
}

/** One option of the table as commander's, its bounds in its help. */
function commanderOption(spec: OptionSpec): Option {
  const value = spec.value;
  const help = value?.edges === undefined ? spec.help : `${spec.help} [${value.range}]`;
  const option = new Option(flags(spec), help).env(envName(spec));
  if (value !== undefined) {
    option.argParser((text: string, previous: unknown) => value.parse(`--${spec.name}`, text, previous));
  }
  if (spec.choices !== undefined) option.choices(spec.choices);
  if (spec.default !== undefined || spec.defaultText !== undefined) option.default(spec.default, spec.defaultText);
  if (spec.hidden === true) option.hideHelp();
  return option;
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

function validate(
  o: Record<string, unknown>,
  from?: { file: ConfigFile; given: ReadonlySet<string> },
): Config {
  const str = (key: string) => (o[key] === undefined || o[key] === "" ? undefined : String(o[key]));
  const file = from?.file;
  const config: Config = {
    pipeline: from === undefined ? pipelineFromFlags(o) : from.file.pipeline(o, from.given),
    configFile: from?.file.path,
    address: String(o.address),
    udpRecvBuffer: o.udpRecvBuffer as number,
    relpAck: o.relpAck as RelpAck,
    cert: str("cert"),
    key: str("key"),
    clientCa: str("clientCa"),
    clientAuth: (o.clientAuth as ClientAuthMode | undefined) ?? (str("clientCa") !== undefined ? "required" : "none"),
    clientAllow: (o.clientAllow as string[] | undefined) ?? [],
    clientCrl: str("clientCrl"),
    tlsMinVersion: o.tlsMinVersion as TlsMinVersion,
    tlsCiphers: suites("tls-ciphers", o.tlsCiphers, TLS12_SUITES),
    tlsCiphersuites: suites("tls-ciphersuites", o.tlsCiphersuites, TLS13_SUITES),
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
    httpsProxy: str("httpsProxy"),
    noProxy: str("noproxy"),
    useFipsEndpoint: o.useFipsEndpoint === true,
    useDualstackEndpoint: o.useDualstackEndpoint === true,
    prometheusPorts: (o.prometheusPort as number[] | undefined) ?? [],
    metricsAddress: str("metricsAddress") ?? String(o.address),
    metricsMaxConnections: o.metricsMaxConnections as number,
    metricsReload: o.metricsReload === true,
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
    shutdownGrace: o.shutdownGrace as number,
    readyDeliveryTimeout: o.readyDeliveryTimeout as number,
    logLevel: o.debug === true ? "debug" : o.logLevel as Level,
    logFormat: o.logFormat as LogFormat,
  };
  const tlsPorts = config.pipeline.sources.filter((s) => s.transport === "tls").map((s) => s.port);
  if (tlsPorts.length > 0 && (config.cert === undefined || config.key === undefined)) {
    const missing = config.cert === undefined ? (config.key === undefined ? "--cert and --key" : "--cert") : "--key";
    const tls = config.pipeline.sources.filter((s) => s.transport === "tls");
    const off = file !== undefined
      ? "a source without transport tls"
      : tls.some((s) => s.protocol === "relp")
      ? "--relp-tls-port 0"
      : tls.some((s) => s.protocol === "gelf") && o.gelf !== true
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
  if (config.clientCrl !== undefined && config.clientCa === undefined) {
    throw new ConfigError("--client-crl needs --client-ca, the CA bundle whose revocation lists it holds");
  }
  if (config.clientAllow.length > 0 && config.clientAuth !== "required") {
    throw new ConfigError("--client-allow needs --client-auth required (an unverified client proves no name)");
  }
  try {
    SourceFilter.parse(config.allowFrom);
  } catch (error) {
    throw new ConfigError(`${(error as Error).message} (--allow-from)`);
  }
  checkDescriptors(config);
  if (config.endpointUrl !== undefined && !URL.canParse(config.endpointUrl)) {
    throw new ConfigError(`Invalid --endpoint-url '${config.endpointUrl}': give a URL such as https://host:443`);
  }
  return config;
}

/**
 * Refuses a count of connections that the process could never hold: each is a descriptor, and
 * past the process's limit accepting fails for every listener, not only the full one.
 */
function checkDescriptors(config: Config): void {
  const limit = openFileLimit();
  if (limit === undefined) return;
  for (
    const [name, value] of [["max-connections", config.maxConnections], [
      "metrics-max-connections",
      config.metricsMaxConnections,
    ]] as const
  ) {
    if (value > limit) {
      throw new ConfigError(
        `Invalid --${name} (${envName({ name })}) ${value}: more than the ${limit} descriptors this process may ` +
          `open (ulimit -n; LimitNOFILE= in a systemd unit); give at most ${limit}`,
      );
    }
  }
  for (const source of config.pipeline.sources) {
    const value = source.settings.maxConnections;
    if (value !== undefined && value > limit) {
      throw new ConfigError(
        `Invalid max_connections ${value} of source '${source.name}': more than the ${limit} descriptors this ` +
          `process may open (ulimit -n; LimitNOFILE= in a systemd unit); give at most ${limit}`,
      );
    }
  }
}

/** A suite list of `--tls-ciphers` or `--tls-ciphersuites`, each name one the relay's TLS can negotiate. */
function suites(name: string, value: unknown, known: readonly string[]): string[] {
  try {
    return parseSuites((value as string[] | undefined) ?? [], known);
  } catch (error) {
    throw new ConfigError(`Invalid --${name} (${envName({ name })}): ${(error as Error).message}`);
  }
}
