/**
 * `--record-format ndjson` end to end: real clients (util-linux `logger` over UDP and TCP,
 * RFC 3164 and 5424; the gelf-pro library; the captures of loggen, rsyslog and graypy), a
 * restart with NDJSON records left in the spool, `decode` of both formats, and records
 * without compression filled to the limit.
 */
import { assert, assertEquals } from "./assert.ts";
import { withEndpoint } from "./fault_helpers.ts";
import { RSYSLOGD_WITH_GTLS, startTlsForwarder } from "./rsyslog.ts";
import { SEVERITIES } from "../src/parse/syslog_fields.ts";
import { recordObjects } from "./firehose_endpoint.ts";
import { MAX_RECORD_BYTES } from "../src/batch/record_builder.ts";
import { NDJSON_FIELDS, NDJSON_GELF_FIELDS, NDJSON_SYSLOG_FIELDS } from "../src/batch/ndjson_format.ts";
import {
  eventually,
  freePort,
  makeCertificate,
  nodeClientModules,
  readOutputObjects,
  readRecordFiles,
  runMain,
  scrape,
  sendTcp,
  sendUdp,
  startFirehoseRelay,
  startLocalRelay,
} from "./harness.ts";
import type { DecodedEvent } from "../src/decode/record_events.ts";
import { fleetAddress, sendFrom } from "./edge_senders.ts";

const FIXTURES = new URL("./fixtures/wire/", import.meta.url);
if (RSYSLOGD_WITH_GTLS === undefined) {
  console.error("SKIP rsyslog NDJSON test: install rsyslog and rsyslog-gnutls (.ci/run does) to run it");
}
const enc = new TextEncoder();

/** Runs util-linux `logger` sending `lines` (one message each) to 127.0.0.1:`port`. */
async function logger(port: number, args: string[], lines: string[]): Promise<void> {
  const child = new Deno.Command("logger", {
    args: ["--server", "127.0.0.1", "--port", String(port), ...args],
    stdin: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(enc.encode(lines.join("\n") + "\n"));
  await writer.close();
  const out = await child.output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** The events whose message carries `<tag>=<n>`, by n. */
function byNumber(events: DecodedEvent[], tag: string): Map<number, DecodedEvent[]> {
  const seen = new Map<number, DecodedEvent[]>();
  const pattern = new RegExp(`\\b${tag}=(\\d+)`);
  for (const e of events) {
    const m = pattern.exec(e.message);
    if (m !== null) seen.set(Number(m[1]), [...(seen.get(Number(m[1])) ?? []), e]);
  }
  return seen;
}

/** Asserts every event has the fields of SPEC section 4.2 and none it should not. */
function assertShape(e: DecodedEvent): void {
  for (const field of NDJSON_FIELDS) assert(field in e, `${field} missing in ${JSON.stringify(e)}`);
  const allowed = new Set<string>([...NDJSON_FIELDS, ...NDJSON_SYSLOG_FIELDS, ...NDJSON_GELF_FIELDS]);
  for (const key of Object.keys(e)) assert(allowed.has(key), `unexpected field ${key}`);
  for (const value of Object.values(e)) assert(value !== null && value !== "-", JSON.stringify(e));
}

Deno.test("NDJSON records: logger's RFC 3164 and 5424 over UDP and TCP arrive once each, with their fields", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-ndjson-" });
  const port = freePort();
  const relay = await startLocalRelay(dir, [
    ...["--record-format", "ndjson", "--udp-port", String(port), "--tcp-port", String(port), "--tls-port", "0"],
    ...["--flush-interval", "0.3"],
  ]);
  try {
    const runs: [string, string[]][] = [
      ["udp3164", ["--udp", "--rfc3164"]],
      ["udp5424", ["--udp", "--rfc5424"]],
      ["tcp3164", ["--tcp", "--rfc3164"]],
      ["tcp5424", ["--tcp", "--rfc5424", "--octet-count"]],
    ];
    const count = 50;
    for (const [tag, args] of runs) {
      await logger(port, [
        ...args,
        ...["--tag", "billing", "--id=4242", "--priority", "local3.warning"],
        ...(args.includes("--rfc5424")
          ? ["--msgid", "ID7", "--sd-id", "order@32473", "--sd-param", 'note="a \\"b\\" \\]c"']
          : []),
      ], Array.from({ length: count }, (_, i) => `logger ${tag}=${i} done`));
    }
    await eventually("every message", async () => (await readOutputObjects(`${dir}/out`)).length >= 4 * count);
    const events = await readOutputObjects(`${dir}/out`);
    assertEquals(events.length, 4 * count);
    for (const [tag, args] of runs) {
      const mine = byNumber(events, tag);
      assertEquals([...mine.keys()].sort((a, b) => a - b), Array.from({ length: count }, (_, i) => i), tag);
      for (const [n, [e, ...more]] of mine) {
        assertEquals(more, [], `${tag}=${n} arrived twice`);
        assertShape(e!);
        assertEquals(e!.message, `logger ${tag}=${n} done`);
        assertEquals(
          [e!.source, e!.port, e!.transport, e!.format, e!.facility, e!.severity, e!.appname, e!.procid],
          ["127.0.0.1", port, tag.slice(0, 3), "syslog", "local3", "warning", "billing", "4242"],
        );
        assert(typeof e!.hostname === "string" && e!.hostname !== "", JSON.stringify(e));
        assert(Math.abs(e!.timestamp - Date.now()) < 120_000, `timestamp ${e!.timestamp}`);
        if (args.includes("--rfc5424")) {
          assertEquals([e!.version, e!.msgid], [1, "ID7"]);
          const sd = e!.structured_data as Record<string, Record<string, string>>;
          assertEquals(sd["order@32473"], { note: 'a "b" ]c' });
          assert("timeQuality" in sd, JSON.stringify(sd));
        } else {
          assert(!("version" in e!) && !("structured_data" in e!), JSON.stringify(e));
        }
      }
    }
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "NDJSON records: rsyslog forwarding over TLS (gtls, RFC 5424) gives its header fields and transport tls",
  ignore: RSYSLOGD_WITH_GTLS === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "kinesyslog-ndjson-" });
    const { cert, key } = await makeCertificate(dir);
    const tls = freePort();
    const relay = await startLocalRelay(dir, [
      ...["--record-format", "ndjson", "--tls-port", String(tls), "--cert", cert, "--key", key],
      ...["--flush-interval", "0.3"],
    ]);
    const rsyslog = await startTlsForwarder(dir, tls, `${dir}/ca.crt`);
    try {
      const count = 20;
      await sendUdp(
        rsyslog.udpPort,
        Array.from({ length: count }, (_, i) => `<190>Nov 30 10:00:00 router7 fw[99]: viartls=${i} ok`),
      );
      await eventually(
        "rsyslog's messages",
        async () => (await readOutputObjects(`${dir}/out`)).length >= count,
        20_000,
      );
      const events = await readOutputObjects(`${dir}/out`);
      assertEquals(
        [...byNumber(events, "viartls").keys()].sort((a, b) => a - b),
        Array.from({ length: count }, (_, i) => i),
      );
      for (const e of events) {
        assertShape(e);
        assertEquals(
          [e.transport, e.port, e.facility, e.severity, e.version, e.hostname, e.appname, e.procid],
          ["tls", tls, "local7", "info", 1, "router7", "fw", "99"],
        );
        // rsyslog's %msg% keeps the space that followed the sender's TAG.
        assert(/^ viartls=\d+ ok$/.test(e.message), e.message);
      }
    } finally {
      await rsyslog.stop();
      assertEquals(await relay.stop(), 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("NDJSON records: the captures of loggen and rsyslog over TCP and TLS framing give their header fields", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-ndjson-" });
  const port = freePort();
  const relay = await startLocalRelay(dir, [
    ...["--record-format", "ndjson", "--tcp-port", String(port), "--tls-port", "0", "--flush-interval", "0.3"],
  ]);
  try {
    // The plain-text streams as loggen and rsyslog wrote them (TLS captures are decrypted).
    const captures = ["loggen-tcp-rfc5424", "loggen-tcp-legacy", "rsyslog-tls-gtls-rfc3164-octet-counted"];
    for (const capture of captures) {
      await sendTcp(port, await Deno.readFile(new URL(`${capture}/stream.bin`, FIXTURES)));
    }
    await eventually("some of each", async () => {
      const events = await readOutputObjects(`${dir}/out`);
      return ["prg00000", "harness-rsyslog"].every((app) => events.some((e) => e.appname === app));
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const events = await readOutputObjects(`${dir}/out`);
    for (const e of events) {
      assertShape(e);
      assertEquals([e.transport, e.port, e.format], ["tcp", port, "syslog"]);
    }
    const loggen5424 = events.find((e) => e.version === 1 && e.appname === "prg00000")!;
    assertEquals([loggen5424.facility, loggen5424.severity, loggen5424.hostname, loggen5424.procid], [
      "auth",
      "info",
      "localhost",
      "1234",
    ]);
    // loggen puts a BOM before the MSG: it is not part of the message.
    assert(loggen5424.message.startsWith("seq: "), loggen5424.message);
    const legacy = events.find((e) => e.version === undefined && e.appname === "prg00000")!;
    assertEquals([legacy.hostname, legacy.procid], ["localhost", "1234"]);
    const rsyslog = events.find((e) => e.appname === "harness-rsyslog")!;
    assertEquals([rsyslog.facility, rsyslog.severity, rsyslog.hostname], ["local0", "info", "vm"]);
    assert(/^harness seq=\d+ HSEQ:R:\d+ x+$/.test(rsyslog.message), rsyslog.message);
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("NDJSON records: GELF from gelf-pro (UDP chunked, TCP) and graypy's captures carry host, severity and the document", async () => {
  const nodePath = await nodeClientModules("gelf-pro", "1.4.0");
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-ndjson-" });
  const port = freePort();
  const relay = await startLocalRelay(dir, [
    ...["--record-format", "ndjson", "--gelf-udp-port", String(port), "--gelf-tcp-port", String(port)],
    ...["--tls-port", "0", "--flush-interval", "0.3"],
  ]);
  try {
    const client = new URL("./clients/gelf_pro_send.cjs", import.meta.url).pathname;
    for (const [adapter, tag] of [["udp", "U"], ["tcp", "T"]] as const) {
      const out = await new Deno.Command("node", {
        args: [client, adapter, String(port), "20", "3000", tag],
        env: { NODE_PATH: nodePath },
      }).output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    }
    for (const capture of ["graypy-udp-zlib", "graypy-udp-zlib-chunked"]) {
      const names = [...Deno.readDirSync(new URL(`${capture}/`, FIXTURES))].map((f) => f.name).sort();
      await sendUdp(port, names.map((name) => Deno.readFileSync(new URL(`${capture}/${name}`, FIXTURES))));
    }
    const total = 20 + 20 + 2 * 3;
    await eventually("every message", async () => (await readOutputObjects(`${dir}/out`)).length >= total);
    const events = await readOutputObjects(`${dir}/out`);
    assertEquals(events.length, total);
    for (const e of events) {
      assertShape(e);
      assertEquals([e.format, e.port], ["gelf", port]);
      const gelf = e.gelf as Record<string, unknown>;
      assertEquals(e.message, gelf.short_message);
      if (typeof gelf.host === "string") assertEquals(e.hostname, gelf.host);
      if (typeof gelf.level === "number") assertEquals(e.severity, SEVERITIES[gelf.level]);
    }
    for (const tag of ["U", "T"]) {
      const mine = events.filter((e) => e.message.startsWith(`${tag} `));
      assertEquals(mine.length, 20);
      assert(mine.every((e) => e.transport === (tag === "U" ? "udp" : "tcp")));
      assert(mine.every((e) => (e.gelf as Record<string, string>).full_message?.length === 3000));
    }
    assertEquals(events.filter((e) => /HSEQ:G:\d/.test(e.message)).length, 6);
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("NDJSON records left in the spool are delivered by the next start (of either format) and decode reads both", () =>
  withEndpoint(async (dir, endpoint) => {
    await endpoint.stop(); // records stay in the spool
    const port = freePort();
    const spool = `${dir}/spool`;
    const listen = ["--udp-port", String(port), "--tls-port", "0", "--flush-interval", "0.2", "--no-stream-check"];
    let relay = await startFirehoseRelay(dir, endpoint.url, spool, ["--record-format", "ndjson", ...listen]);
    await sendUdp(port, Array.from({ length: 30 }, (_, i) => `<13>1 - host app - - - left=${i}`));
    await eventually("records spooled", async () => (await readRecordFiles(spool)).length > 0);
    assertEquals(await relay.stop(), 0);
    // decode reads the NDJSON records in the spool as their events.
    const decoded = await runMain(["decode", spool], [dir]);
    assertEquals(decoded.code, 0, decoded.stderr);
    const lines = decoded.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(lines.length, 30);
    assert(lines.every((l) => l.transport === "udp" && l.appname === "app" && /^left=\d+$/.test(l.message)));
    // The next start runs CWL: the leftover NDJSON records are checked, not quarantined, and sent.
    endpoint.start();
    relay = await startFirehoseRelay(dir, endpoint.url, spool, listen);
    try {
      await sendUdp(port, ["<13>1 - host app - - - cwl=0"]);
      await eventually("both formats delivered", () => endpoint.objects().length === 31);
      const objects = endpoint.objects();
      assertEquals(objects.filter((o) => /^left=\d+$/.test(o.message)).length, 30);
      assertEquals(objects.filter((o) => o.message === "<13>1 - host app - - - cwl=0").length, 1);
      assert(!relay.lines.some((l) => /quarantine|damaged|corrupt/i.test(l)), relay.lines.join("\n"));
      // decode reads a CWL record too.
      const cwl = endpoint.records.find((r) => recordObjects(r).some((e) => "logGroup" in e))!;
      await Deno.writeFile(`${dir}/cwl.json.gz`, cwl);
      const read = await runMain(["decode", `${dir}/cwl.json.gz`], [dir]);
      assertEquals(read.code, 0, read.stderr);
      const event = JSON.parse(read.stdout.trim());
      assertEquals([event.message, event.logStream], ["<13>1 - host app - - - cwl=0", "127.0.0.1"]);
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  }));

Deno.test("--record-compression none: plain NDJSON records of at most 1,024,000 bytes, filled close to it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-ndjson-" });
  const port = freePort();
  const relay = await startLocalRelay(dir, [
    ...["--record-format", "ndjson", "--record-compression", "none", "--tcp-port", String(port)],
    ...["--tls-port", "0", "--flush-interval", "1"],
  ]);
  try {
    const total = 20_000;
    let text = "";
    for (let i = 0; i < total; i++) text += `<13>1 2026-11-30T10:00:00Z host app - - - plain=${i} ${"y".repeat(180)}\n`;
    await sendTcp(port, text);
    await eventually("every message", async () => (await readOutputObjects(`${dir}/out`)).length >= total, 60_000);
    const records = await readRecordFiles(`${dir}/out`);
    assert(records.every((r) => r[0] === 0x7b), "a record is not plain JSON");
    const sizes = records.map((r) => r.length).sort((a, b) => b - a);
    assert(sizes[0]! <= MAX_RECORD_BYTES, `a record of ${sizes[0]} bytes`);
    // All but the last are full within the builder's slack.
    assert(sizes.slice(0, -1).every((n) => n >= MAX_RECORD_BYTES - 16_384), `sizes ${sizes}`);
    const events = await readOutputObjects(`${dir}/out`);
    assertEquals(new Set(events.map((e) => e.message.split(" ")[0])).size, total);
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--record-compression none without --record-format ndjson is refused at startup", async () => {
  const { code, stderr } = await runMain([
    "listen",
    ...["--output-dir", "/tmp/none", "--udp-port", String(freePort()), "--tls-port", "0"],
    ...["--record-compression", "none"],
  ], ["/tmp"]);
  assertEquals(code, 2, stderr);
  assert(stderr.includes("--record-compression none needs --record-format ndjson"), stderr);
});

Deno.test("NDJSON records: 500 quiet UDP sources share one record, each event with its own source and port", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-ndjson-" });
  const [udp, metricsPort] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--udp-port", String(udp), "--tls-port", "0", "--prometheus-port", String(metricsPort)],
    ...["--record-format", "ndjson", "--flush-interval", "60"],
  ]);
  try {
    const sources = 500;
    for (let i = 0; i < sources; i++) await sendFrom(fleetAddress(i), udp, `<13>1 - host app - - - quiet ${i}`);
    await eventually(
      "all received",
      async () => await scrape(metricsPort, "kinesyslog_messages_received_total") >= sources,
    );
    // One buffer for every source (the gauge is read at the relay's next look at its buffers).
    await eventually("one open buffer", async () => await scrape(metricsPort, "kinesyslog_open_buffers") === 1);
    assertEquals(await relay.stop(), 0);
    assertEquals((await readRecordFiles(`${dir}/out`)).length, 1, "one record");
    const events = await readOutputObjects(`${dir}/out`);
    assertEquals(events.length, sources);
    for (const e of events) {
      const i = Number(/quiet (\d+)/.exec(e.message)![1]);
      assertEquals([e.source, e.port, e.transport], [fleetAddress(i), udp, "udp"]);
    }
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
