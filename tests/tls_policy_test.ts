/**
 * End-to-end tests of the TLS policy through `main.ts` as a subprocess: revocation lists
 * (`--client-crl`, reloaded on SIGHUP), the oldest TLS version (`--tls-min-version`) and the
 * suites allowed (`--tls-ciphers`), with Deno's TLS client and `openssl s_client` as clients.
 */
import { assert, assertEquals } from "./assert.ts";
import {
  type ClientCertificate,
  eventually,
  freePort,
  makeCertificate,
  makeClientCertificate,
  makeCrl,
  readOutputDir,
  scrape,
  startLocalRelay,
  tlsClient,
} from "./harness.ts";

/** Sends `text` with `openssl s_client` and `flags` (`-tls1_2`, `-cipher ...`); whether the handshake finished. */
async function opensslClient(port: number, client: ClientCertificate, flags: string[], text: string): Promise<boolean> {
  const child = new Deno.Command("openssl", {
    args: ["s_client", "-connect", `127.0.0.1:${port}`, "-cert", client.certFile, "-key", client.keyFile, ...flags],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await writer.close().catch(() => {});
  const out = await child.output();
  return /New, TLSv1\.[23]/.test(new TextDecoder().decode(out.stdout));
}

Deno.test("--client-crl: a revoked client certificate is refused and counted, a new list takes effect on SIGHUP", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-tls-" });
  const { cert, key, ca } = await makeCertificate(dir);
  const router1 = await makeClientCertificate(dir, "router1");
  const router2 = await makeClientCertificate(dir, "router2");
  const crl = await makeCrl(dir, ["router2"], `${dir}/clients.crl`);
  const [tls, metricsPort] = [freePort(), freePort()];
  const relay = await startLocalRelay(dir, [
    ...["--tls-port", String(tls), "--cert", cert, "--key", key, "--client-ca", `${dir}/ca.crt`],
    ...["--client-crl", crl, "--flush-interval", "0.3", "--prometheus-port", String(metricsPort)],
  ]);
  try {
    const revoked = () => scrape(metricsPort, "kinesyslog_connections_refused_total", { reason: "revoked" });
    assertEquals(await revoked(), 0);
    await tlsClient(tls, ca, "<13>1 - h app - - - from router1\n", router1);
    await tlsClient(tls, ca, "<13>1 - h app - - - from revoked router2\n", router2);
    await eventually("the revoked client counted", async () => await revoked() === 1);
    await eventually("router1's message", async () => (await readOutputDir(`${dir}/out`)).length === 1);
    assert(/reason=revoked .*client="CN=router2/.test(relay.lines.join("\n")), relay.lines.join("\n"));
    // The CA revokes router1 too; the relay reads the new list on SIGHUP, without a restart.
    await makeCrl(dir, ["router1"], crl);
    relay.signal("SIGHUP");
    await relay.waitFor(/TLS certificates reloaded/);
    await tlsClient(tls, ca, "<13>1 - h app - - - from router1, now revoked\n", router1);
    await eventually("router1 refused after the reload", async () => await revoked() === 2);
    assertEquals((await readOutputDir(`${dir}/out`)).map((e) => e.message), ["<13>1 - h app - - - from router1"]);
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TLS versions and suites: TLS 1.1 refused, a suite outside --tls-ciphers refused and counted, 1.2 refused at --tls-min-version 1.3", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-tls-" });
  const { cert, key } = await makeCertificate(dir);
  const client = await makeClientCertificate(dir, "router1");
  const [tls, metricsPort] = [freePort(), freePort()];
  const base = ["--tls-port", String(tls), "--cert", cert, "--key", key, "--client-ca", `${dir}/ca.crt`];
  const relay = await startLocalRelay(dir, [
    ...base,
    ...["--tls-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256", "--flush-interval", "0.3"],
    ...["--prometheus-port", String(metricsPort)],
  ]);
  try {
    assert(!await opensslClient(tls, client, ["-tls1_1"], "<13>1 - h app - - - over TLS 1.1\n"));
    const suite = (name: string) => ["-tls1_2", "-cipher", name];
    assert(await opensslClient(tls, client, suite("ECDHE-ECDSA-AES256-GCM-SHA384"), "<13>1 - h app - - - AES256\n"));
    assert(await opensslClient(tls, client, suite("ECDHE-ECDSA-AES128-GCM-SHA256"), "<13>1 - h app - - - AES128\n"));
    await eventually(
      "the suite refused",
      async () =>
        await scrape(metricsPort, "kinesyslog_connections_refused_total", { reason: "cipher_not_allowed" }) === 1,
    );
    assert(await scrape(metricsPort, "kinesyslog_tls_handshake_failures_total") >= 1, "TLS 1.1 counted");
    await eventually("the allowed suite's message", async () => (await readOutputDir(`${dir}/out`)).length === 1);
    assertEquals((await readOutputDir(`${dir}/out`))[0]!.message, "<13>1 - h app - - - AES128");
  } finally {
    assertEquals(await relay.stop(), 0);
  }
  const strict = await startLocalRelay(dir, [...base, "--tls-min-version", "1.3"]);
  try {
    assert(!await opensslClient(tls, client, ["-tls1_2"], "<13>1 - h app - - - over TLS 1.2\n"));
    assert(await opensslClient(tls, client, ["-tls1_3"], "<13>1 - h app - - - over TLS 1.3\n"));
  } finally {
    assertEquals(await strict.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});
