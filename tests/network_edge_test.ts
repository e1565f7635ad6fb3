/**
 * End-to-end tests of the network edge: mutual TLS, PROXY protocol, connection limits and
 * timeouts, certificate reload, all through `main.ts` as a subprocess on 127.0.0.1.
 */
import { rsyslogWith } from "./rsyslog.ts";
import { assert, assertEquals } from "./assert.ts";
import { buildProxyV2, PP2_TYPE_AWS } from "../src/framing/proxy_header.ts";
import {
  eventually,
  freePort,
  makeCa,
  makeCertificate,
  makeClientCertificate,
  readOutputDir,
  runMain,
  scrape,
  sendStream,
  startLocalRelay,
  tlsClient,
  writeAll,
} from "./harness.ts";

const enc = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether the relay closed `conn` (a read ends) within `ms`. */
async function closedByRelay(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buffer = new Uint8Array(16);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    conn.read(buffer).then((n) => n === null ? "closed" : "data", () => "closed"),
    new Promise((resolve) => (timer = setTimeout(() => resolve("open"), ms))),
  ]);
  clearTimeout(timer);
  return outcome === "closed";
}

Deno.test("mutual TLS, required: only a trusted, allowed client certificate gets messages through", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const { cert, key, ca } = await makeCertificate(dir);
  await makeCa(dir, "other");
  const good = await makeClientCertificate(dir, "router1");
  const stranger = await makeClientCertificate(dir, "intruder", { ca: "other" });
  const expired = await makeClientCertificate(dir, "old", { expired: true });
  const unlisted = await makeClientCertificate(dir, "printer");
  const [tls, metricsPort] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--tls-port", String(tls), "--cert", cert, "--key", key, "--client-ca", `${dir}/ca.crt`],
    ...["--client-allow", "*.core.example.net", "--client-allow", "router1.example.net"],
    ...["--flush-interval", "0.3", "--prometheus-port", String(metricsPort)],
  ]);
  try {
    assert(await tlsClient(tls, ca, "<13>1 - h app - - - from router1\n", good));
    await tlsClient(tls, ca, "<13>1 - h app - - - from no certificate\n");
    await tlsClient(tls, ca, "<13>1 - h app - - - from another CA\n", stranger);
    await tlsClient(tls, ca, "<13>1 - h app - - - from an expired certificate\n", expired);
    await tlsClient(tls, ca, "<13>1 - h app - - - from a name not allowed\n", unlisted);
    assert(await tlsClient(tls, ca, "<13>1 - h app - - - from router1 again\n", good));
    const refused = (reason: string) => scrape(metricsPort, "kinesyslog_connections_refused_total", { reason });
    await eventually("refusals counted", async () => await refused("client_not_allowed") === 1);
    assertEquals(await refused("no_client_certificate"), 1);
    assertEquals(await refused("untrusted_client_certificate"), 2);
    await eventually("good messages", async () => (await readOutputDir(`${dir}/out`)).length === 2);
    await sleep(500);
    assertEquals((await readOutputDir(`${dir}/out`)).map((e) => e.message).sort(), [
      "<13>1 - h app - - - from router1",
      "<13>1 - h app - - - from router1 again",
    ]);
    const log = relay.lines.join("\n");
    assert(
      /INFO TLS client connected .*source=127\.0\.0\.1 .*client="CN=router1,O=kinesyslog tests san=DNS:router1\.example\.net" verified=true/
        .test(log),
      log,
    );
    assert(/reason=untrusted_client_certificate error=CERT_HAS_EXPIRED client="CN=old/.test(log), log);
    assert(/reason=client_not_allowed .*client="CN=printer/.test(log), log);
    assert(/reason=no_client_certificate/.test(log), log);
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mutual TLS, optional: every client is accepted and the log says which were verified", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const { cert, key, ca } = await makeCertificate(dir);
  await makeCa(dir, "other");
  const good = await makeClientCertificate(dir, "router1");
  const stranger = await makeClientCertificate(dir, "intruder", { ca: "other" });
  const tls = freePort();
  const relay = await startLocalRelay(dir, [
    ...["--tls-port", String(tls), "--cert", cert, "--key", key, "--client-ca", `${dir}/ca.crt`],
    ...["--client-auth", "optional", "--flush-interval", "0.3"],
  ]);
  try {
    assert(await tlsClient(tls, ca, "<13>verified\n", good));
    assert(await tlsClient(tls, ca, "<13>no certificate\n"));
    assert(await tlsClient(tls, ca, "<13>untrusted\n", stranger));
    await eventually("all messages", async () => (await readOutputDir(`${dir}/out`)).length === 3);
    const log = relay.lines.join("\n");
    assert(/TLS client connected .*client="CN=router1[^"]*" verified=true/.test(log), log);
    assert(/TLS client connected .*client="CN=intruder[^"]*" verified=false error=\S+/.test(log), log);
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PROXY protocol v1 and v2: the proxied source and port name the events; bad headers close that connection only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const { cert, key, ca } = await makeCertificate(dir);
  const [tcp, tls, metricsPort] = [freePort(), freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--tcp-port", String(tcp), "--tls-port", String(tls), "--cert", cert, "--key", key],
    ...["--proxy-protocol", String(tcp), "--proxy-protocol", String(tls), "--handshake-timeout", "1"],
    ...["--flush-interval", "0.3", "--prometheus-port", String(metricsPort), "--debug"],
  ]);
  const raw = async (bytes: Uint8Array | string, options: { split?: boolean; keep?: boolean } = {}) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
    conn.setNoDelay(true);
    const data = typeof bytes === "string" ? enc.encode(bytes) : bytes;
    if (options.split) {
      // One byte per segment, so the header arrives in pieces.
      for (const b of data) {
        await conn.write(new Uint8Array([b]));
        await sleep(2);
      }
    } else await writeAll(conn, data);
    if (!options.keep) conn.close();
    return conn;
  };
  const join = (a: Uint8Array, b: string) => {
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(enc.encode(b), a.length);
    return out;
  };
  try {
    // A sender behind the balancer that stays silent after the header longer than the
    // handshake timeout: idle rules apply to it, not the handshake timeout.
    const paused = (async () => {
      const conn = await raw("PROXY TCP4 192.0.2.11 10.0.0.1 40001 514\r\n", { keep: true });
      await sleep(1_600);
      await writeAll(conn, "<13>after a pause\n");
      conn.close();
    })();
    await raw("PROXY TCP4 192.0.2.10 10.0.0.1 40000 514\r\n<13>v1 one\n<13>v1 two\n");
    const vpce = new Uint8Array([0x01, ...enc.encode("vpce-0123456789abcdef0")]);
    const v6 = buildProxyV2({ address: "2001:db8::10", port: 50000 }, { address: "2001:db8::1", port: 601 }, [
      { type: PP2_TYPE_AWS, value: vpce },
    ]);
    await raw(join(v6, "<13>v2 ipv6 split\n"), { split: true });
    await raw(join(buildProxyV2(undefined, undefined), "<13>v2 local\n"));
    await raw(buildProxyV2(undefined, undefined)); // a health check: header, then close
    await raw("PROXY TCP4 999.0.2.10 10.0.0.1 40000 514\r\n<13>bad address\n");
    await raw("<13>no header\n");
    await raw("PROXY TCP4 192.0");
    const silent = await raw(new Uint8Array(0), { keep: true });
    // PROXY before TLS: the header on the raw connection, then the handshake.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tls });
    await writeAll(
      conn,
      buildProxyV2({ address: "198.51.100.7", port: 5000 }, { address: "10.0.0.1", port: 6514 }),
    );
    const secure = await Deno.startTls(conn, { hostname: "localhost", caCerts: [ca] });
    await writeAll(secure, "<13>proxied TLS\n");
    secure.close();
    await paused;
    await eventually("delivered", async () => (await readOutputDir(`${dir}/out`)).length === 6);
    const events = (await readOutputDir(`${dir}/out`)).map((e) => `${e.logGroup} ${e.logStream} ${e.message}`);
    assertEquals(
      events.sort(),
      [
        "/kinesyslog/syslog/514 192.0.2.11 <13>after a pause",
        "/kinesyslog/syslog/514 192.0.2.10 <13>v1 one",
        "/kinesyslog/syslog/514 192.0.2.10 <13>v1 two",
        "/kinesyslog/syslog/601 2001:db8::10 <13>v2 ipv6 split",
        "/kinesyslog/syslog/6514 198.51.100.7 <13>proxied TLS",
        `/kinesyslog/syslog/${tcp} 127.0.0.1 <13>v2 local`,
      ].sort(),
    );
    assert(await closedByRelay(silent, 3_000), "a connection without a header is closed after the timeout");
    silent.close();
    const refused = (reason: string) => scrape(metricsPort, "kinesyslog_connections_refused_total", { reason });
    await eventually("timeout counted", async () => await refused("proxy_timeout") === 1);
    assertEquals(await refused("proxy_v1_malformed"), 1);
    assertEquals(await refused("proxy_missing"), 1);
    assertEquals(await refused("proxy_truncated"), 1);
    assertEquals(await scrape(metricsPort, "kinesyslog_connection_errors_total"), 0);
    const log = relay.lines.join("\n");
    assert(/Connection opened .*source=2001:db8::10 vpce=vpce-0123456789abcdef0/.test(log), log);
    assert(/Connection refused: no valid PROXY protocol header .*source=127\.0\.0\.1 reason=proxy_missing/.test(log));
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("idle connections beyond the limit and a slowloris TLS client do not keep a good client out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const { cert, key, ca } = await makeCertificate(dir);
  const [tcp, tls, metricsPort] = [freePort(), freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--tcp-port", String(tcp), "--tls-port", String(tls), "--cert", cert, "--key", key],
    ...["--max-connections", "4", "--idle-timeout", "4", "--handshake-timeout", "1"],
    ...["--flush-interval", "0.3", "--prometheus-port", String(metricsPort)],
  ]);
  const open: Deno.Conn[] = [];
  const connect = async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
    open.push(conn);
    return conn;
  };
  try {
    for (let i = 0; i < 4; i++) await connect();
    await eventually("4 open", async () => await scrape(metricsPort, "kinesyslog_connections_open") === 4);
    const extra = [await connect(), await connect()];
    for (const conn of extra) assert(await closedByRelay(conn, 2_000), "over the limit: closed at once");
    const refused = (reason: string) => scrape(metricsPort, "kinesyslog_connections_refused_total", { reason });
    assertEquals(await refused("connection_limit"), 2);
    // A slowloris on the TLS port: a hello that never ends.
    const slow = await Deno.connect({ hostname: "127.0.0.1", port: tls });
    const trickle = (async () => {
      for (const b of [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]) {
        try {
          await slow.write(new Uint8Array([b]));
        } catch {
          return;
        }
        await sleep(300);
      }
    })();
    await sleep(2_100); // the idle ones are now evictable
    const good = await connect();
    let text = "";
    for (let i = 0; i < 10; i++) text += `<13>1 - h app - - - good ${i}\n`;
    await sendStream(good, text);
    assert(await tlsClient(tls, ca, "<13>1 - h app - - - good over TLS\n"));
    await eventually("good messages", async () => (await readOutputDir(`${dir}/out`)).length === 11);
    assertEquals(await scrape(metricsPort, "kinesyslog_connection_errors_total", { reason: "evicted" }), 1);
    assertEquals(await scrape(metricsPort, "kinesyslog_tls_handshake_failures_total", { reason: "timeout" }), 1);
    await trickle;
    // The idle ones end after --idle-timeout; then a TLS client on the plain port is refused.
    await eventually(
      "idle closed",
      async () => await scrape(metricsPort, "kinesyslog_connection_errors_total", { reason: "idle_timeout" }) >= 3,
      10_000,
    );
    assert(!(await tlsClient(tcp, ca, "<13>TLS on the plain port\n")));
    await eventually("mismatch counted", async () => await refused("tls_on_plain_port") === 1);
    assertEquals((await readOutputDir(`${dir}/out`)).length, 11);
  } finally {
    for (const conn of open) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGHUP reloads the certificates for new connections and keeps established ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  await Deno.mkdir(`${dir}/old`);
  await Deno.mkdir(`${dir}/new`);
  const old = await makeCertificate(`${dir}/old`);
  const renewed = await makeCertificate(`${dir}/new`);
  await Deno.copyFile(old.cert, `${dir}/live.crt`);
  await Deno.copyFile(old.key, `${dir}/live.key`);
  const [tls, metricsPort] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--tls-port", String(tls), "--cert", `${dir}/live.crt`, "--key", `${dir}/live.key`],
    ...["--flush-interval", "0.3", "--prometheus-port", String(metricsPort)],
  ]);
  try {
    const established = await Deno.connectTls({ hostname: "127.0.0.1", port: tls, caCerts: [old.ca] });
    await writeAll(established, "<13>before the reload\n");
    await Deno.copyFile(renewed.cert, `${dir}/live.crt`);
    await Deno.copyFile(renewed.key, `${dir}/live.key`);
    relay.signal("SIGHUP");
    await relay.waitFor(/TLS certificates reloaded/);
    await writeAll(established, "<13>established, after the reload\n");
    established.close();
    assert(await tlsClient(tls, renewed.ca, "<13>new connection, new certificate\n"));
    assert(!(await tlsClient(tls, old.ca, "<13>new connection trusting the old CA\n")));
    // A broken file keeps the current certificates in use.
    await Deno.writeTextFile(`${dir}/live.crt`, "not a certificate");
    relay.signal("SIGHUP");
    await relay.waitFor(/Cannot reload the TLS certificates; the old ones stay in use/);
    assert(await tlsClient(tls, renewed.ca, "<13>after a failed reload\n"));
    // A certificate with a key that is not its own: refused, the pair in use stays.
    await Deno.copyFile(renewed.cert, `${dir}/live.crt`);
    await Deno.copyFile(old.key, `${dir}/live.key`);
    relay.signal("SIGHUP");
    await relay.waitFor(
      /Cannot reload the TLS certificates; the old ones stay in use.*does not belong to the certificate/,
    );
    assert(await tlsClient(tls, renewed.ca, "<13>after a mismatched reload\n"));
    await eventually("delivered", async () => (await readOutputDir(`${dir}/out`)).length === 5);
    assertEquals((await readOutputDir(`${dir}/out`)).map((e) => e.message).sort(), [
      "<13>after a failed reload",
      "<13>after a mismatched reload",
      "<13>before the reload",
      "<13>established, after the reload",
      "<13>new connection, new certificate",
    ]);
    assertEquals(await scrape(metricsPort, "kinesyslog_tls_reloads_total", { result: "ok" }), 1);
    assertEquals(await scrape(metricsPort, "kinesyslog_tls_reloads_total", { result: "error" }), 2);
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

/** rsyslogd and its GnuTLS driver (Debian: `rsyslog`, `rsyslog-gnutls`), when installed. */
const rsyslogd = rsyslogWith("lmnsd_gtls");
if (rsyslogd === undefined) {
  console.error("SKIP rsyslog gtls test: install rsyslog and rsyslog-gnutls (.ci/run does) to run it");
}

Deno.test({
  name: "rsyslog forwarding over TLS (gtls driver, x509/name) with a client certificate delivers through `required`",
  ignore: rsyslogd === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
    const { cert, key } = await makeCertificate(dir);
    await makeClientCertificate(dir, "router1");
    await Deno.mkdir(`${dir}/rsyslog`);
    const [tls, udp] = [freePort(), freePort()];
    const relay = await startLocalRelay(dir, [
      ...["--tls-port", String(tls), "--cert", cert, "--key", key, "--client-ca", `${dir}/ca.crt`],
      ...["--client-allow", "router1.example.net", "--flush-interval", "0.3"],
    ]);
    // rsyslog takes messages on a UDP port and forwards them to the relay over TLS, checking
    // the relay's certificate name (x509/name) and presenting its own client certificate.
    await Deno.writeTextFile(
      `${dir}/rsyslog.conf`,
      `global(workDirectory="${dir}/rsyslog"
  defaultNetstreamDriverCAFile="${dir}/ca.crt"
  defaultNetstreamDriverCertFile="${dir}/router1.crt"
  defaultNetstreamDriverKeyFile="${dir}/router1.key")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="${udp}")
action(type="omfwd" target="127.0.0.1" port="${tls}" protocol="tcp" TCP_Framing="octet-counted"
  StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name"
  StreamDriverPermittedPeers="localhost" action.resumeRetryCount="-1")
`,
    );
    const rsyslog = new Deno.Command(rsyslogd!, {
      args: ["-n", "-f", `${dir}/rsyslog.conf`, "-i", `${dir}/rsyslog.pid`],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      try {
        await sleep(500); // rsyslog binds its input
        for (let i = 0; i < 20; i++) {
          await sock.send(enc.encode(`<13>Nov 24 10:00:00 host app: via rsyslog ${i}`), {
            transport: "udp",
            hostname: "127.0.0.1",
            port: udp,
          });
        }
      } finally {
        sock.close();
      }
      await eventually("rsyslog's messages", async () => (await readOutputDir(`${dir}/out`)).length === 20, 20_000);
      const events = await readOutputDir(`${dir}/out`);
      assertEquals(
        events.map((e) => /via rsyslog (\d+)/.exec(e.message)?.[1]).sort((a, b) => Number(a) - Number(b)),
        Array.from({ length: 20 }, (_, i) => String(i)),
      );
      assert(relay.lines.some((l) => /TLS client connected .*client="CN=router1,.* verified=true/.test(l)));
    } finally {
      rsyslog.kill("SIGTERM");
      const out = await rsyslog.output();
      if (!out.success && out.code !== 143) console.error(new TextDecoder().decode(out.stderr));
      assertEquals(await relay.stop(), 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a certificate and a key that are not a pair stop the relay at startup, saying so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  try {
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    const a = await makeCertificate(`${dir}/a`);
    const b = await makeCertificate(`${dir}/b`);
    const { code, stderr } = await runMain([
      "listen",
      ...["--output-dir", `${dir}/out`, "--spool-dir", `${dir}/spool`, "--address", "127.0.0.1"],
      ...["--tls-port", String(freePort()), "--cert", a.cert, "--key", b.key],
    ], [dir]);
    assertEquals(code, 1, stderr);
    assert(stderr.includes("does not belong to the certificate"), stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
