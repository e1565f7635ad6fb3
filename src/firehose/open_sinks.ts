/**
 * Opening the pipeline's sinks at startup: a local directory is made and written to once; a
 * Firehose or Kinesis Data Streams sink's region is resolved and (unless told not to) each
 * stream is described, so that a relay that could never deliver does not start. The AWS SDK is loaded
 * only when a sink names streams: it reads the environment as it loads, and local delivery
 * needs none of it.
 *
 * @module
 */
import type { SinkService, SinkSpec } from "../config/pipeline.ts";
import { StartupError } from "../config/config_error.ts";
import type { Logger } from "../log.ts";
import type { CredentialsSource } from "./credentials_watch.ts";
import { DirSink } from "./dir_sink.ts";
import { type AwsOptions, type StreamCheck, useProxy } from "./aws_client.ts";
import type { RecordSink } from "./record_sink.ts";
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
  /** `--https-proxy` and `--noproxy`, over the environment's. */
  httpsProxy?: string | undefined;
  noProxy?: string | undefined;
  /** Describe every stream at startup (`--no-stream-check` turns it off). */
  streamCheck: boolean;
  log: Logger;
}

/** A sink of an AWS service's stream, as opened at startup. */
interface StreamSink extends RecordSink {
  readonly stream: string;
  region(): Promise<string>;
  credentials(): Promise<string | undefined>;
  check(): Promise<StreamCheck>;
}

/** What opening a sink needs to know of an AWS service. */
interface StreamService {
  /** The module of its sink, loaded only when a sink names its streams. */
  load(): Promise<(stream: string, options: AwsOptions) => StreamSink>;
  /** Its streams in messages: "Delivery stream", "Kinesis data stream". */
  noun: string;
  /** The flag that names them, and the call that describes one. */
  flag: string;
  describe: string;
  /** Logs what a description says that the operator should know. */
  judge(stream: string, check: Extract<StreamCheck, { result: "ok" }>, log: Logger): void;
  /**
   * The regions where it has FIPS endpoints (the SDK makes a `-fips` host name for any region
   * of a partition that has some, whether it exists or not), from AWS's FIPS endpoint list.
   */
  fipsRegions: readonly string[];
}

/** The US regions, with FIPS endpoints for most services; GovCloud's are FIPS only. */
const US_FIPS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "us-gov-east-1", "us-gov-west-1"];

const SERVICES: Record<SinkService, StreamService> = {
  firehose: {
    load: async () => {
      const { FirehoseSink } = await import("./firehose_sink.ts");
      return (stream, options) => new FirehoseSink(stream, options);
    },
    noun: "Delivery stream",
    flag: "--stream",
    fipsRegions: US_FIPS,
    describe: "firehose:DescribeDeliveryStream",
    judge(stream, check, log) {
      if (check.type !== "DirectPut") {
        log.warn("The delivery stream's source is not Direct PUT: PutRecordBatch will be refused", {
          stream,
          type: check.type,
        });
      } else if (check.status !== "ACTIVE") {
        log.warn("The delivery stream is not active yet; records wait in the spool", { stream, status: check.status });
      }
    },
  },
  kinesis: {
    load: async () => {
      const { KinesisSink } = await import("./kinesis_sink.ts");
      return (stream, options) => new KinesisSink(stream, options);
    },
    noun: "Kinesis data stream",
    flag: "--kinesis-stream",
    fipsRegions: [...US_FIPS, "ca-central-1", "ca-west-1"],
    describe: "kinesis:DescribeStreamSummary",
    judge(stream, check, log) {
      // On-demand streams grow their shards with the load; a provisioned one takes 1 MiB/s and
      // 1,000 records/s per shard, which the relay learns by its refusals.
      log.info("Kinesis data stream", {
        stream,
        mode: check.type,
        shards: check.shards ?? "unknown",
        status: check.status,
      });
      if (check.status !== "ACTIVE" && check.status !== "UPDATING") {
        log.warn("The Kinesis data stream is not active; records wait in the spool", { stream, status: check.status });
      }
    },
  },
};

/** Opens every sink of `specs`; throws {@linkcode StartupError} (leaving nothing open) when one cannot be used. */
export async function openSinks(specs: readonly SinkSpec[], options: OpenSinksOptions): Promise<OpenSinks> {
  const destinations: NamedSink[][] = [];
  const closers: (() => void)[] = [];
  const close = () => closers.forEach((c) => c());
  const opened: { service: StreamService; sink: StreamSink }[] = [];
  let proxy: string | undefined;
  let proxyChecked = false;
  try {
    for (const spec of specs) {
      if (spec.outputDir !== undefined) {
        const sink = await prepareDir(spec);
        closers.push(() => sink.close());
        destinations.push([{ name: "local", sink }]);
        continue;
      }
      const service = SERVICES[spec.service];
      // Before the first AWS client is made: Deno's HTTP client reads the proxy variables once.
      if (!proxyChecked) {
        proxyChecked = true;
        proxy = announceProxy(options);
      }
      const make = await service.load();
      const named = spec.streams.map((stream) => ({
        name: stream,
        sink: make(stream, { ...options, role: spec.role, proxy }),
      }));
      for (const { sink } of named) closers.push(() => sink.close());
      opened.push(...named.map(({ sink }) => ({ service, sink })));
      destinations.push(named);
    }
    for (const { service, sink } of opened) {
      const region = await sink.region();
      // An --endpoint-url names the host itself (a FIPS VPC endpoint, say): nothing to check.
      const fips = options.useFipsEndpoint === true && options.endpointUrl === undefined;
      if (fips && options.streamCheck && !service.fipsRegions.includes(region)) {
        throw new StartupError(
          `${service.noun}s have no FIPS endpoint in ${region} (they have in ${service.fipsRegions.join(", ")}); ` +
            "choose one of these regions, or drop --use-fips-endpoint (--no-stream-check skips this check)",
        );
      }
    }
    if (options.streamCheck) await checkStreams(opened, options.log);
  } catch (error) {
    close();
    throw error instanceof StartupError ? error : new StartupError((error as Error).message);
  }
  if (opened.length === 0) return { destinations, close, owner: () => Promise.resolve({}) };
  // One sink of each role (and one of the relay's own credentials) says whether its credentials resolve.
  const byRole = new Map<string | undefined, StreamSink>();
  specs.forEach((spec, i) => {
    const first = destinations[i]![0]?.sink;
    if (spec.outputDir === undefined && first !== undefined) byRole.set(spec.role?.arn, first as StreamSink);
  });
  const account = await import("./aws_account.ts");
  return {
    destinations,
    close,
    owner: () => account.lookupAccountId({ ...options, proxy }),
    credentials: {
      check: async () => {
        for (const [role, sink] of byRole) {
          const problem = await sink.credentials();
          if (problem !== undefined) return role === undefined ? problem : `role ${role}: ${problem}`;
        }
        return undefined;
      },
      sources: () => account.credentialSources((name) => Deno.env.get(name), options.profile),
    },
  };
}

/** The proxy AWS calls go through (`--noproxy` set for this process), said in the log; `undefined` for none. */
function announceProxy(options: OpenSinksOptions): string | undefined {
  const proxy = useProxy(options, Deno.env);
  if (proxy === undefined) return undefined;
  options.log.info("AWS calls go through an HTTPS proxy", {
    proxy: proxy.shown,
    no_proxy: proxy.noProxy ?? "none",
    from: proxy.from,
  });
  return proxy.url;
}

async function prepareDir(spec: SinkSpec): Promise<DirSink> {
  try {
    return await DirSink.prepare(spec.outputDir!);
  } catch (error) {
    throw new StartupError(`Cannot use --output-dir '${spec.outputDir}': ${(error as Error).message}`);
  }
}

/**
 * Describes every stream at once: one that does not exist stops the start (a relay that could
 * never deliver must not look healthy); one the credentials may not describe, or that cannot
 * be reached now, is logged and tried anyway.
 */
async function checkStreams(opened: { service: StreamService; sink: StreamSink }[], log: Logger): Promise<void> {
  const checks = await Promise.all(
    opened.map(async ({ service, sink }) => ({ service, sink, check: await sink.check() })),
  );
  for (const { service, sink: { stream }, check } of checks) {
    if (check.result === "not_found") {
      throw new StartupError(
        `${service.noun} '${stream}' does not exist in this region and account (${service.describe.split(":")[1]}: ` +
          `${check.error}); check ${service.flag} and --region, or skip this check with --no-stream-check`,
      );
    }
    if (check.result === "ok") {
      service.judge(stream, check, log);
      continue;
    }
    log.warn(
      check.result === "denied"
        ? `May not describe the ${service.noun.toLowerCase()} (allow ${service.describe} to check it at start); going on`
        : `Cannot check the ${service.noun.toLowerCase()} now; going on, records wait in the spool until it is reached`,
      { stream, error: check.error },
    );
  }
}
