/**
 * The Kinesis Data Streams edge: delivers records with `PutRecords` and describes streams at
 * startup (`DescribeStreamSummary`), the twin of `firehose_sink.ts`. A record's partition key
 * is its spool tag (`spool_dir.ts`: random, or its source's hash with `--partition-key
 * source`), so a record sent again after a restart goes to the shard it was made for.
 *
 * The client speaks HTTP/1.1 (`NodeHttpHandler`), as the Firehose client does, instead of the
 * HTTP/2 the Kinesis client picks by default (for `SubscribeToShard`, which the relay does not
 * call): the same connection and request timeouts, measured on Deno 2.9.6 for Firehose, and
 * the same path through an HTTPS proxy.
 *
 * @module
 */
import {
  DescribeStreamSummaryCommand,
  type DescribeStreamSummaryCommandInput,
  KinesisClient,
  PutRecordsCommand,
  type PutRecordsCommandInput,
} from "@aws-sdk/client-kinesis";
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { recordTag } from "../spool/spool_dir.ts";
import { type AwsOptions, AwsStreamSink, deliveryConfig, type StreamCheck } from "./aws_client.ts";
import type { PutResult, SinkRecord } from "./record_sink.ts";

/**
 * A stream named by its name, or by its ARN (`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`),
 * which reaches a stream of another account that allows it by a resource policy.
 */
function streamParameter(
  stream: string,
): Pick<PutRecordsCommandInput & DescribeStreamSummaryCommandInput, "StreamName" | "StreamARN"> {
  return stream.startsWith("arn:") ? { StreamARN: stream } : { StreamName: stream };
}

/**
 * Delivers records to one Kinesis data stream. Its records are at most
 * `SHARED_RECORD_BYTES`, a quarter of a shard's second (the service takes up to
 * 1 MiB a record, partition key included, and 5 MiB a call: the uploader's calls of at most
 * 4 MiB and 500 records fit).
 */
export class KinesisSink extends AwsStreamSink<KinesisClient> {
  /** Creates a sink for `stream` (a name or an ARN). */
  constructor(stream: string, options: AwsOptions) {
    const config = deliveryConfig(options);
    super(
      stream,
      "Kinesis Data Streams",
      () =>
        new KinesisClient({
          ...config,
          requestHandler: config.requestHandler instanceof FetchHttpHandler
            ? config.requestHandler
            : new NodeHttpHandler(config.requestHandler),
        }),
    );
  }

  /** One PutRecords call; each record keyed by its spool tag. */
  override async put(records: readonly SinkRecord[]): Promise<PutResult[]> {
    let response;
    try {
      response = await this.client.client.send(
        new PutRecordsCommand({
          ...streamParameter(this.stream),
          Records: records.map((r) => ({ Data: r.data, PartitionKey: recordTag(r.name) })),
        }),
      );
    } catch (error) {
      throw this.client.failed(error);
    }
    const answers = response.Records ?? [];
    return records.map((_, i): PutResult => {
      const r = answers[i];
      if (r?.SequenceNumber !== undefined && r.ErrorCode === undefined) return { ok: true };
      return {
        ok: false,
        code: r?.ErrorCode ?? "MissingResponse",
        message: r?.ErrorMessage ?? "no SequenceNumber returned",
      };
    });
  }

  /**
   * Asks Kinesis whether the stream exists and how it is provisioned
   * (`DescribeStreamSummary`): its status, its capacity mode (`PROVISIONED` or `ON_DEMAND`)
   * as `type`, and its open shards. Never throws: what it could not learn is in the result.
   */
  override check(): Promise<StreamCheck> {
    return this.client.describe(
      (client, abortSignal) =>
        client.send(new DescribeStreamSummaryCommand(streamParameter(this.stream)), { abortSignal }),
      ({ StreamDescriptionSummary: d }) => ({
        result: "ok",
        status: d?.StreamStatus ?? "UNKNOWN",
        type: d?.StreamModeDetails?.StreamMode ?? "PROVISIONED",
        shards: d?.OpenShardCount,
      }),
    );
  }
}
