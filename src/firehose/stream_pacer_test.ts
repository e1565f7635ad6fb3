import { assert, assertEquals } from "../../tests/assert.ts";
import { CUT, StreamPacer } from "./stream_pacer.ts";

/** A stream's quota as the service meters it: token buckets of bytes and records with a 1 s burst. */
class Quota {
  #bytes: number;
  #records: number;
  #last = 0;
  constructor(public bytesPerSecond: number, public recordsPerSecond = Infinity) {
    this.#bytes = bytesPerSecond;
    this.#records = recordsPerSecond;
  }
  /** Accepts each record that fits, in order; returns the accepted sizes' sum and count. */
  put(sizes: number[], now: number): { bytes: number; records: number; throttled: number | undefined } {
    const dt = (now - this.#last) / 1000;
    this.#last = now;
    this.#bytes = Math.min(this.bytesPerSecond, this.#bytes + this.bytesPerSecond * dt);
    this.#records = Math.min(this.recordsPerSecond, this.#records + this.recordsPerSecond * dt);
    let bytes = 0, records = 0;
    let throttled: number | undefined;
    for (const size of sizes) {
      if (this.#bytes >= size && this.#records >= 1) {
        this.#bytes -= size;
        this.#records--;
        bytes += size;
        records++;
      } else {
        throttled ??= size;
      }
    }
    return { bytes, records, throttled };
  }
}

/**
 * Runs a backlog through a pacer against a quota for `seconds` (simulated, calls taking
 * `callMs`); returns the accepted bytes in each second.
 */
function simulate(
  quota: Quota,
  recordBytes: number,
  seconds: number,
  options: { callMs?: number; change?: (second: number) => void } = {},
): number[] {
  const pacer = new StreamPacer(0);
  const callMs = options.callMs ?? 30;
  const perSecond = new Array(seconds).fill(0);
  let now = 0;
  let second = 0;
  while (now < seconds * 1000) {
    if (Math.floor(now / 1000) !== second) {
      second = Math.floor(now / 1000);
      options.change?.(second);
    }
    // Always a backlog: up to 500 records or 4 MiB a call.
    const sizes = new Array(Math.min(500, Math.floor(4_194_304 / recordBytes))).fill(recordBytes);
    const n = pacer.take(sizes, now);
    if (n === 0) {
      now += Math.max(1, pacer.waitMs(recordBytes, now));
      continue;
    }
    now += callMs;
    const result = quota.put(sizes.slice(0, n), now);
    perSecond[Math.min(seconds - 1, Math.floor(now / 1000))] += result.bytes;
    pacer.result(now, result, result.throttled);
  }
  return perSecond;
}

const MiB = 1_048_576;
const average = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

Deno.test("StreamPacer uses at least 90% of a 1 MiB/s quota with full records, steadily", () => {
  const perSecond = simulate(new Quota(MiB), 1_000_000, 60);
  const use = average(perSecond.slice(5)) / MiB;
  assert(use >= 0.9, `used ${(use * 100).toFixed(1)}% of the quota`);
  // No oscillation between bursts and long pauses: with about one record a second, no two
  // seconds in a row go without one.
  const later = perSecond.slice(5);
  assertEquals(later.every((b, i) => i === 0 || b + later[i - 1]! > 0), true, JSON.stringify(perSecond));
});

Deno.test("StreamPacer uses at least 90% of a 5 MiB/s quota with small records", () => {
  const perSecond = simulate(new Quota(5 * MiB), 60_000, 60);
  const use = average(perSecond.slice(5)) / (5 * MiB);
  assert(use >= 0.9, `used ${(use * 100).toFixed(1)}% of the quota`);
});

Deno.test("StreamPacer uses at least 90% of a records/s quota (1,000 records/s)", () => {
  const quota = new Quota(100 * MiB, 1_000);
  const perSecond = simulate(quota, 500, 60);
  const use = average(perSecond.slice(5)) / 500 / 1_000;
  assert(use >= 0.9, `used ${(use * 100).toFixed(1)}% of the records quota`);
});

Deno.test("StreamPacer follows a quota raised from 1 to 3 MiB/s within 10 s", () => {
  const quota = new Quota(MiB);
  const perSecond = simulate(quota, 1_000_000, 60, { change: (s) => s === 30 && (quota.bytesPerSecond = 3 * MiB) });
  const before = average(perSecond.slice(10, 30)) / MiB;
  const after = average(perSecond.slice(40, 60)) / (3 * MiB);
  assert(before >= 0.9, `before: ${(before * 100).toFixed(1)}%`);
  assert(after >= 0.9, `after: ${(after * 100).toFixed(1)}% of the raised quota`);
});

Deno.test("StreamPacer does not pace a stream that never refused anything", () => {
  const pacer = new StreamPacer(0);
  assertEquals(pacer.take(new Array(500).fill(8_000), 0), 500);
  assertEquals(pacer.take(new Array(500).fill(8_000), 1), 500);
  assertEquals(pacer.rates.bytesPerSecond, Infinity);
});

Deno.test("StreamPacer drops to the call rate accepted when whole calls are refused", () => {
  const pacer = new StreamPacer(0);
  for (let t = 0; t < 1_000; t += 10) {
    pacer.take([100], t);
    pacer.result(t, { bytes: 100, records: 1 }, undefined);
  }
  pacer.callThrottled(1_000);
  // 100 calls accepted in the last second: the call rate drops to just under it.
  assert(Math.abs(pacer.rates.callsPerSecond - CUT * 100) < 2, String(pacer.rates.callsPerSecond));
  let calls = 0;
  for (let t = 1_000; t < 3_000; t++) if (pacer.take([100], t) > 0) calls++;
  assert(calls <= 2 * 100 * 1.5 + 100, `${calls} calls in 2 s`);
});
