/**
 * The AWS setups companies run, end to end against the tests' local endpoint with the real
 * SDK: roles assumed per sink through STS `AssumeRole` (the endpoint stands in for STS and
 * checks the call), an HTTPS proxy on purpose (a real tinyproxy), and FIPS endpoints.
 */
import { assert, assertEquals } from "./assert.ts";
import { FirehoseEndpoint } from "./firehose_endpoint.ts";
import { awsTestEnv, eventually, freePort, makeCertificate, RelayProcess, sendTcp } from "./harness.ts";

const ROLE_A = "arn:aws:iam::210987654321:role/central-logging";
const ROLE_B = "arn:aws:iam::210987654321:role/security-logging";

/** Runs `body` with a temporary directory and an endpoint of the delivery streams `streams`. */
async function withEndpoint(
  streams: string[],
  body: (dir: string, endpoint: FirehoseEndpoint) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-aws-" });
  const endpoint = new FirehoseEndpoint(streams).start();
  try {
    await body(dir, endpoint);
  } finally {
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The access key ids that signed the records `stream` accepted. */
function callers(endpoint: FirehoseEndpoint, stream: string): Set<string> {
  return new Set(endpoint.accepted.filter((a) => a.stream === stream).map((a) => a.caller));
}

Deno.test("--role-arn: records are delivered as the role, assumed with its external id and session name, renewed before expiry", () =>
  withEndpoint(["logs"], async (dir, endpoint) => {
    endpoint.roles.set(ROLE_A, { externalId: "ext-4711" });
    // The SDK renews credentials 5 minutes before they expire: these are due 2 s after each AssumeRole.
    endpoint.roleLifetimeMs = 302_000;
    const tcp = freePort();
    const relay = await RelayProcess.start([
      "listen",
      ...["--stream", "logs", "--endpoint-url", endpoint.url, "--spool-dir", `${dir}/spool`],
      ...["--address", "127.0.0.1", "--tcp-port", String(tcp), "--tls-port", "0", "--flush-interval", "0.5"],
      ...["--role-arn", ROLE_A, "--external-id", "ext-4711", "--role-session-name", "relay-7"],
    ], { dirs: [dir], env: awsTestEnv(endpoint.url) });
    try {
      await sendTcp(tcp, "<13>1 - host app - - - first\n");
      await eventually("the first record", () => endpoint.accepted.length >= 1);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await sendTcp(tcp, "<13>1 - host app - - - second\n");
      await eventually("the second record", () => endpoint.accepted.length >= 2);
      assert(endpoint.assumed.length >= 2, `assumed ${endpoint.assumed.length} time(s): not renewed`);
      for (const call of endpoint.assumed) {
        assertEquals([call.arn, call.externalId, call.sessionName, call.caller], [
          ROLE_A,
          "ext-4711",
          "relay-7",
          "AKIDTEST",
        ]);
      }
      const keys = new Set(endpoint.assumed.map((a) => a.key));
      const used = callers(endpoint, "logs");
      assert([...used].every((k) => keys.has(k)), `calls signed with ${[...used]}, not only the role's`);
      assert(used.size >= 2, "the renewed credentials sign the later calls");
    } finally {
      assertEquals(await relay.stop(), 0);
    }
  }));

Deno.test("roles per sink in the file: each stream's records are delivered as its sink's role; a role that cannot be assumed is reported", () =>
  withEndpoint(["apps", "security", "own"], async (dir, endpoint) => {
    endpoint.roles.set(ROLE_A, {});
    endpoint.roles.set(ROLE_B, { externalId: "sec-1" });
    const tcp = freePort();
    const config = `${dir}/kinesyslog.yaml`;
    const file = (securityId: string) =>
      [
        `sources: [{ transport: tcp, port: ${tcp} }]`,
        "sinks:",
        `  apps: { streams: [apps], role_arn: "${ROLE_A}" }`,
        `  security: { streams: [security], role_arn: "${ROLE_B}", external_id: ${securityId} }`,
        "  own: { streams: [own] }",
        "routes: [{ name: all, match: {}, sinks: [apps, security, own] }]",
      ].join("\n");
    await Deno.writeTextFile(config, file("sec-1"));
    const args = [
      ...["listen", "--config", config, "--endpoint-url", endpoint.url, "--spool-dir", `${dir}/spool`],
      ...["--address", "127.0.0.1", "--flush-interval", "0.5"],
    ];
    let relay = await RelayProcess.start(args, { dirs: [dir], env: awsTestEnv(endpoint.url) });
    try {
      await sendTcp(tcp, "<13>1 - host app - - - to all three\n");
      await eventually(
        "a record in each stream",
        () => ["apps", "security", "own"].every((s) => callers(endpoint, s).size > 0),
      );
      const keyOf = (arn: string) => new Set(endpoint.assumed.filter((a) => a.arn === arn).map((a) => a.key));
      assertEquals([...callers(endpoint, "apps")].every((k) => keyOf(ROLE_A).has(k)), true);
      assertEquals([...callers(endpoint, "security")].every((k) => keyOf(ROLE_B).has(k)), true);
      assertEquals([...callers(endpoint, "own")], ["AKIDTEST"]);
      assertEquals(await relay.stop(), 0);

      // The security role's trust policy asks for another external id: the relay says which role.
      await Deno.writeTextFile(config, file("wrong-id"));
      relay = await RelayProcess.start(args, { dirs: [dir], env: awsTestEnv(endpoint.url) });
      const said = await relay.waitFor(/No AWS credentials/);
      assert(said.includes(`role ${ROLE_B}`) && said.includes("AccessDenied"), said);
    } finally {
      await relay.stop();
    }
  }));

/** tinyproxy (Debian's package; `.ci/run` installs it), when installed. */
const TINYPROXY = ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});
if (TINYPROXY === undefined) console.error("SKIP the HTTPS proxy tests: install tinyproxy (.ci/run does) to run them");

/** A real tinyproxy on loopback, logging each request it is asked for. */
class Tinyproxy {
  private constructor(readonly port: number, readonly logFile: string, readonly child: Deno.ChildProcess) {}

  /**
   * Starts tinyproxy in the foreground; `connectPorts` are the only ports it tunnels to (any
   * when not given); with `deadEnd` it forwards everything to a closed loopback port, so a
   * request for a host of the internet is logged and goes nowhere (not even to DNS).
   */
  static async start(dir: string, connectPorts: number[] = [], deadEnd = false): Promise<Tinyproxy> {
    const port = freePort();
    const logFile = `${dir}/tinyproxy-${port}.log`;
    const conf = `${dir}/tinyproxy-${port}.conf`;
    await Deno.writeTextFile(
      conf,
      [
        `Port ${port}`,
        "Listen 127.0.0.1",
        "Timeout 30",
        `LogFile "${logFile}"`,
        "LogLevel Info",
        "MaxClients 50",
        ...connectPorts.map((p) => `ConnectPort ${p}`),
        ...(deadEnd ? [`Upstream http 127.0.0.1:${freePort()}`] : []),
      ].join("\n") + "\n",
    );
    const child = new Deno.Command(TINYPROXY!, { args: ["-d", "-c", conf], stdout: "null", stderr: "null" }).spawn();
    const proxy = new Tinyproxy(port, logFile, child);
    await eventually("tinyproxy listening", async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return true;
      } catch {
        return false;
      }
    }, 10_000);
    return proxy;
  }

  /** The URL for `HTTPS_PROXY`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The CONNECT requests it was asked for so far (`host:port`). */
  connects(): string[] {
    let log = "";
    try {
      log = Deno.readTextFileSync(this.logFile);
    } catch { /* nothing logged yet */ }
    return [...log.matchAll(/CONNECT (\S+) HTTP/g)].map((m) => m[1]!);
  }

  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* gone */ }
    await this.child.status;
  }
}

/** Runs `body` with an endpoint over HTTPS (a test CA's certificate, which the relay trusts through NODE_EXTRA_CA_CERTS). */
async function withHttpsEndpoint(
  body: (dir: string, endpoint: FirehoseEndpoint, env: Record<string, string>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-proxy-" });
  const { cert, key } = await makeCertificate(dir);
  const endpoint = new FirehoseEndpoint(["logs"]).start({
    tls: { cert: await Deno.readTextFile(cert), key: await Deno.readTextFile(key) },
  });
  try {
    await body(dir, endpoint, { ...awsTestEnv(endpoint.url), NODE_EXTRA_CA_CERTS: `${dir}/ca.crt` });
  } finally {
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Starts a relay delivering to `endpoint`'s stream `logs` with `env` and `args`; sends one message and waits for it. */
async function deliverOne(dir: string, endpoint: FirehoseEndpoint, env: Record<string, string>, args: string[] = []) {
  const tcp = freePort();
  const relay = await RelayProcess.start([
    "listen",
    ...["--stream", "logs", "--endpoint-url", endpoint.url, "--spool-dir", `${dir}/spool`],
    ...["--address", "127.0.0.1", "--tcp-port", String(tcp), "--tls-port", "0", "--flush-interval", "0.5"],
    ...args,
  ], { dirs: [dir], env });
  const before = endpoint.accepted.length;
  await sendTcp(tcp, "<13>1 - host app - - - through\n");
  try {
    await eventually("the record", () => endpoint.accepted.length > before, 20_000);
  } catch (error) {
    await relay.stop();
    throw new Error(`${(error as Error).message}:\n${relay.lines.join("\n")}`);
  }
  assertEquals(await relay.stop(), 0);
  return relay;
}

Deno.test({
  name:
    "HTTPS_PROXY (a real tinyproxy): every AWS call is tunnelled through it and the start says so; NO_PROXY and --noproxy bypass it; --https-proxy overrides the variable",
  ignore: TINYPROXY === undefined,
  fn: () =>
    withHttpsEndpoint(async (dir, endpoint, env) => {
      const proxy = await Tinyproxy.start(dir);
      const other = await Tinyproxy.start(dir);
      const target = new URL(endpoint.url).host;
      try {
        // The variable: the stream check, the account lookup and the deliveries all go through it.
        let relay = await deliverOne(dir, endpoint, { ...env, HTTPS_PROXY: proxy.url });
        const said = relay.lines.find((l) => l.includes("AWS calls go through an HTTPS proxy"));
        assert(said?.includes(proxy.url) && said.includes("from=HTTPS_PROXY"), relay.lines.join("\n"));
        const tunnelled = proxy.connects().filter((c) => c === target).length;
        assert(tunnelled >= 1, `tinyproxy saw ${proxy.connects()}`);
        assert(endpoint.describes.length > 0, "the stream was checked");

        // NO_PROXY names the endpoint's host: nothing more through the proxy.
        await deliverOne(dir, endpoint, { ...env, HTTPS_PROXY: proxy.url, NO_PROXY: "127.0.0.1" });
        assertEquals(proxy.connects().filter((c) => c === target).length, tunnelled, "NO_PROXY bypasses the proxy");
        await deliverOne(dir, endpoint, { ...env, HTTPS_PROXY: proxy.url }, ["--noproxy", "127.0.0.1"]);
        assertEquals(proxy.connects().filter((c) => c === target).length, tunnelled, "--noproxy bypasses the proxy");

        // The flag wins over the variable.
        relay = await deliverOne(dir, endpoint, { ...env, HTTPS_PROXY: proxy.url }, ["--https-proxy", other.url]);
        assert(relay.lines.some((l) => l.includes("from=--https-proxy")), relay.lines.join("\n"));
        assert(other.connects().includes(target), `the flag's proxy saw ${other.connects()}`);
        assertEquals(proxy.connects().filter((c) => c === target).length, tunnelled, "the variable's proxy unused");
      } finally {
        await proxy.stop();
        await other.stop();
      }
    }),
});

Deno.test({
  name: "a proxy that refuses to tunnel: the start and every failed call say so, and the records wait in the spool",
  ignore: TINYPROXY === undefined,
  fn: () =>
    withHttpsEndpoint(async (dir, endpoint, env) => {
      // It tunnels only to port 443: the endpoint's port is refused with 403.
      const proxy = await Tinyproxy.start(dir, [443]);
      const tcp = freePort();
      const relay = await RelayProcess.start([
        "listen",
        ...["--stream", "logs", "--endpoint-url", endpoint.url, "--spool-dir", `${dir}/spool`],
        ...["--address", "127.0.0.1", "--tcp-port", String(tcp), "--tls-port", "0", "--flush-interval", "0.5"],
      ], { dirs: [dir], env: { ...env, HTTPS_PROXY: proxy.url } });
      try {
        await sendTcp(tcp, "<13>1 - host app - - - refused\n");
        const failed = await relay.waitFor(/PutRecordBatch failed/);
        assert(failed.includes("ProxyRefused") && failed.includes("refused to tunnel"), failed);
        const check = relay.lines.find((l) => l.includes("Cannot check the delivery stream now"));
        assert(check?.includes("ProxyRefused"), relay.lines.join("\n"));
        assertEquals(endpoint.accepted.length, 0);
      } finally {
        await relay.stop();
        await proxy.stop();
      }
    }),
});

Deno.test({
  name:
    "--use-fips-endpoint (and --use-dualstack-endpoint): the calls go to the services' FIPS hosts; a region without them stops the start",
  ignore: TINYPROXY === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "kinesyslog-fips-" });
    // The proxy logs which host each call asks for and sends it nowhere: no AWS is reachable here.
    const proxy = await Tinyproxy.start(dir, [], true);
    const env = { ...awsTestEnv(), HTTPS_PROXY: proxy.url };
    const base = ["listen", "--spool-dir", `${dir}/spool`, "--address", "127.0.0.1", "--tls-port", "0"];
    try {
      for (
        const [args, hosts] of [
          [["--stream", "logs", "--region", "us-east-1", "--use-fips-endpoint"], [
            "firehose-fips.us-east-1.amazonaws.com:443",
            "sts-fips.us-east-1.amazonaws.com:443",
          ]],
          [["--kinesis-stream", "logs", "--region", "us-west-2", "--use-fips-endpoint", "--use-dualstack-endpoint"], [
            "kinesis-fips.us-west-2.api.aws:443",
          ]],
          [["--stream", "logs", "--region", "us-east-1"], ["firehose.us-east-1.amazonaws.com:443"]],
        ] as const
      ) {
        const relay = await RelayProcess.start([...base, ...args, "--tcp-port", String(freePort())], {
          dirs: [dir],
          env,
        });
        try {
          await eventually(
            `${hosts.join(", ")} asked for`,
            () => hosts.every((h) => proxy.connects().includes(h)),
            20_000,
          );
        } finally {
          await relay.stop();
        }
      }
      const refused = RelayProcess.spawn(
        [...base, "--stream", "logs", "--region", "eu-west-1", "--use-fips-endpoint", "--tcp-port", String(freePort())],
        {
          dirs: [dir],
          env,
        },
      );
      assertEquals(await refused.exited(), 1);
      assert(
        refused.lines.some((l) => l.includes("no FIPS endpoint in eu-west-1") && l.includes("--use-fips-endpoint")),
        refused.lines.join("\n"),
      );
    } finally {
      await proxy.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
