/**
 * A local HTTP endpoint that speaks the Firehose JSON protocol
 * (`X-Amz-Target: Firehose_20150804.PutRecordBatch`), for the real AWS SDK through
 * `--endpoint-url`. It enforces the service's limits (500 records and 4 MiB a call,
 * 1,024,000 bytes a record), keeps every accepted record, meters each stream's quota as the
 * service does ({@linkcode FirehoseEndpoint.setQuota}: token buckets of bytes, records and calls
 * per second with one second's burst; records past the bytes or records quota fail one by one
 * with "Slow down.", calls past the calls quota are refused whole), and injects faults: per-record
 * failures, bursts of 500 and 503, throttling (per-record "Slow down" in a 200 response past a
 * rate), slow responses, expired credentials, invalid-record rejections and downtime. It also
 * speaks Kinesis Data Streams on the same port (`kinesis_streams.ts`), and it answers STS
 * `GetCallerIdentity`, so the owner lookup can be pointed at it
 * (`AWS_ENDPOINT_URL_STS`), and serves container credentials at `/credentials`
 * (`AWS_CONTAINER_CREDENTIALS_FULL_URI`).
 *
 * Used by the end-to-end tests and the benchmark.
 *
 * @module
 */
import { type DecodedEvent, textEvents } from "../src/decode/record_events.ts";
import { JsonTextSplitter } from "../src/decode/json_text_stream.ts";
import { Buffer } from "node:buffer";
import { gunzipSync, gzipSync } from "node:zlib";
import { isKplRecord, kplText } from "../src/batch/kpl_aggregate.ts";
import { KinesisStreams } from "./kinesis_streams.ts";
import { QuotaBucket } from "./quota_bucket.ts";

/** Limits of PutRecordBatch (https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html). */
export const LIMITS = { records: 500, callBytes: 4_194_304, recordBytes: 1_024_000 } as const;

/** The account id the endpoint reports through STS. */
export const TEST_ACCOUNT_ID = "123456789012";

/** Faults to inject; change them at any time. */
export interface Faults {
  /** Share of records answered with a per-record `InternalFailure`, 0..1. */
  recordFailureRate: number;
  /** Share of calls answered with HTTP 503, 0..1. */
  callFailureRate: number;
  /** The next this-many calls are answered with HTTP {@linkcode Faults.burstStatus} (a burst). */
  failNextCalls: number;
  /** Status of the burst: 503 `ServiceUnavailableException` or 500 `InternalFailure`. */
  burstStatus: 500 | 503;
  /** The next this-many calls are answered only after {@linkcode Faults.delayMs}. */
  delayNextCalls: number;
  /** Delay of a slow response, in ms. */
  delayMs: number;
  /** Access key ids whose calls are refused with `ExpiredTokenException`. */
  expiredKeys: Set<string>;
  /** Records whose decoded data matches are refused with `InvalidArgumentException`. */
  rejectRecord: ((data: Uint8Array) => boolean) | undefined;
  /** `DescribeDeliveryStream` is refused with `AccessDeniedException` (credentials without the permission). */
  describeDenied: boolean;
  /** `PutRecordBatch` is refused with `AccessDeniedException` (a role without `firehose:PutRecordBatch`). */
  putDenied: boolean;
  /** Every record of this stream is answered with a per-record `InternalFailure` (a stream that is down). */
  rejectStream: string | undefined;
  /** Every call for this stream is answered with HTTP 500 `InternalFailure`. */
  failStream: string | undefined;
  /** Calls for these streams are answered `ResourceNotFoundException` (a stream deleted while in use). */
  missingStreams: Set<string>;
  /** Every PutRecordBatch call is answered after this many ms (a slow region or link). */
  latencyMs: number;
}

/** A stream's quota, per second (https://docs.aws.amazon.com/firehose/latest/dev/limits.html). */
export interface StreamQuota {
  bytesPerSecond: number;
  recordsPerSecond: number;
  callsPerSecond: number;
}

/** An accepted record, for measuring a stream's rate. */
export interface Accepted {
  stream: string;
  /** `performance.now()` when accepted. */
  at: number;
  bytes: number;
  /** The access key id of the call: which relay sent it, when each has its own. */
  caller: string;
}

/** An event as delivered, with its record's group and stream. */
export interface DeliveredEvent {
  logGroup: string;
  logStream: string;
  owner: string;
  id: string;
  timestamp: number;
  message: string;
}

/** The endpoint. */
export class FirehoseEndpoint {
  /** Accepted records, in order (while {@linkcode FirehoseEndpoint.retain}). */
  readonly records: Uint8Array[] = [];
  /** Whether accepted records are kept (a long-running endpoint keeps only their sizes); the Kinesis streams' too. */
  get retain(): boolean {
    return this.#retain;
  }
  set retain(retain: boolean) {
    this.#retain = retain;
    this.kinesis.retain = retain;
  }
  #retain = true;
  /** Accepted records' stream, time and size, in order. */
  readonly accepted: Accepted[] = [];
  /** The delivery streams that exist. */
  readonly streams: string[];
  /** The Kinesis data streams, on the same port (`Kinesis_20131202.*` calls). */
  readonly kinesis: KinesisStreams = new KinesisStreams();
  readonly #quotas = new Map<string, { bytes: QuotaBucket; records: QuotaBucket; calls: QuotaBucket }>();
  /** Calls received, by outcome. */
  readonly calls = {
    ok: 0,
    failed503: 0,
    failed500: 0,
    invalid: 0,
    records: 0,
    failedRecords: 0,
    throttledRecords: 0,
    throttledCalls: 0,
    delayed: 0,
    delayedRecords: 0,
    expired: 0,
  };
  /** Faults to inject. */
  readonly faults: Faults = {
    recordFailureRate: 0,
    callFailureRate: 0,
    failNextCalls: 0,
    burstStatus: 503,
    delayNextCalls: 0,
    delayMs: 0,
    expiredKeys: new Set(),
    rejectRecord: undefined,
    describeDenied: false,
    putDenied: false,
    rejectStream: undefined,
    failStream: undefined,
    missingStreams: new Set(),
    latencyMs: 0,
  };
  /** `DescribeDeliveryStream` calls, by stream name. */
  readonly describes: string[] = [];
  /** The credentials served at `/credentials`, each with an expiry an hour ahead. */
  credentials = { accessKeyId: "AKIDCONTAINER1", secretAccessKey: "secret1", token: "token1" };
  /** Whether `/credentials` serves them (a container agent that is not up yet answers 503). */
  credentialsServed = true;
  /** Roles that may be assumed, with the external id each one's trust policy asks for. */
  readonly roles = new Map<string, { externalId?: string }>();
  /** STS `AssumeRole` calls answered, in order: what was asked, by whom, and the key given. */
  readonly assumed: {
    arn: string;
    externalId: string | undefined;
    sessionName: string;
    caller: string;
    key: string;
  }[] = [];
  /** How long the credentials of an assumed role last, in ms (the SDK renews them 5 minutes before). */
  roleLifetimeMs = 3_600_000;
  /** Access key ids of the PutRecordBatch calls, in order. */
  readonly accessKeys: string[] = [];
  /** Clock reading and number of records accepted in the current second (throttling). */
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #port = 0;
  #https = false;
  #random: () => number;
  #nextId = 1;

  /** Creates the endpoint for one or more delivery streams; `seed` makes the injected faults repeatable. */
  constructor(stream: string | string[] = "test-stream", seed = 42) {
    this.streams = typeof stream === "string" ? [stream] : stream;
    let x = seed;
    // A small deterministic generator (mulberry32), so that fault runs repeat.
    this.#random = () => {
      x = (x + 0x6d2b79f5) | 0;
      let t = Math.imul(x ^ (x >>> 15), 1 | x);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  /** The first (or only) delivery stream. */
  get stream(): string {
    return this.streams[0]!;
  }

  /**
   * Meters `stream` at a quota from now on (any part left out is unlimited); the buckets
   * start full, as a stream's does. Called again, it changes the rates.
   */
  setQuota(stream: string, quota: Partial<StreamQuota>): void {
    const q = this.#quotas.get(stream);
    const rates = {
      bytes: quota.bytesPerSecond ?? Infinity,
      records: quota.recordsPerSecond ?? Infinity,
      calls: quota.callsPerSecond ?? Infinity,
    };
    if (q === undefined) {
      this.#quotas.set(stream, {
        bytes: new QuotaBucket(rates.bytes),
        records: new QuotaBucket(rates.records),
        calls: new QuotaBucket(rates.calls),
      });
    } else {
      q.bytes.setRate(rates.bytes);
      q.records.setRate(rates.records);
      q.calls.setRate(rates.calls);
    }
  }

  /** The quota `stream` is metered at (Infinity where unlimited). */
  quotaOf(stream: string): StreamQuota {
    const q = this.#quotas.get(stream);
    return {
      bytesPerSecond: q?.bytes.rate ?? Infinity,
      recordsPerSecond: q?.records.rate ?? Infinity,
      callsPerSecond: q?.calls.rate ?? Infinity,
    };
  }

  /** Bytes per second `stream` accepted between `from` and `to` (`performance.now()` readings). */
  acceptedRate(stream: string, from: number, to: number): number {
    let bytes = 0;
    for (const a of this.accepted) if (a.stream === stream && a.at >= from && a.at < to) bytes += a.bytes;
    return bytes / ((to - from) / 1000);
  }

  /**
   * Listens on 127.0.0.1, or `hostname` (the same port again after
   * {@linkcode FirehoseEndpoint.stop}, or `port`), over HTTPS with `tls` (PEM texts).
   */
  start(options: { hostname?: string; port?: number; tls?: { cert: string; key: string } } = {}): this {
    this.#port = options.port ?? this.#port;
    this.#https = options.tls !== undefined;
    this.#server = Deno.serve(
      { hostname: options.hostname ?? "127.0.0.1", port: this.#port, onListen: () => {}, ...options.tls },
      (request) => this.#handle(request),
    );
    this.#port = this.#server.addr.port;
    return this;
  }

  /** Stops listening: the relay sees connection errors until the next start. */
  async stop(): Promise<void> {
    await this.#server?.shutdown();
    this.#server = undefined;
  }

  /** The URL for `--endpoint-url` (`https:` when started with a certificate). */
  get url(): string {
    return `${this.#https ? "https" : "http"}://127.0.0.1:${this.#port}`;
  }

  /** Every delivered event, decoded (each record is one gzip member). */
  events(): DeliveredEvent[] {
    return this.records.flatMap(decodeRecord);
  }

  /** The events of the `index`th accepted record (CWL). */
  recordEvents(index: number): DeliveredEvent[] {
    return decodeRecord(this.records[index]!);
  }

  /** Every event of every accepted record, of any record format (CWL events, NDJSON objects). */
  objects(): DecodedEvent[] {
    return this.records.flatMap(recordObjects);
  }

  async #handle(request: Request): Promise<Response> {
    const target = request.headers.get("x-amz-target") ?? "";
    const body = await request.text();
    if (new URL(request.url).pathname === "/credentials") {
      if (!this.credentialsServed) return new Response("not yet", { status: 503 });
      const expiration = new Date(Date.now() + 3_600_000).toISOString();
      const c = this.credentials;
      return Response.json({
        AccessKeyId: c.accessKeyId,
        SecretAccessKey: c.secretAccessKey,
        Token: c.token,
        Expiration: expiration,
      });
    }
    if (target.startsWith("Kinesis_20131202.")) return this.kinesis.handle(target, body);
    if (target === "") {
      if (body.includes("Action=GetCallerIdentity")) return stsIdentity();
      if (body.includes("Action=AssumeRole")) return this.#assumeRole(body, request.headers);
      return error(400, "UnknownOperationException", "unknown operation");
    }
    if (target === "Firehose_20150804.DescribeDeliveryStream") return this.#describe(body);
    if (target !== "Firehose_20150804.PutRecordBatch") {
      return error(400, "UnknownOperationException", `unsupported target ${target}`);
    }
    const key = /Credential=([^/]+)\//.exec(request.headers.get("authorization") ?? "")?.[1] ?? "";
    this.accessKeys.push(key);
    if (this.faults.expiredKeys.has(key)) {
      this.calls.expired++;
      return error(400, "ExpiredTokenException", "The security token included in the request is expired");
    }
    if (this.faults.putDenied) {
      return error(
        400,
        "AccessDeniedException",
        "User is not authorized to perform: firehose:PutRecordBatch on resource: deliverystream/logs",
      );
    }
    const delayed = this.faults.delayNextCalls > 0;
    if (delayed) {
      this.faults.delayNextCalls--;
      this.calls.delayed++;
      this.calls.delayedRecords += (JSON.parse(body) as { Records?: unknown[] }).Records?.length ?? 0;
      // The answer comes too late: the relay has given up on it (and sends the records again).
      await new Promise((resolve) => setTimeout(resolve, this.faults.delayMs));
    }
    // A late answer is a success the relay no longer waits for; bursts hit the calls it waits for.
    if (!delayed && this.faults.failNextCalls > 0 && this.faults.burstStatus === 500) {
      this.faults.failNextCalls--;
      this.calls.failed500++;
      return error(500, "InternalFailure", "We encountered an internal error. Please try again.");
    }
    if (!delayed && (this.faults.failNextCalls > 0 || this.#random() < this.faults.callFailureRate)) {
      this.faults.failNextCalls = Math.max(0, this.faults.failNextCalls - 1);
      this.calls.failed503++;
      return error(503, "ServiceUnavailableException", "Slow down.");
    }
    if (this.faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.faults.latencyMs));
    const input = JSON.parse(body) as { DeliveryStreamName?: string; Records?: { Data: string }[] };
    const stream = input.DeliveryStreamName ?? "";
    if (this.faults.failStream === stream) {
      this.calls.failed500++;
      return error(500, "InternalFailure", "We encountered an internal error. Please try again.");
    }
    if (!this.streams.includes(stream) || this.faults.missingStreams.has(stream)) {
      return error(400, "ResourceNotFoundException", `Firehose ${input.DeliveryStreamName} not found.`);
    }
    const quota = this.#quotas.get(stream);
    if (quota !== undefined && !quota.calls.take(1)) {
      this.calls.throttledCalls++;
      return error(400, "ThrottlingException", `Rate exceeded for delivery stream ${stream}.`);
    }
    // Decoded natively: a 1 MB record a second per stream would otherwise cost the tests' own
    // process a core's worth of a per-character loop beside the relay under test.
    const records = (input.Records ?? []).map((r) => new Uint8Array(Buffer.from(r.Data, "base64")));
    const total = records.reduce((n, r) => n + r.length, 0);
    const invalid = records.length === 0 || records.length > LIMITS.records
      ? `${records.length} records`
      : total > LIMITS.callBytes
      ? `${total} bytes in one call`
      : records.some((r) => r.length > LIMITS.recordBytes)
      ? "a record over 1,024,000 bytes"
      : records.some((r) => this.faults.rejectRecord?.(r))
      ? "a record the test marked invalid"
      : undefined;
    if (invalid !== undefined) {
      this.calls.invalid++;
      return error(400, "InvalidArgumentException", `Invalid PutRecordBatch: ${invalid}`);
    }
    this.calls.ok++;
    let failed = 0;
    const responses = records.map((data) => {
      this.calls.records++;
      if (
        (quota !== undefined && !(quota.records.take(1) && (quota.bytes.take(data.length) || quota.records.give(1))))
      ) {
        failed++;
        this.calls.throttledRecords++;
        return { ErrorCode: "ServiceUnavailableException", ErrorMessage: "Slow down." };
      }
      if (this.faults.rejectStream === stream || this.#random() < this.faults.recordFailureRate) {
        failed++;
        return { ErrorCode: "InternalFailure", ErrorMessage: "Internal service failure." };
      }
      if (this.#retain) this.records.push(data);
      this.accepted.push({ stream, at: performance.now(), bytes: data.length, caller: key });
      return { RecordId: `record-${this.#nextId++}` };
    });
    this.calls.failedRecords += failed;
    return Response.json({ FailedPutCount: failed, Encrypted: false, RequestResponses: responses }, {
      headers: { "content-type": "application/x-amz-json-1.1" },
    });
  }

  /** STS `AssumeRole`: temporary credentials of a role in {@linkcode FirehoseEndpoint.roles}, or AccessDenied. */
  #assumeRole(body: string, headers: Headers): Response {
    const form = new URLSearchParams(body);
    const arn = form.get("RoleArn") ?? "";
    const externalId = form.get("ExternalId") ?? undefined;
    const sessionName = form.get("RoleSessionName") ?? "";
    const caller = /Credential=([^/]+)\//.exec(headers.get("authorization") ?? "")?.[1] ?? "";
    const role = this.roles.get(arn);
    if (role === undefined || role.externalId !== externalId) {
      const xml = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>
<Code>AccessDenied</Code><Message>User: arn:aws:iam::${TEST_ACCOUNT_ID}:user/test is not authorized to perform: sts:AssumeRole on resource: ${arn}</Message>
</Error><RequestId>00000000-0000-0000-0000-000000000001</RequestId></ErrorResponse>`;
      return new Response(xml, { status: 403, headers: { "content-type": "text/xml" } });
    }
    const key = `ASIAROLE${this.assumed.length + 1}`;
    this.assumed.push({ arn, externalId, sessionName, caller, key });
    const expiration = new Date(Date.now() + this.roleLifetimeMs).toISOString();
    const xml = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>${key}</AccessKeyId><SecretAccessKey>secret-${key}</SecretAccessKey>
<SessionToken>token-${key}</SessionToken><Expiration>${expiration}</Expiration></Credentials>
<AssumedRoleUser><AssumedRoleId>AROA:${sessionName}</AssumedRoleId><Arn>${arn}/${sessionName}</Arn></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000002</RequestId></ResponseMetadata>
</AssumeRoleResponse>`;
    return new Response(xml, { headers: { "content-type": "text/xml" } });
  }

  /** `DescribeDeliveryStream`: an active Direct PUT stream, or the error Firehose gives. */
  #describe(body: string): Response {
    const name = (JSON.parse(body) as { DeliveryStreamName?: string }).DeliveryStreamName ?? "";
    this.describes.push(name);
    if (this.faults.describeDenied) {
      return error(400, "AccessDeniedException", `not authorized to perform: firehose:DescribeDeliveryStream`);
    }
    if (!this.streams.includes(name)) {
      return error(400, "ResourceNotFoundException", `Firehose ${name} under account ${TEST_ACCOUNT_ID} not found.`);
    }
    return Response.json({
      DeliveryStreamDescription: {
        DeliveryStreamName: name,
        DeliveryStreamARN: `arn:aws:firehose:us-east-1:${TEST_ACCOUNT_ID}:deliverystream/${name}`,
        DeliveryStreamStatus: "ACTIVE",
        DeliveryStreamType: "DirectPut",
        VersionId: "1",
        Destinations: [],
        HasMoreDestinations: false,
      },
    }, { headers: { "content-type": "application/x-amz-json-1.1" } });
  }
}

/**
 * The events of one record of any format, read through the relay's own record-format seam
 * (`src/batch/record_format.ts`): gunzipped when it is gzip, split into JSON texts.
 */
export function recordObjects(data: Uint8Array): DecodedEvent[] {
  const bytes = isKplRecord(data) ? kplText(data) : data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
  const splitter = new JsonTextSplitter();
  const texts = splitter.push(new TextDecoder().decode(bytes));
  splitter.end();
  return texts.flatMap((text) => textEvents(text).events);
}

/** A gzip CWL record of `logEvents` (a log group and stream of a syslog port), as a spool holds one. */
export function cwlRecord(logEvents: { id: string; timestamp: number; message: string }[]): Uint8Array {
  return gzipSync(JSON.stringify({
    messageType: "DATA_MESSAGE",
    owner: TEST_ACCOUNT_ID,
    logGroup: "/kinesyslog/syslog/514",
    logStream: "192.0.2.1",
    subscriptionFilters: [],
    logEvents,
  }));
}

/** Decodes one CWL record: gunzip, JSON, its events with the record's fields. */
export function decodeRecord(data: Uint8Array): DeliveredEvent[] {
  const record = JSON.parse(new TextDecoder().decode(gunzipSync(data)));
  return record.logEvents.map((e: { id: string; timestamp: number; message: string }) => ({
    logGroup: record.logGroup,
    logStream: record.logStream,
    owner: record.owner,
    id: e.id,
    timestamp: e.timestamp,
    message: e.message,
  }));
}

function error(status: number, type: string, message: string): Response {
  return Response.json({ __type: type, message }, {
    status,
    headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": type },
  });
}

function stsIdentity(): Response {
  const xml = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:iam::${TEST_ACCOUNT_ID}:user/test</Arn><UserId>AIDTEST</UserId>
<Account>${TEST_ACCOUNT_ID}</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`;
  return new Response(xml, { headers: { "content-type": "text/xml" } });
}
