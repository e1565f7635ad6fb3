/**
 * RELP end to end: a real rsyslogd (`omrelp`) sending to the relay over plain TCP and TLS,
 * the relay killed mid-stream, a full spool, and the protocol's error cases from a raw socket.
 */
import { assert, assertEquals } from "./assert.ts";
import { delivered, withEndpoint } from "./fault_helpers.ts";
import {
  awsTestEnv,
  eventually,
  freePort,
  makeCertificate,
  makeClientCertificate,
  noisyLines,
  readOutputDir,
  readRecordFiles,
  RelayProcess,
  scrape,
  startFirehoseRelay,
  startLocalRelay,
  writeAll,
} from "./harness.ts";
import { RSYSLOGD_WITH_RELP, RsyslogRelp } from "./rsyslog.ts";
import { decodeRecord, type DeliveredEvent } from "./firehose_endpoint.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

if (RSYSLOGD_WITH_RELP === undefined) {
  console.error("SKIP rsyslog omrelp tests: install rsyslog and rsyslog-relp (.ci/run does) to run them");
}

/** Lines numbered `<tag>=<from>` to `<tag>=<to - 1>`, in rsyslog's input format. */
function numbered(tag: string, from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += `<13>Nov 30 10:00:00 host app: ${tag}=${i}\n`;
  return text;
}

/** How often each number of `<tag>=<n>` arrived. */
function counts(events: DeliveredEvent[], tag: string): Map<number, number> {
  const seen = new Map<number, number>();
  const pattern = new RegExp(`${tag}=(\\d+)`);
  for (const e of events) {
    const m = pattern.exec(e.message);
    if (m !== null) seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
  }
  return seen;
}

/** Numbers below `total` that never arrived, and how many arrived more than once. */
function tally(seen: Map<number, number>, total: number): { missing: number[]; duplicates: number } {
  const missing: number[] = [];
  let duplicates = 0;
  for (let i = 0; i < total; i++) {
    const n = seen.get(i) ?? 0;
    if (n === 0) missing.push(i);
    else duplicates += n - 1;
  }
  return { missing, duplicates };
}

Deno.test({
  name: "rsyslog's omrelp delivers 30,000 numbered messages through RELP exactly once",
  ignore: RSYSLOGD_WITH_RELP === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "kinesyslog-relp-" });
    const [relpPort, metricsPort] = [freePort(), freePort()];
    const relay = await startLocalRelay(dir, [
      ...["--relp-port", String(relpPort), "--tls-port", "0", "--flush-interval", "0.5"],
      ...["--prometheus-port", String(metricsPort)],
    ]);
    const rsyslog = await RsyslogRelp.start(dir, relpPort);
    try {
      const total = 30_000;
      await rsyslog.send(numbered("relp", 0, total));
      await eventually("every message", async () => (await readOutputDir(`${dir}/out`)).length >= total, 60_000);
      const events = await readOutputDir(`${dir}/out`);
      const { missing, duplicates } = tally(counts(events, "relp"), total);
      assertEquals(missing, []);
      assertEquals(duplicates, 0);
      assertEquals(events.length, total);
      assert(events.every((e) => e.logGroup === `/kinesyslog/syslog/${relpPort}` && e.logStream === "127.0.0.1"));
      const listener = `relp/${relpPort}`;
      assertEquals(await scrape(metricsPort, "kinesyslog_messages_received_total", { listener }), total);
      assertEquals(await scrape(metricsPort, "kinesyslog_connections_total", { listener }), 1);
    } finally {
      const errors = await rsyslog.stop();
      assertEquals(await relay.stop(), 0);
      await Deno.remove(dir, { recursive: true });
      assert(!/error/i.test(errors), errors);
    }
  },
});

Deno.test({
  name: "rsyslog's omrelp over TLS with a client certificate delivers through --client-auth required",
  ignore: RSYSLOGD_WITH_RELP === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "kinesyslog-relp-" });
    const { cert, key } = await makeCertificate(dir);
    const client = await makeClientCertificate(dir, "router1");
    const relpPort = freePort();
    const relay = await startLocalRelay(dir, [
      ...["--relp-tls-port", String(relpPort), "--tls-port", "0", "--cert", cert, "--key", key],
      ...["--client-ca", `${dir}/ca.crt`, "--client-allow", "router1.example.net", "--flush-interval", "0.5"],
    ]);
    const rsyslog = await RsyslogRelp.start(dir, relpPort, {
      caFile: `${dir}/ca.crt`,
      certFile: client.certFile,
      keyFile: client.keyFile,
    });
    try {
      const total = 5_000;
      await rsyslog.send(numbered("tls", 0, total));
      await eventually("every message", async () => (await readOutputDir(`${dir}/out`)).length >= total, 60_000);
      const { missing, duplicates } = tally(counts(await readOutputDir(`${dir}/out`), "tls"), total);
      assertEquals(missing, []);
      assertEquals(duplicates, 0);
      assert(relay.lines.some((l) => /TLS client connected .*client="CN=router1,.* verified=true/.test(l)));
    } finally {
      await rsyslog.stop();
      assertEquals(await relay.stop(), 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a relay killed with SIGKILL mid-stream and restarted on its spool loses none of rsyslog's RELP messages",
  ignore: RSYSLOGD_WITH_RELP === undefined,
  fn: () =>
    withEndpoint(async (dir, endpoint) => {
      const [relpPort, metricsPort] = [freePort(), freePort()];
      const args = [
        ...["--relp-port", String(relpPort), "--tls-port", "0", "--flush-interval", "1"],
        ...["--prometheus-port", String(metricsPort)],
      ];
      let relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, args);
      const rsyslog = await RsyslogRelp.start(dir, relpPort);
      try {
        const total = 40_000;
        await rsyslog.send(numbered("kill", 0, total));
        const listener = `relp/${relpPort}`;
        await eventually(
          "a part of the stream to arrive",
          async () => await scrape(metricsPort, "kinesyslog_messages_received_total", { listener }) >= 5_000,
          60_000,
        );
        relay.signal("SIGKILL");
        await relay.exited();
        const before = delivered(endpoint, "kill").size;
        assert(before < total, `all ${before} delivered before the kill: nothing was in flight`);
        relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, args);
        await eventually("every message after the restart", () => delivered(endpoint, "kill").size === total, 90_000);
        const { missing, duplicates } = tally(delivered(endpoint, "kill"), total);
        assertEquals(missing, []);
        console.log(
          `SIGKILL after ${before} of ${total} delivered: none lost, ${duplicates} delivered twice (replayed or resent)`,
        );
      } finally {
        await rsyslog.stop();
        assertEquals(await relay.stop(), 0);
      }
    }),
});

Deno.test({
  name: "a full spool holds rsyslog's RELP sender back without a drop, then lets it finish",
  ignore: RSYSLOGD_WITH_RELP === undefined,
  fn: () =>
    withEndpoint(async (dir, endpoint) => {
      await endpoint.stop(); // Firehose down: the spool fills
      const [relpPort, metricsPort] = [freePort(), freePort()];
      const relay = await RelayProcess.start([
        "listen",
        ...["--stream", "logs", "--endpoint-url", endpoint.url, "--spool-dir", `${dir}/spool`],
        ...["--address", "127.0.0.1", "--relp-port", String(relpPort), "--tls-port", "0"],
        ...["--spool-max-size", "1048576", "--flush-interval", "0.2", "--prometheus-port", String(metricsPort)],
      ], { dirs: [dir], env: awsTestEnv(endpoint.url) });
      const rsyslog = await RsyslogRelp.start(dir, relpPort);
      try {
        // 20 MB that compress poorly: far more than the bounds let in.
        const total = 100_000;
        await rsyslog.send(noisyLines(total, 3));
        await eventually(
          "the spool to fill",
          async () => (await fetch(`http://127.0.0.1:${metricsPort}/ready`)).status === 503,
          60_000,
        );
        const listener = `relp/${relpPort}`;
        const received = () => scrape(metricsPort, "kinesyslog_messages_received_total", { listener });
        // Held back: nothing more is taken for a while, well short of the total.
        let last = -1;
        await eventually("intake to stop", async () => {
          const now = await received();
          const still = now === last;
          last = now;
          if (!still) await new Promise((resolve) => setTimeout(resolve, 500));
          return still;
        }, 30_000);
        assert(last < total / 2, `the sender was not held back: ${last} of ${total} taken`);
        endpoint.start(); // back: the spool drains, answers go out, rsyslog sends the rest
        await eventually("every message delivered", () => delivered(endpoint, "seq").size === total, 120_000);
        const { missing, duplicates } = tally(delivered(endpoint, "seq"), total);
        assertEquals(missing, []);
        assertEquals(duplicates, 0);
        const dropped = await scrape(metricsPort, "kinesyslog_messages_dropped_total", { listener });
        assertEquals(dropped, 0);
      } finally {
        await rsyslog.stop();
        assertEquals(await relay.stop(), 0);
      }
    }),
});

Deno.test({
  name: "--no-journal: rsyslog's RELP messages are answered once spooled, their buffer flushed at once",
  ignore: RSYSLOGD_WITH_RELP === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "kinesyslog-relp-" });
    const relpPort = freePort();
    // A flush interval far beyond the test: only the acknowledgements' flushes move records
    // (rsyslog sends at most its window of 128 messages before it is answered).
    const relay = await startLocalRelay(dir, [
      ...["--relp-port", String(relpPort), "--tls-port", "0", "--no-journal", "--flush-interval", "600"],
    ]);
    const rsyslog = await RsyslogRelp.start(dir, relpPort);
    try {
      const total = 10_000;
      await rsyslog.send(numbered("nojournal", 0, total));
      await eventually("every message", async () => (await readOutputDir(`${dir}/out`)).length >= total, 60_000);
      const { missing, duplicates } = tally(counts(await readOutputDir(`${dir}/out`), "nojournal"), total);
      assertEquals(missing, []);
      assertEquals(duplicates, 0);
    } finally {
      await rsyslog.stop();
      assertEquals(await relay.stop(), 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("--no-journal: a RELP answer comes only once the message's record is in the spool", () =>
  withEndpoint(async (dir, endpoint) => {
    await endpoint.stop(); // records stay in the spool
    const relpPort = freePort();
    const relay = await startFirehoseRelay(dir, endpoint.url, `${dir}/spool`, [
      ...["--relp-port", String(relpPort), "--tls-port", "0", "--no-journal", "--flush-interval", "600"],
    ]);
    try {
      const c = await RawRelp.connect(relpPort);
      await c.frame(1, "open", OFFERS);
      for (let i = 0; i < 3; i++) {
        await c.frame(2 + i, "syslog", `<13>Nov 30 10:00:00 host app: spooled=${i}`);
        assertEquals((await c.answers(2 + i))[1 + i], `${2 + i} rsp 6 200 OK`);
        const spooled = (await readRecordFiles(`${dir}/spool`)).flatMap(decodeRecord).map((e) => e.message);
        assert(spooled.some((m) => m.endsWith(`spooled=${i}`)), `answered before spooled: ${spooled}`);
      }
      c.close();
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  }));

/** A raw RELP client: writes frames, reads the answers. */
class RawRelp {
  readonly #conn: Deno.Conn;
  #text = "";
  #ended = false;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  static async connect(port: number): Promise<RawRelp> {
    return new RawRelp(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends a frame (`data` may be empty). */
  async frame(txnr: number, command: string, data = ""): Promise<void> {
    const body = enc.encode(data);
    await writeAll(this.#conn, `${txnr} ${command} ${body.length}${body.length > 0 ? " " : ""}${data}\n`);
  }

  async raw(text: string): Promise<void> {
    await writeAll(this.#conn, text);
  }

  /** Reads until `count` answers (LF-ended frames whose length says so) are in, or the end. */
  async answers(count: number): Promise<string[]> {
    for (;;) {
      const frames = splitFrames(this.#text);
      if (frames.length >= count || this.#ended) {
        return frames.slice(0, count);
      }
      const buffer = new Uint8Array(4096);
      const n = await this.#conn.read(buffer).catch(() => null);
      if (n === null) this.#ended = true;
      else this.#text += dec.decode(buffer.subarray(0, n));
    }
  }

  /** Whether the relay closed the connection (reads to the end). */
  async closedByRelay(): Promise<boolean> {
    const buffer = new Uint8Array(4096);
    for (;;) {
      const n = await this.#conn.read(buffer).catch(() => null);
      if (n === null) return true;
      this.#text += dec.decode(buffer.subarray(0, n));
    }
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }
}

/** Whole frames in `text`, each as `txnr command datalen[ data]`. */
function splitFrames(text: string): string[] {
  const frames: string[] = [];
  let at = 0;
  for (;;) {
    const m = /^(\d+) (\w+) (\d+)/.exec(text.slice(at));
    if (m === null) return frames;
    const length = Number(m[3]);
    const end = at + m[0].length + (length > 0 ? 1 + length : 0);
    if (text.length <= end) return frames;
    frames.push(text.slice(at, end));
    at = end + 1;
  }
}

const OFFERS = "relp_version=0\nrelp_software=test,1,x\ncommands=syslog";

Deno.test("RELP from a raw socket: the session's answers, and every protocol error answered or closed and counted", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-relp-" });
  const [relpPort, metricsPort] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--relp-port", String(relpPort), "--tls-port", "0", "--flush-interval", "0.2"],
    ...["--prometheus-port", String(metricsPort), "--max-message-size", "1000"],
  ]);
  const listener = `relp/${relpPort}`;
  const errors = (reason: string) => scrape(metricsPort, "kinesyslog_connection_errors_total", { listener, reason });
  try {
    await t.step("open, syslog, close: answered in order, then closed", async () => {
      const c = await RawRelp.connect(relpPort);
      await c.frame(1, "open", OFFERS);
      await c.frame(2, "syslog", "<13>Nov 30 10:00:00 host app: raw one");
      await c.frame(3, "syslog", "<13>Nov 30 10:00:00 host app: raw two");
      await c.frame(4, "close");
      const answers = await c.answers(4);
      assert(/^1 rsp \d+ 200 OK\nrelp_version=0\nrelp_software=[^\n]*kinesyslog\ncommands=syslog$/.test(answers[0]!));
      assertEquals(answers.slice(1), ["2 rsp 6 200 OK", "3 rsp 6 200 OK", "4 rsp 0"]);
      assert(await c.closedByRelay());
      c.close();
      await eventually("both delivered", async () => {
        const messages = (await readOutputDir(`${dir}/out`)).map((e) => e.message);
        return messages.includes("<13>Nov 30 10:00:00 host app: raw one") &&
          messages.some((m) => m.endsWith("raw two"));
      });
    });

    await t.step("a message over --max-message-size is cut, answered 200 and counted", async () => {
      const c = await RawRelp.connect(relpPort);
      await c.frame(1, "open", OFFERS);
      await c.frame(2, "syslog", `<13>Nov 30 10:00:00 host app: long ${"x".repeat(3000)}`);
      assertEquals((await c.answers(2))[1], "2 rsp 6 200 OK");
      c.close();
      await eventually(
        "counted",
        async () => await scrape(metricsPort, "kinesyslog_frames_truncated_total", { listener }) === 1,
      );
    });

    const broken: [string, string, (c: RawRelp) => Promise<void>, string[]][] = [
      ["syslog before open", "relp_not_open", (c) => c.frame(1, "syslog", "<13>x"), ["1 rsp 20 500 command disabled"]],
      ["open twice", "relp_open_twice", async (c) => {
        await c.frame(1, "open", OFFERS);
        await c.frame(2, "open", OFFERS);
      }, ["2 rsp 43 500 protocol error: connection already open"]],
      ["an open without relp_version", "relp_bad_offers", (c) => c.frame(1, "open", "commands=syslog"), [
        "1 rsp 27 500 no relp_version offered",
      ]],
      ["a transaction number out of order", "relp_txnr_sequence", async (c) => {
        await c.frame(1, "open", OFFERS);
        await c.frame(3, "syslog", "<13>skipped a number");
      }, []],
      ["an unknown command", "relp_unknown_command", async (c) => {
        await c.frame(1, "open", OFFERS);
        await c.frame(2, "starttls");
      }, ["2 rsp 19 500 unknown command"]],
      ["plain syslog on the RELP port", "relp_bad_txnr", (c) => c.raw("<13>Nov 30 10:00:00 host app: hi\n"), []],
      ["data shorter than its length", "relp_missing_trailer", async (c) => {
        await c.frame(1, "open", OFFERS);
        await c.raw("2 syslog 5 <13>short\n3 syslog 1 x\n");
      }, []],
    ];
    for (const [name, reason, send, expected] of broken) {
      await t.step(`${name}: ${expected.length > 0 ? "answered 500, " : ""}closed, counted ${reason}`, async () => {
        const c = await RawRelp.connect(relpPort);
        await send(c);
        const answers = await c.answers(10);
        // An open that was answered comes first; the error's answer, if any, last.
        assertEquals(answers.filter((a) => !/^1 rsp \d+ 200 OK\n/.test(a)), expected);
        assert(await c.closedByRelay());
        c.close();
        await eventually(`${reason} counted`, async () => await errors(reason) === 1);
      });
    }

    await t.step("at shutdown an open session gets its answers, then the serverclose hint", async () => {
      const c = await RawRelp.connect(relpPort);
      await c.frame(1, "open", OFFERS);
      await c.frame(2, "syslog", "<13>Nov 30 10:00:00 host app: before shutdown");
      assertEquals((await c.answers(2))[1], "2 rsp 6 200 OK");
      relay.signal("SIGTERM");
      assertEquals((await c.answers(3))[2], "0 serverclose 0");
      assert(await c.closedByRelay());
      c.close();
      assertEquals(await relay.exited(), 0);
    });
    assert(!relay.lines.some((l) => /Connection failed|internal_error/.test(l)), relay.lines.join("\n"));
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
