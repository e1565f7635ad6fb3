/**
 * End-to-end tests of the relay's bounds at the edge, each hostile case beside a legitimate
 * sender: a fleet of UDP sources, a slow sender, a flood of slots held by senders that never
 * finish a message, a per-source cap, a metrics port flooded at a low descriptor limit,
 * `--allow-from`, and client certificates with each kind of subjectAltName. `main.ts` runs as
 * a subprocess; every sender is on 127.0.0.0/8 or ::1.
 */
import { connect as connectTls } from "node:tls";
import { assert, assertEquals } from "./assert.ts";
import {
  eventually,
  freePort,
  makeCertificate,
  makeClientCertificate,
  readOutputDir,
  scrape,
  startLocalRelay,
  writeAll,
} from "./harness.ts";
import { closedWithin, connectFrom, connectUntilKept, DripFlood, fleetAddress, sendFrom } from "./edge_senders.ts";

const enc = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("a fleet of UDP sources past --max-open-buffers: the oldest buffers are flushed, every message arrives", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const [udp, metricsPort] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--udp-port", String(udp), "--tls-port", "0", "--prometheus-port", String(metricsPort)],
    ...["--max-open-buffers", "200", "--flush-interval", "30"],
  ]);
  try {
    const sources = 1_000;
    let maxOpen = 0;
    for (let i = 0; i < sources; i++) {
      await sendFrom(fleetAddress(i), udp, `<13>1 - host app - - - fleet message ${i}`);
      if (i % 100 === 99) maxOpen = Math.max(maxOpen, await scrape(metricsPort, "kinesyslog_open_buffers"));
    }
    await eventually("the buffers flushed for the cap", async () => {
      return await scrape(metricsPort, "kinesyslog_batches_flushed_total", { reason: "open_buffers" }) >= 700;
    });
    assert(maxOpen <= 200, `open buffers ${maxOpen}`);
    // Under its narrow permissions the relay reads the socket's own drop counter (libc).
    assertEquals(await scrape(metricsPort, "kinesyslog_udp_kernel_drops_total", { listener: `udp/${udp}` }), 0);
    assert(!relay.lines.some((l) => l.includes("Cannot count datagrams the kernel drops")), "the drop counter");
    assert(await scrape(metricsPort, "kinesyslog_buffer_memory_bytes") <= 200 * 2_048);
    await relay.stop();
    const events = await readOutputDir(`${dir}/out`);
    const got = new Set(events.map((e) => e.message));
    for (let i = 0; i < sources; i++) {
      assert(got.has(`<13>1 - host app - - - fleet message ${i}`), `message ${i} missing`);
    }
    // One record per (source, destination port), as SPEC section 4 says.
    const streams = new Set(events.map((e) => e.logStream));
    assertEquals(streams.size, sources);
    assert(streams.has(fleetAddress(0)) && streams.has(fleetAddress(sources - 1)));
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a sender trickling a line a byte at a time is delivered whole; its partial line is counted in held bytes only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const tcp = freePort();
  const relay = await startLocalRelay(dir, ["--tcp-port", String(tcp), "--tls-port", "0", "--flush-interval", "0.3"]);
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
    const line = "<13>1 - host app - - - " + "slow ".repeat(20);
    for (const byte of enc.encode(line)) {
      await writeAll(conn, new Uint8Array([byte]));
      await sleep(2);
    }
    await writeAll(conn, "\n<13>1 - host app - - - quick\n");
    conn.close();
    await eventually("both messages", async () => (await readOutputDir(`${dir}/out`)).length === 2);
    assertEquals((await readOutputDir(`${dir}/out`)).map((e) => e.message), [line, "<13>1 - host app - - - quick"]);
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("slots held by senders that never finish a message go to a sender that does; --max-connections-per-source caps one address", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const [tcp, metricsPort] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--tcp-port", String(tcp), "--tls-port", "0", "--prometheus-port", String(metricsPort)],
    ...["--max-connections", "40", "--max-connections-per-source", "2", "--flush-interval", "0.3"],
  ]);
  // 120 addresses, each keeping a connection that sends one byte of an endless line every 300 ms.
  const flood = new DripFlood(tcp, { connections: 120, firstAddress: 10_000, byteIntervalMs: 300 });
  try {
    await eventually("the slots full", async () => await scrape(metricsPort, "kinesyslog_connections_open") >= 40);
    // A legitimate sender: reconnects until the relay keeps its connection, then sends 500 messages.
    const { socket: legit } = await connectUntilKept("127.0.0.1", tcp, 100);
    assert(legit !== undefined, "the legitimate sender never got a slot");
    let broken = false;
    legit.on("close", () => (broken = true));
    for (let i = 0; i < 500; i++) {
      legit.write(`<13>1 - host legit - - - message ${i}\n`);
      if (i % 50 === 49) await sleep(200);
    }
    await sleep(500);
    assert(!broken, "the relay closed a connection that completes messages");
    legit.end();
    await eventually("every legitimate message", async () => {
      const events = await readOutputDir(`${dir}/out`);
      return events.filter((e) => e.message.includes(" legit ")).length === 500;
    });
    assert(await scrape(metricsPort, "kinesyslog_connection_errors_total", { reason: "evicted" }) > 0);
    // What an evicted sender had sent of its endless line is counted, not delivered.
    assert(await scrape(metricsPort, "kinesyslog_messages_dropped_total", { reason: "unfinished" }) > 0);
    assertEquals((await readOutputDir(`${dir}/out`)).filter((e) => e.message.includes(" drip ")).length, 0);
    await flood.stop();
    await eventually("the flood gone", async () => await scrape(metricsPort, "kinesyslog_connections_open") === 0);

    // Three connections from one address: the third is refused.
    const same = [await connectFrom("127.3.0.1", tcp), await connectFrom("127.3.0.1", tcp)];
    await sleep(100);
    const third = await connectFrom("127.3.0.1", tcp);
    assert(third !== undefined && await closedWithin(third, 2_000), "a third connection from one address was kept");
    assert(same.every((c) => c !== undefined && !c.closed), "the first two connections from one address were closed");
    await eventually("the per-source refusal counted", async () => {
      return await scrape(metricsPort, "kinesyslog_connections_refused_total", { reason: "source_connection_limit" }) >=
        1;
    });
    for (const c of same) c?.destroy();
    third.destroy();
  } finally {
    await flood.stop();
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a metrics port flooded past the descriptor limit: the relay survives, counts it, and answers afterwards", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const [tcp, metricsPort] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--tcp-port", String(tcp), "--tls-port", "0", "--prometheus-port", String(metricsPort)],
    // Past the descriptor limit, so that accepting runs out of descriptors.
    ...["--metrics-max-connections", "2000", "--flush-interval", "0.3"],
  ]);
  const flood: Deno.Conn[] = [];
  try {
    const limit = await new Deno.Command("prlimit", {
      args: ["--pid", String(relay.pid), "--nofile=256:256"],
    }).output().catch(() => undefined);
    if (limit === undefined || !limit.success) {
      console.log("ignored: prlimit cannot lower the relay's descriptor limit here");
      return;
    }
    const opening = Array.from(
      { length: 600 },
      () => Deno.connect({ hostname: "127.0.0.1", port: metricsPort }).then((c) => flood.push(c), () => {}),
    );
    await Promise.race([Promise.all(opening), sleep(5_000)]);
    await sleep(1_000);
    for (const c of flood.splice(0)) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    // Still running: a syslog message goes through, and /metrics answers with the count.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
    await writeAll(conn, "<13>1 - host app - - - after the flood\n");
    conn.close();
    await eventually("the message after the flood", async () => (await readOutputDir(`${dir}/out`)).length === 1);
    await eventually("/metrics answers with the exhaustion counted", async () => {
      try {
        return await scrape(metricsPort, "kinesyslog_connection_errors_total", { reason: "descriptors_exhausted" }) > 0;
      } catch {
        return false;
      }
    });
  } finally {
    for (const c of flood) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--allow-from: sources outside the ranges are refused over UDP, TCP, TLS and IPv6, counted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const { cert, key, ca } = await makeCertificate(dir);
  const [port, tls, metricsPort] = [freePort(), freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--address", "::", "--udp-port", String(port), "--tcp-port", String(port), "--tls-port", String(tls)],
    ...["--cert", cert, "--key", key, "--prometheus-port", String(metricsPort), "--metrics-address", "127.0.0.1"],
    ...["--allow-from", "127.0.0.0/30", "--allow-from", "::1", "--flush-interval", "0.3"],
  ]);
  try {
    // UDP: allowed and refused addresses.
    await sendFrom("127.0.0.2", port, "<13>1 - h app - - - udp allowed");
    await sendFrom("127.0.0.9", port, "<13>1 - h app - - - udp refused");
    const v6 = Deno.listenDatagram({ hostname: "::1", port: 0, transport: "udp" });
    await v6.send(enc.encode("<13>1 - h app - - - udp over IPv6"), { transport: "udp", hostname: "::1", port });
    v6.close();
    // TCP.
    for (const [from, text] of [["127.0.0.2", "tcp allowed"], ["127.0.0.9", "tcp refused"]]) {
      const socket = (await connectFrom(from!, port))!;
      socket.end(`<13>1 - h app - - - ${text}\n`);
      await new Promise((resolve) => socket.once("close", resolve));
    }
    const v6tcp = await Deno.connect({ hostname: "::1", port });
    await writeAll(v6tcp, "<13>1 - h app - - - tcp over IPv6\n");
    v6tcp.close();
    // TLS: a refused source is closed before any handshake.
    const handshake = async (localAddress: string) => {
      const raw = await connectFrom(localAddress, tls);
      if (raw === undefined) return false;
      return await new Promise<boolean>((resolve) => {
        // What is tested is the source, not the relay's name.
        const socket = connectTls({ socket: raw, ca, rejectUnauthorized: false });
        socket.once("secureConnect", () => {
          socket.end("<13>1 - h app - - - tls allowed\n");
          resolve(true);
        });
        socket.once("error", () => resolve(false));
        socket.once("close", () => resolve(false));
      });
    };
    assertEquals(await handshake("127.0.0.1"), true);
    assertEquals(await handshake("127.0.0.9"), false);
    const expected = ["tcp allowed", "tcp over IPv6", "tls allowed", "udp allowed", "udp over IPv6"];
    await eventually("the allowed messages", async () => (await readOutputDir(`${dir}/out`)).length >= 5);
    await sleep(500);
    const events = await readOutputDir(`${dir}/out`);
    assertEquals(events.map((e) => e.message.replace("<13>1 - h app - - - ", "")).sort(), expected);
    assertEquals(events.find((e) => e.message.endsWith("tcp over IPv6"))?.logStream, "::1");
    assertEquals(await scrape(metricsPort, "kinesyslog_messages_dropped_total", { reason: "not_allowed" }), 1);
    assertEquals(await scrape(metricsPort, "kinesyslog_connections_refused_total", { reason: "not_allowed" }), 2);
    assertEquals(await scrape(metricsPort, "kinesyslog_tls_handshake_failures_total"), 0);
    // The metrics port is on its own address.
    await Deno.connect({ hostname: "::1", port: metricsPort }).then(
      (c) => {
        c.close();
        throw new Error("the metrics port answered on ::1, not only on --metrics-address");
      },
      () => {},
    );
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--client-allow: only a dNSName (or a CN without one) proves a name; URI, email and CN beside a dNSName do not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const { cert, key, ca } = await makeCertificate(dir);
  const clients = {
    dns: await makeClientCertificate(dir, "dns", { cn: "x", san: ["DNS.1 = router1.example.net"] }),
    wildcard: await makeClientCertificate(dir, "wild", { cn: "x", san: ["DNS.1 = a.routers.example.net"] }),
    cnOnly: await makeClientCertificate(dir, "cn", { cn: "router1.example.net", san: [] }),
    cnBesideDns: await makeClientCertificate(dir, "cndns", {
      cn: "router1.example.net",
      san: ["DNS.1 = other.example.org"],
    }),
    uri: await makeClientCertificate(dir, "uri", { cn: "x", san: ["URI.1 = http://x/, DNS:router1.example.net"] }),
    email: await makeClientCertificate(dir, "email", { cn: "x", san: ["email.1 = router1.example.net"] }),
    emailUnder: await makeClientCertificate(dir, "email2", {
      cn: "x",
      san: ["email.1 = alice@mail.routers.example.net"],
    }),
    spiffe: await makeClientCertificate(dir, "spiffe", { cn: "x", san: ["URI.1 = spiffe://a.routers.example.net"] }),
  };
  const [tls, metricsPort] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--tls-port", String(tls), "--cert", cert, "--key", key, "--client-ca", `${dir}/ca.crt`],
    ...["--client-allow", "router1.example.net", "--client-allow", "*.routers.example.net"],
    ...["--prometheus-port", String(metricsPort), "--flush-interval", "0.3"],
  ]);
  try {
    for (const [name, client] of Object.entries(clients)) {
      try {
        const conn = await Deno.connectTls({
          hostname: "127.0.0.1",
          port: tls,
          caCerts: [ca],
          cert: client.cert,
          key: client.key,
        });
        await conn.handshake();
        await writeAll(conn, `<13>1 - h app - - - from ${name}\n`);
        await sleep(200);
        conn.close();
      } catch { /* refused */ }
    }
    await eventually("the refusals counted", async () => {
      return await scrape(metricsPort, "kinesyslog_connections_refused_total", { reason: "client_not_allowed" }) === 5;
    });
    await sleep(500);
    const from = (await readOutputDir(`${dir}/out`)).map((e) => e.message.replace("<13>1 - h app - - - from ", ""));
    assertEquals(from.sort(), ["cnOnly", "dns", "wildcard"]);
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
