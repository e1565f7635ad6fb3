/**
 * End-to-end GELF tests: `main.ts` as a subprocess, real sockets on 127.0.0.1, records read
 * from `--output-dir`.
 */
import { assert, assertEquals } from "./assert.ts";
import { gelfDatagrams, randomText } from "./gelf_sender.ts";
import {
  eventually,
  freePort,
  makeCertificate,
  nodeClientModules,
  readOutputDir,
  scrape,
  sendStream,
  sendTcp,
  sendUdp,
  startLocalRelay,
} from "./harness.ts";

const FIXTURES = new URL("./fixtures/wire/", import.meta.url);

/** A GELF message with a unique marker in short_message and about `bytes` of noise. */
function gelf(marker: string, bytes = 100, timestamp = 1_700_000_000.25): string {
  return JSON.stringify({
    version: "1.1",
    host: "app-1",
    short_message: marker,
    full_message: randomText(bytes),
    timestamp,
    level: 6,
    _null_field: null,
  });
}

Deno.test("GELF and syslog listeners run side by side; every message arrives exactly once in its own logGroup", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-gelf-" });
  const { cert, key } = await makeCertificate(dir);
  const [syslogPort, gelfPort, gelfTls, metricsPort] = [freePort(), freePort(), freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--udp-port", String(syslogPort), "--tcp-port", String(syslogPort), "--tls-port", "0"],
    ...["--gelf-udp-port", String(gelfPort), "--gelf-tcp-port", String(gelfPort), "--gelf-tls-port", String(gelfTls)],
    ...["--cert", cert, "--key", key, "--flush-interval", "0.3", "--prometheus-port", String(metricsPort)],
  ]);
  const expected = new Map<string, { group: string; json?: string }>();
  const gelfGroup = `/kinesyslog/gelf/${gelfPort}`;
  try {
    // UDP: chunked zlib and gzip messages over 8 KB, sent last chunk first and interleaved;
    // uncompressed ones, whole and chunked; one-chunk messages with a chunk header.
    const queues: Uint8Array[][] = [];
    const kinds = [
      ["zlib", { compress: "zlib" }, 12_000],
      ["gzip", { compress: "gzip" }, 12_000],
      ["plain", { compress: "none" }, 300],
      ["plainchunked", { compress: "none", chunkBytes: 1_000 }, 4_000],
      ["onechunk", { compress: "zlib", alwaysChunk: true }, 200],
    ] as const;
    for (const [name, options, bytes] of kinds) {
      for (let i = 0; i < 8; i++) {
        const json = gelf(`udp-${name}-${i}`, bytes, 1_700_000_000 + i + 0.125);
        expected.set(`udp-${name}-${i}`, { group: gelfGroup, json });
        queues.push(gelfDatagrams(json, options).reverse());
      }
    }
    while (queues.some((q) => q.length > 0)) {
      await sendUdp(gelfPort, queues.map((q) => q.shift()).filter((d) => d !== undefined));
      // Paced like real senders: a burst beyond the socket's receive buffer is lost in the kernel.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // TCP: one connection with many NUL-delimited messages (some followed by LF), with bad
    // ones among them; then one connection per message, as gelf-pro does.
    let stream = "";
    for (let i = 0; i < 100; i++) {
      const json = gelf(`tcp-${i}`);
      expected.set(`tcp-${i}`, { group: gelfGroup, json });
      stream += json + (i % 3 === 0 ? "\0\n" : "\0");
      if (i === 10) stream += "<13>syslog sent to the GELF port\0";
      if (i === 20) stream += '{"host":"h","full_message":"no short_message"}\0';
      if (i === 30) stream += '[{"short_message":"an array"}]\0';
    }
    await sendTcp(gelfPort, stream);
    for (let i = 0; i < 20; i++) {
      const json = gelf(`conn-${i}`);
      expected.set(`conn-${i}`, { group: gelfGroup, json });
      await sendTcp(gelfPort, json + "\0");
    }
    // TLS: NUL-delimited over one connection.
    let tls = "";
    for (let i = 0; i < 50; i++) {
      const json = gelf(`tls-${i}`);
      expected.set(`tls-${i}`, { group: `/kinesyslog/gelf/${gelfTls}`, json });
      tls += json + "\0";
    }
    const ca = await Deno.readTextFile(`${dir}/ca.crt`);
    await sendStream(await Deno.connectTls({ hostname: "127.0.0.1", port: gelfTls, caCerts: [ca] }), tls);
    // Syslog beside it.
    const syslog = Array.from({ length: 20 }, (_, i) => `<13>1 2026-11-24T10:00:00Z host app - - - syslog-${i}`);
    for (let i = 0; i < 20; i++) expected.set(`syslog-${i}`, { group: `/kinesyslog/syslog/${syslogPort}` });
    await sendUdp(syslogPort, syslog.slice(0, 10));
    await sendTcp(syslogPort, syslog.slice(10).join("\n") + "\n");

    const events = await (async () => {
      let seen = 0;
      await eventually("every message delivered", async () => {
        seen = (await readOutputDir(`${dir}/out`).catch(() => [])).length;
        return seen >= expected.size;
      }, 30_000).catch((error) => {
        throw new Error(`${error.message}: ${seen} of ${expected.size}; ${relay.lines.slice(-10).join("\n")}`);
      });
      await new Promise((resolve) => setTimeout(resolve, 500)); // anything extra would show now
      return await readOutputDir(`${dir}/out`);
    })();
    const seen = new Map<string, number>();
    for (const event of events) {
      const marker = event.logGroup.includes("/gelf/")
        ? JSON.parse(event.message).short_message
        : /syslog-\d+/.exec(event.message)?.[0];
      const want = expected.get(marker);
      assert(want !== undefined, `unexpected event ${event.message.slice(0, 80)}`);
      assertEquals(event.logGroup, want.group, marker);
      assertEquals(event.logStream, "127.0.0.1");
      if (want.json !== undefined) {
        assertEquals(event.message, want.json, `${marker} arrives as the JSON text sent`);
        assertEquals(event.timestamp, Math.floor(JSON.parse(want.json).timestamp * 1000), `${marker} timestamp`);
      }
      seen.set(marker, (seen.get(marker) ?? 0) + 1);
    }
    const wrong = [...expected.keys()].filter((m) => seen.get(m) !== 1).map((m) => `${m}:${seen.get(m) ?? 0}`);
    assertEquals(wrong, [], "every message exactly once");
    const listener = `gelf-tcp/${gelfPort}`;
    for (const reason of ["invalid_json", "missing_message", "not_object"]) {
      assertEquals(await scrape(metricsPort, "kinesyslog_messages_dropped_total", { listener, reason }), 1);
    }
    assert(relay.lines.some((l) => l.includes("reason=invalid_json") && l.includes("source=127.0.0.1")));
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("GELF from the gelf-pro library (Node.js) arrives complete over chunked UDP and TCP, with the captures of graypy", async () => {
  const nodePath = await nodeClientModules("gelf-pro", "1.4.0");
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-gelf-" });
  const port = freePort();
  const relay = await startLocalRelay(dir, [
    ...["--gelf", "--udp-port", String(port), "--tcp-port", String(port), "--tls-port", "0"],
    ...["--flush-interval", "0.3"],
  ]);
  try {
    const client = new URL("./clients/gelf_pro_send.cjs", import.meta.url).pathname;
    const runs = [["udp", 40, 12_000, "U"], ["tcp", 40, 2_000, "T"]] as const;
    for (const [adapter, count, bytes, tag] of runs) {
      const out = await new Deno.Command("node", {
        args: [client, adapter, String(port), String(count), String(bytes), tag],
        env: { NODE_PATH: nodePath },
      }).output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    }
    // Real captures of graypy (TCP, and UDP zlib and chunked) on the same ports.
    await sendTcp(port, await Deno.readFile(new URL("graypy-tcp-nul/stream.bin", FIXTURES)));
    for (const capture of ["graypy-udp-zlib", "graypy-udp-zlib-chunked", "graypy-udp-plain-chunked"]) {
      const names = [...Deno.readDirSync(new URL(`${capture}/`, FIXTURES))].map((f) => f.name).sort();
      await sendUdp(port, names.map((name) => Deno.readFileSync(new URL(`${capture}/${name}`, FIXTURES))));
    }
    const total = 40 + 40 + 3 * 4;
    await eventually("every message delivered", async () => (await readOutputDir(`${dir}/out`)).length >= total);
    const events = await readOutputDir(`${dir}/out`);
    assertEquals(events.length, total);
    assert(events.every((e) => e.logGroup === `/kinesyslog/gelf/${port}`));
    const messages = events.map((e) => JSON.parse(e.message));
    for (const [, count, bytes, tag] of runs) {
      const mine = messages.filter((m) => m.short_message.startsWith(`${tag} `));
      assertEquals(
        mine.map((m) => m.short_message).sort(),
        Array.from({ length: count }, (_, i) => `${tag} ${i}`).sort(),
      );
      assert(mine.every((m) => m.full_message.length === bytes && m._facility === "kinesyslog-test"));
    }
    assertEquals(messages.filter((m) => m.version === "1.0" && /HSEQ:G:\d/.test(m.short_message)).length, 12);
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});
