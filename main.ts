/**
 * kinesyslog: a syslog relay to AWS Kinesis Data Firehose.
 *
 * `deno run` entry point and the `deno compile` binary's entry point.
 *
 * @module
 */
import { Allocator } from "./src/allocator.ts";
import { parseCli } from "./src/cli.ts";
import { EXIT_CONFIG, StartupError } from "./src/config/config_error.ts";
import { log } from "./src/log.ts";
import { Relay } from "./src/relay.ts";

const encoder = new TextEncoder();

/** Runs the command line; resolves to the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const cli = parseCli(
    args,
    (text) => void Deno.stdout.writeSync(encoder.encode(text)),
    (text) => void Deno.stderr.writeSync(encoder.encode(text)),
  );
  if (cli.kind === "exit") return cli.code;
  if (cli.kind === "decode") {
    const { decode } = await import("./src/decode/decode_command.ts");
    return await decode(cli.options, {
      out: async (text) => {
        const bytes = encoder.encode(text);
        for (let at = 0; at < bytes.length;) at += await Deno.stdout.write(bytes.subarray(at));
      },
      err: (line) => void Deno.stderr.writeSync(encoder.encode(line + "\n")),
    });
  }
  if (cli.kind === "install") {
    const { install } = await import("./src/install/install_command.ts");
    return await install(cli.options, {
      out: (text) => void Deno.stdout.writeSync(encoder.encode(text)),
      err: (line) => void Deno.stderr.writeSync(encoder.encode(line + "\n")),
    });
  }
  if (cli.kind === "check-config") {
    const { sources, sinks, routes } = cli.config.pipeline;
    const line = `${cli.path}: valid: ${sources.length} sources (${sources.map((s) => s.name).join(", ")}), ` +
      `${sinks.length} sinks (${sinks.map((s) => s.name).join(", ")}), ${routes.length} routes\n`;
    Deno.stdout.writeSync(encoder.encode(line));
    return 0;
  }
  const config = cli.config;
  log.configure({ level: config.logLevel, format: config.logFormat });
  // Before the workers start, so that their threads share the arenas (`allocator.ts`).
  const allocator = Allocator.tune();
  if (typeof allocator === "string") log.info("glibc's allocator is not tuned", { why: allocator });
  // Signals are handled before anything starts: one that arrives during startup stops the
  // relay as soon as it is up, never by Deno's default action (which would lose data).
  let relay: Relay | undefined;
  let stopRequested = false;
  let signals = 0;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => {
      if (++signals > 1) {
        // A second signal: the operator will not wait. Spool files are written atomically,
        // so the spool stays consistent; what was still buffered in memory is lost.
        log.warn("Second signal: exiting now; messages still buffered in memory are lost", { signal });
        Deno.exit(130);
      }
      log.info("Signal received; a second signal exits at once", { signal });
      stopRequested = true;
      void relay?.shutdown();
    });
  }
  // SIGHUP reloads the TLS certificates (after a renewal) without dropping connections, and
  // the --config file's routes.
  // `POST /-/reload` on a metrics port (--metrics-reload) does the same.
  const reload = async (): Promise<string> => {
    if (relay === undefined) return "unchanged";
    const certificates = await relay.reloadCertificates();
    if (config.configFile !== undefined) return await reloadConfig(args, relay);
    return certificates;
  };
  Deno.addSignalListener("SIGHUP", () => void reload());
  try {
    // The relay trims as it works: an idle one sleeps.
    relay = await Relay.start(config, log, {
      reload,
      ...(typeof allocator === "string" ? {} : { trim: () => allocator.trim() }),
    });
  } catch (error) {
    if (error instanceof StartupError) {
      Deno.stderr.writeSync(encoder.encode(`kinesyslog: ${error.message}\n`));
      return 1;
    }
    throw error;
  }
  if (stopRequested) void relay.shutdown();
  await relay.stopping;
  await relay.shutdown();
  return relay.crashed === undefined ? 0 : 1;
}

/**
 * Reads the command line and the `--config` file again and hands the result to the relay; a
 * file that does not validate changes nothing, each of its problems logged, and is counted.
 */
async function reloadConfig(args: readonly string[], relay: Relay): Promise<string> {
  const problems: string[] = [];
  const cli = parseCli(args, () => {}, (text) => problems.push(...text.trim().split("\n")));
  if (cli.kind !== "listen") {
    relay.metrics.configReloads.inc({ result: "invalid" });
    for (const problem of problems) log.error("SIGHUP: the --config file is invalid; nothing changes", { problem });
    return "invalid";
  }
  return await relay.reload(cli.config);
}

/**
 * Runs {@linkcode main}; a permission Deno was not given (`deno run` without the README's
 * flags) is said in one line, with what to do, instead of a stack trace.
 */
async function run(args: readonly string[]): Promise<number> {
  try {
    return await main(args);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    const line = `kinesyslog: ${error.message.replace(/, run again with.*$/, "")}: run the compiled binary, or ` +
      "deno run with the permissions the README lists (Permissions)\n";
    Deno.stderr.writeSync(encoder.encode(line));
    return EXIT_CONFIG;
  }
}

if (import.meta.main) Deno.exit(await run(Deno.args));
