/**
 * `deno task bench --peer rsyslog`: the same TCP and UDP loads into rsyslog and into the relay,
 * side by side, in one run. rsyslog (Debian's `rsyslogd`) runs in the foreground with a configuration,
 * pid file and work directory of its own: `imtcp` and `imudp` (with `rcvbufSize="8m"`, as it
 * is commonly tuned) in, JSON out through `omfile` with `zipLevel="6"`, as the relay gzips its
 * records: either the relay's fields (`id` from rsyslog's `uuid`, `timestamp`, `message`) or
 * rsyslog at its best (eight parsed fields through `jsonf`, no uuid). Its rate is read from `impstats` (messages the output action processed), the
 * relay's from its metrics, both from the first byte sent; CPU and peak RSS from `/proc`.
 * Skipped, saying so, where rsyslogd is not installed.
 *
 * @module
 */
import { freePort } from "../tests/harness.ts";

const RSYSLOGD = "/usr/sbin/rsyslogd";

/** What one side did with the load. */
export interface PeerResult {
  /** Messages it wrote out. */
  delivered: number;
  /** Steady rate: messages/s while 10% to 90% of them were written. */
  rate: number;
  /** Messages over the whole run, first byte to last message out. */
  overall: number;
  /** CPU seconds per million messages. */
  cpuPerMillion: number;
  /** Peak resident memory, MB. */
  peakRssMb: number;
}

/** Whether rsyslogd can be run here. */
export function rsyslogInstalled(): boolean {
  try {
    return Deno.statSync(RSYSLOGD).isFile;
  } catch {
    return false;
  }
}

function procStats(pid: number): { cpuSeconds: number; peakRssMb: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return {
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100,
    peakRssMb: Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024,
  };
}

/**
 * How rsyslog writes: `uuid`, the relay's CWL fields (a `uuid` per message, the raw message);
 * `best`, rsyslog at its best: eight parsed fields through `jsonf`, no uuid (what rsyslog's
 * users write for Elasticsearch or files).
 */
export type RsyslogTemplate = "uuid" | "best";

const TEMPLATES: Record<RsyslogTemplate, string> = {
  uuid: `template(name="events" type="list") {
  constant(value="{\\"id\\":\\"") property(name="uuid")
  constant(value="\\",\\"timestamp\\":") property(name="timereported" dateFormat="unixtimestamp")
  constant(value="000,\\"message\\":\\"") property(name="rawmsg" format="json") constant(value="\\"}\\n")
}`,
  best: `template(name="events" type="list" option.jsonf="on") {
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="facility" name="syslogfacility-text" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}`,
};

/** rsyslog's configuration: TCP and UDP in, JSON out as `template` says, gzip level 6, counters each second. */
function rsyslogConfig(dir: string, port: number, template: RsyslogTemplate): string {
  return `global(workDirectory="${dir}/work" maxMessageSize="64k")
module(load="impstats" interval="1" format="json" log.syslog="off" log.file="${dir}/stats.json" resetCounters="off")
module(load="imtcp" maxSessions="200")
module(load="imudp")
${TEMPLATES[template]}
ruleset(name="out") {
  action(type="omfile" name="out-file" file="${dir}/out.json.gz" template="events" zipLevel="6"
    ioBufferSize="256k" asyncWriting="on" flushOnTXEnd="off")
}
input(type="imtcp" port="${port}" ruleset="out")
input(type="imudp" port="${port}" ruleset="out" rcvbufSize="8m")
`;
}

/** Messages rsyslog's output action processed so far, from the last impstats line. */
function processed(statsFile: string): number {
  let text: string;
  try {
    text = Deno.readTextFileSync(statsFile);
  } catch {
    return 0;
  }
  let count = 0;
  for (const line of text.split("\n")) {
    const json = line.slice(line.indexOf("{"));
    if (!json.includes('"out-file"')) continue;
    try {
      count = Number((JSON.parse(json) as { processed?: number }).processed ?? count);
    } catch { /* a line being written */ }
  }
  return count;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * Runs rsyslog on `dir` with `send(port)` as the load (it resolves with the number of messages
 * sent once they are all written to the sockets); returns what rsyslog did with it. Once all
 * is sent, a count unchanged for `settleMs` ends the run (UDP loses some).
 */
export async function runRsyslog(
  dir: string,
  send: (port: number) => Promise<number>,
  options: { settleMs?: number; template?: RsyslogTemplate } = {},
): Promise<PeerResult> {
  const settleMs = options.settleMs ?? 10_000;
  const port = freePort();
  await Deno.mkdir(`${dir}/work`, { recursive: true });
  await Deno.writeTextFile(`${dir}/rsyslog.conf`, rsyslogConfig(dir, port, options.template ?? "uuid"));
  const child = new Deno.Command(RSYSLOGD, {
    args: ["-n", "-f", `${dir}/rsyslog.conf`, "-i", `${dir}/rsyslog.pid`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    await waitForPort(port, 10_000);
    const before = procStats(child.pid);
    const start = performance.now();
    const samples: [number, number][] = [];
    let total = Infinity;
    const sending = send(port).then((n) => (total = n));
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const n = processed(`${dir}/stats.json`);
      samples.push([performance.now(), n]);
      if (n >= total) break;
      // Nothing more for settleMs once everything was sent: rsyslog lost some; report what it did.
      const settle = settleMs / 100;
      const stalled = samples.length > settle && samples[samples.length - settle]![1] === n;
      if (total !== Infinity && stalled) break;
    }
    await sending;
    const [end, delivered] = samples[samples.length - 1]!;
    const at = (share: number) => samples.find(([, n]) => n >= share * delivered) ?? samples[samples.length - 1]!;
    const [t10, n10] = at(0.1), [t90, n90] = at(0.9);
    const after = procStats(child.pid);
    return {
      delivered,
      rate: t90 > t10 ? (n90 - n10) / ((t90 - t10) / 1000) : delivered / ((end - start) / 1000),
      overall: delivered / ((end - start) / 1000),
      cpuPerMillion: (after.cpuSeconds - before.cpuSeconds) / (delivered / 1e6),
      peakRssMb: after.peakRssMb,
    };
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}
