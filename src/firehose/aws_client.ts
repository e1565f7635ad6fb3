/**
 * What every AWS client of the relay shares, without importing the SDK: where and as whom to
 * call, timeouts, the error codes it reads, and the checks a sink makes at startup (region,
 * credentials). `firehose_sink.ts`, `kinesis_sink.ts` and `aws_account.ts` build on it.
 *
 * @module
 */
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import { timerDelay } from "../timer.ts";
import type { RoleSpec } from "../config/pipeline.ts";
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
  /** A role to make the calls as, assumed with the credentials above; `undefined`: those credentials. */
  role?: RoleSpec | undefined;
  /** Call the services at their FIPS endpoints (`--use-fips-endpoint`). */
  useFipsEndpoint?: boolean | undefined;
  /** Call the services at their dual-stack endpoints (`--use-dualstack-endpoint`). */
  useDualstackEndpoint?: boolean | undefined;
  /** The HTTPS proxy in use (`useProxy()`): calls go through `fetch` with a client that tunnels through it. */
  proxy?: string | undefined;
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
  // `fetch` (behind a proxy) says only "fetch failed"; its cause says what happened.
  const cause = causeOf(error);
  if (name === "TypeError" && cause !== undefined) {
    for (const [pattern, code] of FETCH_CAUSES) if (pattern.test(cause)) return code;
  }
  return name;
}

/** What a `fetch` failure's cause says, as the codes `node:https` gives (`ProxyRefused` for a refused tunnel). */
const FETCH_CAUSES: readonly [RegExp, string][] = [
  [/unsuccessful tunnel/i, "ProxyRefused"],
  [/connection refused/i, "ECONNREFUSED"],
  [/connection reset/i, "ECONNRESET"],
  [/timed? ?out/i, "ETIMEDOUT"],
  [/dns error|failed to lookup|name or service not known/i, "ENOTFOUND"],
  [/client error|connect/i, "NetworkError"],
];

/** The message of an error's cause, if it has one. */
function causeOf(error: unknown): string | undefined {
  const cause = (error as { cause?: unknown })?.cause;
  return cause instanceof Error ? cause.message : undefined;
}

/**
 * An error's message, with its cause's (`fetch` puts what happened there), and for a proxy
 * that refused to tunnel, what to do about it.
 */
export function errorText(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  const cause = causeOf(error);
  if (errorCode(error) === "ProxyRefused") {
    return "the HTTPS proxy refused to tunnel to AWS (its answer to CONNECT was not 200): allow the endpoint's " +
      `host and port 443 in the proxy, or name the host in NO_PROXY or --noproxy (${cause})`;
  }
  return cause === undefined ? message : `${message}: ${cause}`;
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
  return new SinkError(`${code}${status === undefined ? "" : ` (HTTP ${status})`}: ${errorText(e)}`, code, {
    invalid: INVALID_REQUEST.has(code),
    throttled: THROTTLE_CODES.test(code) || status === 429,
    expiredCredentials: EXPIRED_CREDENTIALS.test(code),
  });
}

/** Lifetime asked of a role's sessions, in seconds (the least a role allows is 900; the default maximum 3,600). */
export const ROLE_SESSION_SECONDS = 3_600;

/**
 * Credentials of `role`, assumed through STS `AssumeRole` with the relay's own (the SDK's
 * chain, or `options.profile`), by the SDK's `fromTemporaryCredentials` (loaded at the first
 * call). The client that calls it keeps them and asks again five minutes before they expire
 * (the SDK's identity cache), and a client made again after an expired-token error asks at once.
 */
export function assumedRole(role: RoleSpec, options: AwsOptions) {
  type Provider = () => Promise<{ accessKeyId: string; secretAccessKey: string; expiration?: Date }>;
  let provider: Promise<Provider> | undefined;
  return async () => {
    provider ??= import("@aws-sdk/credential-providers").then(({ fromNodeProviderChain, fromTemporaryCredentials }) =>
      fromTemporaryCredentials({
        params: {
          RoleArn: role.arn,
          RoleSessionName: role.sessionName,
          DurationSeconds: ROLE_SESSION_SECONDS,
          ...(role.externalId === undefined ? {} : { ExternalId: role.externalId }),
        },
        ...(options.profile === undefined
          ? {}
          : { masterCredentials: fromNodeProviderChain({ profile: options.profile }) }),
        clientConfig: {
          ...(options.region === undefined ? {} : { region: options.region }),
          ...(options.useFipsEndpoint === true ? { useFipsEndpoint: true } : {}),
          ...(options.useDualstackEndpoint === true ? { useDualstackEndpoint: true } : {}),
          maxAttempts: 1,
          requestHandler: requestHandler(options, CREDENTIALS_TIMEOUT_MS),
        },
      }) as Provider
    );
    return await (await provider)();
  };
}

/** The one HTTP client of the proxy's calls, made at the first (after `NO_PROXY` is set: it is read then). */
let proxyClient: { url: string; client: Deno.HttpClient } | undefined;

/**
 * How a client sends its requests. By default the SDK's `node:https` handler, whose timeouts
 * were measured on Deno 2.9.6 (a request timeout only throws with `throwOnRequestTimeout`).
 * Behind an HTTPS proxy, the SDK's `fetch` handler with a Deno HTTP client that tunnels
 * through it and honours `NO_PROXY`: Deno's `node:https` ignores `HTTPS_PROXY` (measured with
 * tinyproxy: `fetch` asked it for `CONNECT`, `node:https` connected directly).
 */
export function requestHandler(options: AwsOptions, timeoutMs: number): RequestHandlerOptions | FetchHttpHandler {
  const proxy = options.proxy;
  if (proxy !== undefined) {
    if (proxyClient?.url !== proxy) {
      proxyClient = { url: proxy, client: Deno.createHttpClient({ proxy: { url: proxy } }) };
    }
    const { client } = proxyClient;
    return new FetchHttpHandler({
      requestTimeout: timerDelay(timeoutMs),
      keepAlive: true,
      requestInit: () => ({ client }) as RequestInit,
    });
  }
  return { requestTimeout: timerDelay(timeoutMs), connectionTimeout: CONNECT_TIMEOUT_MS, throwOnRequestTimeout: true };
}

/** The `node:https` handler's options (`requestHandler`). */
export interface RequestHandlerOptions {
  requestTimeout: number;
  connectionTimeout: number;
  throwOnRequestTimeout: boolean;
}

/** The options every client takes: region, profile (or a role), no retries of the SDK's own, timeouts. */
export function clientConfig(options: AwsOptions, timeoutMs: number) {
  return {
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
    ...(options.role === undefined ? {} : { credentials: assumedRole(options.role, options) }),
    ...(options.useFipsEndpoint === true ? { useFipsEndpoint: true } : {}),
    ...(options.useDualstackEndpoint === true ? { useDualstackEndpoint: true } : {}),
    // Retries are ours (uploader.ts), with backoff and counted in metrics.
    maxAttempts: 1,
    requestHandler: requestHandler(options, timeoutMs),
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
        (error: Error) => `${errorCode(error)}: ${errorText(error)}`,
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
  const message = `${code}: ${errorText(error)}`;
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

/** The HTTPS proxy AWS calls go through, as the startup log says it. */
export interface ProxyInUse {
  /** The proxy's URL, as given. */
  url: string;
  /** The proxy's URL, without a password (for the log). */
  shown: string;
  /** Hosts reached without it. */
  noProxy: string | undefined;
  /** Where it was given: `--https-proxy`, or the variable read. */
  from: string;
}

/**
 * The HTTPS proxy of every AWS call: `--https-proxy` when given, else `HTTPS_PROXY` (or
 * `https_proxy`); `--noproxy` sets `NO_PROXY` for this process before the proxy's HTTP client
 * is made, which reads it then. `undefined` when there is none.
 */
export function useProxy(
  options: { httpsProxy?: string | undefined; noProxy?: string | undefined },
  env: Pick<typeof Deno.env, "get" | "set">,
): ProxyInUse | undefined {
  if (options.noProxy !== undefined) { for (const name of ["NO_PROXY", "no_proxy"]) env.set(name, options.noProxy); }
  const from = options.httpsProxy !== undefined
    ? "--https-proxy"
    : ["HTTPS_PROXY", "https_proxy"].find((name) => (env.get(name) ?? "") !== "");
  if (from === undefined) return undefined;
  const url = options.httpsProxy ?? env.get(from)!;
  return { url, shown: withoutPassword(url), noProxy: env.get("NO_PROXY") ?? env.get("no_proxy"), from };
}

/** A proxy URL without the password it may carry (`http://user:secret@host` → `http://user:***@host`). */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.href.replace(/\/$/, "");
  } catch {
    return url.replace(/:[^:@/]*@/, ":***@");
  }
}
