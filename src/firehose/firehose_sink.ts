/**
 * The AWS edge: the only module that imports the AWS SDK. Delivers records with
 * `PutRecordBatch` and looks up the account id for the records' `owner` field.
 *
 * Measured on Deno 2.9.6: the SDK's `requestTimeout` only logs a warning unless
 * `throwOnRequestTimeout` is set, and Deno may re-send a request once when a reused
 * keep-alive connection was reset, so a record can arrive twice: delivery is at least once.
 *
 * @module
 */
import { DescribeDeliveryStreamCommand, FirehoseClient, PutRecordBatchCommand } from "@aws-sdk/client-firehose";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import {
  DEFAULT_PUT_TIMEOUT_MS,
  type PutResult,
  type RecordSink,
  SinkError,
  type SinkRecord,
  THROTTLE_CODES,
} from "./record_sink.ts";
import { timerDelay } from "../timer.ts";

/** Where and as whom to call AWS. */
export interface AwsOptions {
  /** Region; the SDK's default chain when absent. */
  region?: string | undefined;
  /** Credentials profile; the SDK's default chain when absent. */
  profile?: string | undefined;
  /** Firehose endpoint override (VPC endpoint, local endpoint for tests). */
  endpointUrl?: string | undefined;
  /** Longest wait for one PutRecordBatch response, in seconds. @default {30} */
  requestTimeout?: number | undefined;
}

/** Longest wait for a TCP connection to Firehose, in ms. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** Longest wait for the account id at startup, in ms. */
export const OWNER_TIMEOUT_MS = 3_000;
/** Longest wait for the credential chain to resolve, in ms (instance metadata may take a second or two). */
export const CREDENTIALS_TIMEOUT_MS = 5_000;
/** Longest wait for `DescribeDeliveryStream` at startup, in ms. */
export const STREAM_CHECK_TIMEOUT_MS = 10_000;

/** What `DescribeDeliveryStream` said of a stream at startup. */
export type StreamCheck =
  | { result: "ok"; status: string; type: string }
  | { result: "not_found" | "denied" | "error"; error: string };

/**
 * A short code for an error of the SDK: the service's error name, or for a failure to reach
 * the service the system's code (`ECONNREFUSED`, `ETIMEDOUT`, `ENOTFOUND`, ...), where the
 * error's name says only `Error`.
 */
export function errorCode(error: unknown): string {
  const e = error as { name?: unknown; code?: unknown };
  const name = typeof e?.name === "string" && e.name !== "" ? e.name : "Error";
  if ((name === "Error" || name === "TypeError") && typeof e.code === "string" && /^E[A-Z0-9_]+$/.test(e.code)) {
    return e.code;
  }
  return name;
}

/** Error names of a request Firehose refused as malformed: retrying it cannot help. */
const INVALID_REQUEST = new Set(["InvalidArgumentException", "ValidationException", "SerializationException"]);
/**
 * Error names of credentials that expired or were revoked: the client is made again, so its
 * credential chain fetches fresh ones (the SDK caches them until shortly before their
 * announced expiry, which a revoked or clock-skewed session does not respect).
 */
const EXPIRED_CREDENTIALS =
  /^(ExpiredToken(Exception)?|RequestExpired|InvalidClientTokenId|UnrecognizedClientException|InvalidSignatureException)$/;

function clientConfig(options: AwsOptions, timeoutMs: number) {
  return {
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
    // Retries are ours (uploader.ts), with backoff and counted in metrics.
    maxAttempts: 1,
    requestHandler: {
      requestTimeout: timerDelay(timeoutMs),
      connectionTimeout: CONNECT_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  };
}

/** See {@linkcode FirehoseSink.recordBytes}. */
export const SHARED_RECORD_BYTES = 262_144;

/** Delivers records to one Firehose delivery stream. */
export class FirehoseSink implements RecordSink {
  /**
   * Records of at most a quarter of the smallest default quota's second (1 MiB/s): a record
   * that is a stream's whole second goes only when the service's bucket is full, which it
   * never is while another relay of a fleet sends smaller ones, and each refusal costs its
   * whole upload. Records this size cost what a 1 MB one does (billing is in 5 KB steps,
   * the gzip window is 32 KiB, the calls are as few: 4 MiB each).
   */
  readonly recordBytes = SHARED_RECORD_BYTES;
  #client: FirehoseClient;
  readonly #options: AwsOptions;
  #closed = false;

  /** Creates a sink for `stream`. */
  constructor(readonly stream: string, options: AwsOptions) {
    this.#options = options;
    this.#client = this.#makeClient();
  }

  #makeClient(): FirehoseClient {
    const options = this.#options;
    return new FirehoseClient({
      ...clientConfig(options, (options.requestTimeout ?? DEFAULT_PUT_TIMEOUT_MS / 1000) * 1000),
      ...(options.endpointUrl === undefined ? {} : { endpoint: options.endpointUrl }),
    });
  }

  /**
   * The region the SDK resolved (flag, environment or profile); throws a one-line error
   * when there is none, so a relay that could never deliver does not start.
   */
  async region(): Promise<string> {
    try {
      const region = await this.#client.config.region();
      if (region) return region;
    } catch { /* reported below */ }
    throw new Error(
      "Cannot deliver to Firehose: no AWS region; give --region, set AWS_REGION, or use a --profile " +
        "that names one (and allow reading ~/.aws)",
    );
  }

  /**
   * Resolves credentials through the SDK's chain (the flags' profile, the environment, files,
   * SSO, web identity, container, instance metadata), as a call would: undefined once it has
   * some, or why it has none. Never throws; gives up after {@linkcode CREDENTIALS_TIMEOUT_MS}.
   */
  async credentials(): Promise<string | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer in ${CREDENTIALS_TIMEOUT_MS} ms`), CREDENTIALS_TIMEOUT_MS);
    });
    try {
      return await Promise.race([
        this.#client.config.credentials().then(
          () => undefined,
          (error: Error) => `${errorCode(error)}: ${error.message}`,
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One PutRecordBatch call. */
  async put(records: readonly SinkRecord[]): Promise<PutResult[]> {
    let response;
    try {
      response = await this.#client.send(
        new PutRecordBatchCommand({
          DeliveryStreamName: this.stream,
          Records: records.map((r) => ({ Data: r.data })),
        }),
      );
    } catch (error) {
      const e = error as Error & { $metadata?: { httpStatusCode?: number } };
      const code = errorCode(e);
      const status = e.$metadata?.httpStatusCode;
      const expired = EXPIRED_CREDENTIALS.test(code);
      if (expired && !this.#closed) {
        this.#client.destroy();
        this.#client = this.#makeClient();
      }
      throw new SinkError(`${code}${status === undefined ? "" : ` (HTTP ${status})`}: ${e.message}`, code, {
        invalid: INVALID_REQUEST.has(code),
        throttled: THROTTLE_CODES.test(code) || status === 429,
        expiredCredentials: expired,
      });
    }
    const responses = response.RequestResponses ?? [];
    return records.map((_, i): PutResult => {
      const r = responses[i];
      if (r?.RecordId !== undefined && r.ErrorCode === undefined) return { ok: true };
      return { ok: false, code: r?.ErrorCode ?? "MissingResponse", message: r?.ErrorMessage ?? "no RecordId returned" };
    });
  }

  /**
   * Asks Firehose whether the stream exists and takes records (`DescribeDeliveryStream`).
   * Never throws: what it could not learn is in the result.
   */
  async check(): Promise<StreamCheck> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), STREAM_CHECK_TIMEOUT_MS);
    try {
      const { DeliveryStreamDescription: d } = await this.#client.send(
        new DescribeDeliveryStreamCommand({ DeliveryStreamName: this.stream }),
        { abortSignal: abort.signal },
      );
      return { result: "ok", status: d?.DeliveryStreamStatus ?? "UNKNOWN", type: d?.DeliveryStreamType ?? "UNKNOWN" };
    } catch (error) {
      const code = errorCode(error);
      const message = `${code}: ${(error as Error).message}`;
      if (code === "ResourceNotFoundException") return { result: "not_found", error: message };
      if (/AccessDenied|UnauthorizedOperation|NotAuthorized/i.test(code)) return { result: "denied", error: message };
      return { result: "error", error: message };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the client's connections; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
  }
}

/**
 * The AWS account id of the credentials in use, from STS `GetCallerIdentity`, or why it
 * could not be had (after {@linkcode OWNER_TIMEOUT_MS} at most). Never throws. The SDK
 * calls the regional STS endpoint of the region in use, or `AWS_ENDPOINT_URL_STS` (or
 * `AWS_ENDPOINT_URL`) when set: a private VPC needs an STS interface endpoint there.
 */
export async function lookupAccountId(
  options: AwsOptions,
): Promise<{ account: string; error?: undefined } | { account?: undefined; error: string }> {
  const client = new STSClient(clientConfig(options, OWNER_TIMEOUT_MS));
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), OWNER_TIMEOUT_MS);
  try {
    const identity = await client.send(new GetCallerIdentityCommand({}), { abortSignal: abort.signal });
    return identity.Account === undefined ? { error: "no Account in the answer" } : { account: identity.Account };
  } catch (error) {
    const why = abort.signal.aborted ? `no answer within ${OWNER_TIMEOUT_MS} ms` : (error as Error).message;
    return { error: `${errorCode(error)}: ${why}` };
  } finally {
    clearTimeout(timer);
    client.destroy();
  }
}

/**
 * The providers of the SDK's default credential chain, in its order, as the environment
 * `env` sets them up: what a relay without credentials tried (for its log line).
 */
export function credentialSources(env: (name: string) => string | undefined, profile?: string): string[] {
  const set = (name: string) => (env(name) ?? "") !== "";
  const container = set("AWS_CONTAINER_CREDENTIALS_FULL_URI") || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  return [
    `environment (AWS_ACCESS_KEY_ID${set("AWS_ACCESS_KEY_ID") ? "" : ": not set"})`,
    `shared files (profile ${profile ?? env("AWS_PROFILE") ?? "default"})`,
    "SSO",
    "credential_process",
    `web identity (AWS_WEB_IDENTITY_TOKEN_FILE${set("AWS_WEB_IDENTITY_TOKEN_FILE") ? "" : ": not set"})`,
    container
      ? "container credentials (AWS_CONTAINER_CREDENTIALS_*)"
      : env("AWS_EC2_METADATA_DISABLED")?.toLowerCase() === "true"
      ? "EC2 instance metadata (off: AWS_EC2_METADATA_DISABLED)"
      : "EC2 instance metadata",
  ];
}
