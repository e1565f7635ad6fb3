/**
 * Opening the pipeline's sinks at startup: a local directory is made and written to once; a
 * Firehose sink's region is resolved and (unless told not to) each delivery stream is
 * described, so that a relay that could never deliver does not start. The AWS SDK is loaded
 * only when a sink names streams: it reads the environment as it loads, and local delivery
 * needs none of it.
 *
 * @module
 */
import type { SinkSpec } from "../config/pipeline.ts";
import { StartupError } from "../config/config_error.ts";
import type { Logger } from "../log.ts";
import type { CredentialsSource } from "./credentials_watch.ts";
import { DirSink } from "./dir_sink.ts";
import type { AwsOptions, FirehoseSink } from "./firehose_sink.ts";
import type { NamedSink } from "./uploader.ts";

/** The sinks, opened. */
export interface OpenSinks {
  /** Each sink's destinations, by the sink's index. */
  destinations: NamedSink[][];
  /** Closes every destination. */
  close(): void;
  /** The account id for the records' owner, or why it could not be had; nothing without Firehose. */
  owner: () => Promise<{ account?: string | undefined; error?: string | undefined }>;
  /** Where AWS credentials come from; nothing without Firehose. */
  credentials?: CredentialsSource;
}

/** Options of {@linkcode openSinks}: where and as whom to call AWS, and whether to check the streams. */
export interface OpenSinksOptions extends AwsOptions {
  /** Describe every stream at startup (`--no-stream-check` turns it off). */
  streamCheck: boolean;
  log: Logger;
}

/** Opens every sink of `specs`; throws {@linkcode StartupError} (leaving nothing open) when one cannot be used. */
export async function openSinks(specs: readonly SinkSpec[], options: OpenSinksOptions): Promise<OpenSinks> {
  const destinations: NamedSink[][] = [];
  const closers: (() => void)[] = [];
  const close = () => closers.forEach((c) => c());
  const firehose: FirehoseSink[] = [];
  let aws: typeof import("./firehose_sink.ts") | undefined;
  try {
    for (const spec of specs) {
      if (spec.outputDir !== undefined) {
        const sink = await prepareDir(spec);
        closers.push(() => sink.close());
        destinations.push([{ name: "local", sink }]);
        continue;
      }
      aws ??= await import("./firehose_sink.ts");
      const named = spec.streams.map((stream) => ({ name: stream, sink: new aws!.FirehoseSink(stream, options) }));
      for (const { sink } of named) closers.push(() => sink.close());
      firehose.push(...named.map((n) => n.sink));
      destinations.push(named);
    }
    for (const sink of firehose) await sink.region();
    if (options.streamCheck) await checkStreams(firehose, options.log);
  } catch (error) {
    close();
    throw error instanceof StartupError ? error : new StartupError((error as Error).message);
  }
  const first = firehose[0];
  if (aws === undefined || first === undefined) return { destinations, close, owner: () => Promise.resolve({}) };
  const sdk = aws;
  return {
    destinations,
    close,
    owner: () => sdk.lookupAccountId(options),
    credentials: {
      check: () => first.credentials(),
      sources: () => sdk.credentialSources((name) => Deno.env.get(name), options.profile),
    },
  };
}

async function prepareDir(spec: SinkSpec): Promise<DirSink> {
  try {
    return await DirSink.prepare(spec.outputDir!);
  } catch (error) {
    throw new StartupError(`Cannot use --output-dir '${spec.outputDir}': ${(error as Error).message}`);
  }
}

/**
 * Asks Firehose about every stream at once (`DescribeDeliveryStream`): one that does not
 * exist stops the start (a relay that could never deliver must not look healthy); one the
 * credentials may not describe, or that cannot be reached now, is logged and tried anyway.
 */
async function checkStreams(sinks: FirehoseSink[], log: Logger): Promise<void> {
  const checks = await Promise.all(sinks.map(async (sink) => ({ stream: sink.stream, check: await sink.check() })));
  for (const { stream, check } of checks) {
    if (check.result === "not_found") {
      throw new StartupError(
        `Delivery stream '${stream}' does not exist in this region and account (DescribeDeliveryStream: ` +
          `${check.error}); check --stream and --region, or skip this check with --no-stream-check`,
      );
    }
    if (check.result === "ok") {
      if (check.type !== "DirectPut") {
        log.warn("The delivery stream's source is not Direct PUT: PutRecordBatch will be refused", {
          stream,
          type: check.type,
        });
      } else if (check.status !== "ACTIVE") {
        log.warn("The delivery stream is not active yet; records wait in the spool", { stream, status: check.status });
      }
      continue;
    }
    log.warn(
      check.result === "denied"
        ? "May not describe the delivery stream (allow firehose:DescribeDeliveryStream to check it at start); going on"
        : "Cannot check the delivery stream now; going on, records wait in the spool until it is reached",
      { stream, error: check.error },
    );
  }
}
