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

/**
 * Runs `n` pacers (relays of a fleet, started 0.4 s apart) against one quota for `seconds`
 * (simulated), each with a backlog of records of `recordBytes`, one call in flight each
 * taking 20 to 40 ms, and waits stretched at random as the uploader does; returns each
 * one's accepted bytes from the fifth second on.
 */
function simulateFleet(quota: Quota, n: number, recordBytes: number, seconds: number): number[] {
  let x = 1;
  const random = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pacers = Array.from({ length: n }, (_, i) => new StreamPacer(i * 400));
  const next = pacers.map((_, i) => i * 400);
  const inFlight: (number[] | undefined)[] = new Array(n).fill(undefined);
  const accepted = new Array(n).fill(0);
  const sizes = new Array(Math.min(500, Math.floor(4_194_304 / recordBytes))).fill(recordBytes);
  for (;;) {
    const i = next.indexOf(Math.min(...next));
    const now = next[i]!;
    if (now >= seconds * 1000) return accepted;
    const pacer = pacers[i]!;
    const call = inFlight[i];
    if (call !== undefined) {
      // The service meters the call when it arrives, half way through.
      const result = quota.put(call, now - 10);
      if (now >= 5_000) accepted[i] += result.bytes;
      pacer.result(now, result, result.throttled);
      inFlight[i] = undefined;
    }
    const taken = pacer.take(sizes, now);
    if (taken === 0) {
      next[i] = now + Math.max(1, pacer.waitMs(recordBytes, now) * (0.5 + random()));
      continue;
    }
    inFlight[i] = sizes.slice(0, taken);
    next[i] = now + 20 + 20 * random();
  }
}

for (
  const [n, quotaMiB, recordBytes] of [[2, 1, 262_144], [3, 1, 262_144], [2, 5, 150_000], [3, 5, 150_000]] as const
) {
  Deno.test(`StreamPacer: ${n} relays on one ${quotaMiB} MiB/s stream use 90% of it together, each at least 60%/${n}`, () => {
    const seconds = 60;
    const accepted = simulateFleet(new Quota(quotaMiB * MiB), n, recordBytes, seconds);
    const total = accepted.reduce((a, b) => a + b, 0);
    const use = total / (seconds - 5) / (quotaMiB * MiB);
    const shares = accepted.map((b) => b / total);
    assert(use >= 0.9, `used ${(use * 100).toFixed(1)}% of the quota`);
    for (const share of shares) assert(share >= 0.6 / n, shares.map((s) => (s * 100).toFixed(0)).join("/"));
  });
}
