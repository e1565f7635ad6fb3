/**
 * What every AWS client of the relay shares, without importing the SDK: where and as whom to
 * call, timeouts, the error codes it reads, and the checks a sink makes at startup (region,
 * credentials). `firehose_sink.ts`, `kinesis_sink.ts` and `aws_account.ts` build on it.
 *
 * @module
 */
import { timerDelay } from "../timer.ts";
import {
  DEFAULT_PUT_TIMEOUT_MS,
  type PutResult,
  type RecordSink,
  SHARED_RECORD_BYTES,
  SinkError,
  type SinkRecord,
  THROTTLE_CODES,
} from "./record_sink.ts";

/** Where and as whom to call AWS. */
export interface AwsOptions {
  /** Region; the SDK's default chain when absent. */
  region?: string | undefined;
  /** Credentials profile; the SDK's default chain when absent. */
  profile?: string | undefined;
  /** Endpoint override of every service the sinks call (VPC endpoint, local endpoint for tests). */
  endpointUrl?: string | undefined;
  /** Longest wait for one call delivering records, in seconds. @default {30} */
  requestTimeout?: number | undefined;
}

/** Longest wait for a TCP connection to AWS, in ms. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** Longest wait for the account id at startup, in ms. */
export const OWNER_TIMEOUT_MS = 3_000;
/** Longest wait for the credential chain to resolve, in ms (instance metadata may take a second or two). */
export const CREDENTIALS_TIMEOUT_MS = 5_000;
/** Longest wait for a stream's description at startup, in ms. */
export const STREAM_CHECK_TIMEOUT_MS = 10_000;

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

/** Error names of a request the service refused as malformed: retrying it cannot help. */
const INVALID_REQUEST = new Set(["InvalidArgumentException", "ValidationException", "SerializationException"]);
/**
 * Error names of credentials that expired or were revoked: the client is made again, so its
 * credential chain fetches fresh ones (the SDK caches them until shortly before their
 * announced expiry, which a revoked or clock-skewed session does not respect).
 */
const EXPIRED_CREDENTIALS =
  /^(ExpiredToken(Exception)?|RequestExpired|InvalidClientTokenId|UnrecognizedClientException|InvalidSignatureException)$/;

/** The {@linkcode SinkError} of a whole call that failed with `error`. */
export function callError(error: unknown): SinkError {
  const e = error as Error & { $metadata?: { httpStatusCode?: number } };
  const code = errorCode(e);
  const status = e.$metadata?.httpStatusCode;
  return new SinkError(`${code}${status === undefined ? "" : ` (HTTP ${status})`}: ${e.message}`, code, {
    invalid: INVALID_REQUEST.has(code),
    throttled: THROTTLE_CODES.test(code) || status === 429,
    expiredCredentials: EXPIRED_CREDENTIALS.test(code),
  });
}

/** The options every client takes: region, profile, no retries of the SDK's own, timeouts. */
export function clientConfig(options: AwsOptions, timeoutMs: number) {
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

/** A client's resolvers of region and credentials (every SDK client has them). */
export interface ClientResolvers {
  config: { region(): Promise<string>; credentials(): Promise<unknown> };
}

/**
 * The region the SDK resolved (flag, environment or profile); throws a one-line error
 * when there is none, so a relay that could never deliver does not start.
 */
export async function resolveRegion(client: ClientResolvers, service: string): Promise<string> {
  try {
    const region = await client.config.region();
    if (region) return region;
  } catch { /* reported below */ }
  throw new Error(
    `Cannot deliver to ${service}: no AWS region; give --region, set AWS_REGION, or use a --profile ` +
      "that names one (and allow reading ~/.aws)",
  );
}

/**
 * Resolves credentials through the SDK's chain (the flags' profile, the environment, files,
 * SSO, web identity, container, instance metadata), as a call would: undefined once it has
 * some, or why it has none. Never throws; gives up after {@linkcode CREDENTIALS_TIMEOUT_MS}.
 */
export async function resolveCredentials(client: ClientResolvers): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer in ${CREDENTIALS_TIMEOUT_MS} ms`), CREDENTIALS_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      client.config.credentials().then(
        () => undefined,
        (error: Error) => `${errorCode(error)}: ${error.message}`,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a stream's description said of it at startup. */
export type StreamCheck =
  | { result: "ok"; status: string; type: string; shards?: number | undefined }
  | { result: "not_found" | "denied" | "error"; error: string };

/** The {@linkcode StreamCheck} of a description call that failed with `error`. */
export function failedCheck(error: unknown): StreamCheck {
  const code = errorCode(error);
  const message = `${code}: ${(error as Error).message}`;
  if (code === "ResourceNotFoundException") return { result: "not_found", error: message };
  if (/AccessDenied|UnauthorizedOperation|NotAuthorized/i.test(code)) return { result: "denied", error: message };
  return { result: "error", error: message };
}

/**
 * An SDK client made again after credentials expire (the new one's chain fetches fresh ones),
 * and destroyed once on close.
 */
export class RenewableClient<C extends ClientResolvers & { destroy(): void }> {
  #client: C;
  #closed = false;

  /** Makes the first client with `make`. */
  constructor(private readonly make: () => C) {
    this.#client = make();
  }

  /** The client in use. */
  get client(): C {
    return this.#client;
  }

  /** The region the SDK resolved; throws when there is none ({@linkcode resolveRegion}). */
  region(service: string): Promise<string> {
    return resolveRegion(this.#client, service);
  }

  /** Whether the SDK's chain gives credentials: undefined, or why not ({@linkcode resolveCredentials}). */
  credentials(): Promise<string | undefined> {
    return resolveCredentials(this.#client);
  }

  /**
   * Describes a stream at startup with `call`, read by `read`, within
   * {@linkcode STREAM_CHECK_TIMEOUT_MS}. Never throws: what it could not learn is in the result.
   */
  async describe<T>(
    call: (client: C, signal: AbortSignal) => Promise<T>,
    read: (answer: T) => StreamCheck,
  ): Promise<StreamCheck> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), STREAM_CHECK_TIMEOUT_MS);
    try {
      return read(await call(this.#client, abort.signal));
    } catch (error) {
      return failedCheck(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The error of a failed call: a new client first when it says the credentials expired. */
  failed(error: unknown): SinkError {
    const failure = callError(error);
    if (failure.options.expiredCredentials && !this.#closed) {
      this.#client.destroy();
      this.#client = this.make();
    }
    return failure;
  }

  /** Closes the client's connections; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
  }
}

/** An SDK client's configuration for delivering records: {@linkcode clientConfig} at the put timeout, and the endpoint. */
export function deliveryConfig(options: AwsOptions) {
  return {
    ...clientConfig(options, (options.requestTimeout ?? DEFAULT_PUT_TIMEOUT_MS / 1000) * 1000),
    ...(options.endpointUrl === undefined ? {} : { endpoint: options.endpointUrl }),
  };
}

/**
 * A sink of one stream of an AWS service (`firehose_sink.ts`, `kinesis_sink.ts`): what they
 * share; each says how it puts records and describes its stream.
 */
export abstract class AwsStreamSink<C extends ClientResolvers & { destroy(): void }> implements RecordSink {
  /** See {@linkcode SHARED_RECORD_BYTES}. */
  readonly recordBytes = SHARED_RECORD_BYTES;
  /** The client, made again when credentials expire. */
  protected readonly client: RenewableClient<C>;

  /** Creates a sink for `stream` of `service` (its name in messages), its clients made by `make`. */
  constructor(readonly stream: string, private readonly service: string, make: () => C) {
    this.client = new RenewableClient(make);
  }

  /** The region the SDK resolved; throws when there is none. */
  region(): Promise<string> {
    return this.client.region(this.service);
  }

  /** Whether the SDK's chain gives credentials: undefined, or why not. */
  credentials(): Promise<string | undefined> {
    return this.client.credentials();
  }

  /** One call delivering `records`. */
  abstract put(records: readonly SinkRecord[]): Promise<PutResult[]>;

  /** Whether the stream exists and takes records; never throws. */
  abstract check(): Promise<StreamCheck>;

  /** Closes the client's connections; idempotent. */
  close(): void {
    this.client.close();
  }
}
