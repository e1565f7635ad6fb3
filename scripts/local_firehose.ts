/**
 * A local stand-in for Firehose, to try the relay (or a fleet of relays) without AWS: the
 * tests' endpoint (`tests/firehose_endpoint.ts`: PutRecordBatch, DescribeDeliveryStream, STS
 * GetCallerIdentity, each stream's quota metered as the service meters it, one quota shared
 * by every caller). It keeps no records, and prints each second what every stream accepted
 * from each caller (by access key id) and how many records it refused for the quota.
 *
 *   deno run --allow-net scripts/local_firehose.ts [--port 4573] [--hostname 127.0.0.1]
 *     [--stream logs] [--quota-mib 1]
 *
 * Point relays at it with `--endpoint-url http://HOST:PORT`, `AWS_ENDPOINT_URL_STS` the same,
 * and any credentials (`AWS_ACCESS_KEY_ID` names the caller in the output).
 *
 * @module
 */
import { FirehoseEndpoint } from "../tests/firehose_endpoint.ts";

const MiB = 1_048_576;

/** The value after `--name` on the command line, or `fallback`. */
function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1]! : fallback;
}

const stream = flag("stream", "logs");
const quota = Number(flag("quota-mib", "1"));
const endpoint = new FirehoseEndpoint([stream]);
endpoint.retain = false;
if (quota > 0) endpoint.setQuota(stream, { bytesPerSecond: quota * MiB });
endpoint.start({ hostname: flag("hostname", "127.0.0.1"), port: Number(flag("port", "4573")) });
console.log(`local Firehose: stream ${stream}, quota ${quota > 0 ? `${quota} MiB/s` : "none"}, ${endpoint.url}`);

let throttled = 0;
setInterval(() => {
  const now = performance.now();
  const recent = endpoint.accepted.filter((a) => a.at >= now - 1000);
  // Only the last second is kept.
  endpoint.accepted.splice(0, endpoint.accepted.length - recent.length);
  const byCaller = new Map<string, number>();
  for (const a of recent) byCaller.set(a.caller, (byCaller.get(a.caller) ?? 0) + a.bytes);
  const total = [...byCaller.values()].reduce((x, y) => x + y, 0);
  const refused = endpoint.calls.throttledRecords - throttled;
  throttled = endpoint.calls.throttledRecords;
  if (total === 0 && refused === 0) return;
  const each = [...byCaller].sort().map(([caller, bytes]) => `${caller} ${(bytes / MiB).toFixed(2)}`).join(", ");
  console.log(`${new Date().toISOString()} ${(total / MiB).toFixed(2)} MiB/s accepted (${each}); ${refused} refused`);
}, 1000);
