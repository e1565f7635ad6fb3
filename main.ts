/**
 * kinesyslog: a syslog relay to AWS Kinesis Data Firehose.
 *
 * `deno run` entry point and the `deno compile` binary's entry point.
 *
 * @module
 */
import { parseCli } from "./src/cli.ts";
import { log } from "./src/log.ts";
import { Relay, StartupError } from "./src/relay.ts";

const encoder = new TextEncoder();

/** Runs the command line; resolves to the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const cli = parseCli(
    args,
    (text) => void Deno.stdout.writeSync(encoder.encode(text)),
    (text) => void Deno.stderr.writeSync(encoder.encode(text)),
  );
  if (cli.kind === "exit") return cli.code;
  const config = cli.config;
  if (config.debug) log.setLevel("debug");
  let relay: Relay;
  try {
    relay = await Relay.start(config, log);
  } catch (error) {
    if (error instanceof StartupError) {
      Deno.stderr.writeSync(encoder.encode(`kinesyslog: ${error.message}\n`));
      return 1;
    }
    throw error;
  }
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => {
      log.info("Signal received", { signal });
      void relay.shutdown();
    });
  }
  await relay.stopping;
  await relay.shutdown();
  return relay.crashed === undefined ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
