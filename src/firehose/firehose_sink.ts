/**
 * The Firehose edge: delivers records with `PutRecordBatch` and describes delivery streams at
 * startup (`kinesis_sink.ts` is its Kinesis Data Streams twin; `aws_account.ts` looks up the
 * account id for the records' `owner` field).
 *
 * Measured on Deno 2.9.6: the SDK's `requestTimeout` only logs a warning unless
 * `throwOnRequestTimeout` is set, and Deno may re-send a request once when a reused
 * keep-alive connection was reset, so a record can arrive twice: delivery is at least once.
 *
 * @module
 */
import { DescribeDeliveryStreamCommand, FirehoseClient, PutRecordBatchCommand } from "@aws-sdk/client-firehose";
import type { PutResult, SinkRecord } from "./record_sink.ts";
import { type AwsOptions, AwsStreamSink, deliveryConfig, type StreamCheck } from "./aws_client.ts";

/** Delivers records to one Firehose delivery stream. */
export class FirehoseSink extends AwsStreamSink<FirehoseClient> {
  /** Creates a sink for `stream`. */
  constructor(stream: string, options: AwsOptions) {
    super(stream, "Firehose", () => new FirehoseClient(deliveryConfig(options)));
  }

  /** One PutRecordBatch call. */
  override async put(records: readonly SinkRecord[]): Promise<PutResult[]> {
    let response;
    try {
      response = await this.client.client.send(
        new PutRecordBatchCommand({
          DeliveryStreamName: this.stream,
          Records: records.map((r) => ({ Data: r.data })),
        }),
      );
    } catch (error) {
      throw this.client.failed(error);
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
  override check(): Promise<StreamCheck> {
    return this.client.describe(
      (client, abortSignal) =>
        client.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: this.stream }), { abortSignal }),
      ({ DeliveryStreamDescription: d }) => ({
        result: "ok",
        status: d?.DeliveryStreamStatus ?? "UNKNOWN",
        type: d?.DeliveryStreamType ?? "UNKNOWN",
      }),
    );
  }
}
