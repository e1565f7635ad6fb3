/**
 * `deno task bench --idle`: what a relay with no traffic costs. Starts `main.ts listen` as
 * the README's first command does (UDP and TCP listeners, the journal, a local output
 * directory), lets it settle for a minute (V8 collects what startup left in that time), then
 * reads its CPU time (`/proc/<pid>/stat`, every thread) over the next minute.
 *
 * @module
 */
import { freePort, RelayProcess } from "../tests/harness.ts";
import { commandLine } from "./bench_header.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU seconds used so far by process `pid`, every thread (user and system). */
export function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs the idle case and prints its line. */
export async function benchIdle(dir: string, settleS = 60, measureS = 60): Promise<string> {
  const caseDir = await Deno.makeTempDir({ dir, prefix: "idle-" });
  const port = freePort();
  const relay = await RelayProcess.start([
    "listen",
    ...["--output-dir", `${caseDir}/records`, "--spool-dir", `${caseDir}/spool`, "--address", "127.0.0.1"],
    ...["--udp-port", String(port), "--tcp-port", String(port), "--tls-port", "0", "--flush-interval", "5"],
  ], { dirs: [caseDir] });
  try {
    await sleep(settleS * 1000);
    const before = cpuSeconds(relay.pid);
    await sleep(measureS * 1000);
    const used = cpuSeconds(relay.pid) - before;
    const line = `${commandLine("deno task bench --idle")} An idle relay (UDP and TCP listeners, journal, ` +
      `output directory), ${settleS} s after its start: ${used.toFixed(2)} s of CPU in ${measureS} s, ` +
      `**${(100 * used / measureS).toFixed(2)}% of a core** (every thread; the clock counts in 10 ms ticks).`;
    console.log(line);
    return line;
  } finally {
    await relay.stop();
  }
}
