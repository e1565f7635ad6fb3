/**
 * The deployments in `contrib/`. The Kubernetes base (`contrib/kubernetes/`, a Kustomize base:
 * StatefulSet with a volume claim per pod, NLB Services, a PodDisruptionBudget): every
 * manifest is valid against the Kubernetes API schema (npm `kubernetes-models`, which
 * validates each object with the schema of its kind and version), the kustomization names
 * every file, the relay's configuration in the ConfigMap passes `check-config`, and the pods
 * open the ports that configuration listens on. The compose fleet (`contrib/compose/`): its
 * relays' settings are options the relay knows, the balancer sends to their ports, and a
 * relay set up as the file sets it delivers to the local Firehose stand-in it runs
 * (`scripts/local_firehose.ts`), which reports the relay's bytes. Docker itself is not run.
 */
import { parse, parseAllDocuments } from "yaml";
import { assert, assertEquals } from "./assert.ts";
import { freePort, RelayProcess, runMain, writeAll } from "./harness.ts";
import { LISTEN_OPTIONS } from "../src/config/listen_options.ts";
import { buildProxyV2 } from "../src/framing/proxy_header.ts";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";

const BASE = new URL("../contrib/kubernetes/", import.meta.url).pathname;

/** The schema's model of each kind the base uses, by `apiVersion/kind`. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "apps/v1/StatefulSet": StatefulSet,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  // deno-lint-ignore no-explicit-any
  [key: string]: any;
}

/** Every object of the base's files, with the file it came from. */
function manifests(): { file: string; object: Manifest }[] {
  const kustomization = parse(Deno.readTextFileSync(`${BASE}kustomization.yaml`)) as { resources: string[] };
  return kustomization.resources.flatMap((file) =>
    parseAllDocuments(Deno.readTextFileSync(`${BASE}${file}`)).map((d) => ({ file, object: d.toJS() as Manifest }))
  );
}

/** Throws what the schema says is wrong with `object`. */
function validate(object: Manifest): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (Model === undefined) throw new Error(`no schema model for ${object.apiVersion} ${object.kind}`);
  new Model(object as never).validate();
}

Deno.test("every manifest of contrib/kubernetes is valid against the Kubernetes schema", () => {
  const all = manifests();
  const files = [...Deno.readDirSync(BASE)].map((e) => e.name).filter((n) => n !== "kustomization.yaml").sort();
  assertEquals([...new Set(all.map((m) => m.file))].sort(), files, "the kustomization names every file");
  for (const { file, object } of all) {
    try {
      validate(object);
    } catch (error) {
      throw new Error(`${file}: ${object.kind} ${object.metadata.name}: ${(error as Error).message}`);
    }
  }
  // The validator does reject what the schema forbids.
  const statefulSet = structuredClone(all.find((m) => m.object.kind === "StatefulSet")!.object);
  statefulSet.spec.template.spec.containers[0].ports[0].containerPort = "5514/udp";
  let refused = "";
  try {
    validate(statefulSet);
  } catch (error) {
    refused = (error as Error).message;
  }
  assert(/containerPort must be integer/.test(refused), refused);
});

Deno.test("the relay's configuration in the ConfigMap passes check-config, and the pods open its ports", async () => {
  const all = manifests().map((m) => m.object);
  const configMap = all.find((o) => o.kind === "ConfigMap")!;
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-k8s-" });
  try {
    const file = `${dir}/kinesyslog.yaml`;
    await Deno.writeTextFile(file, configMap.data["kinesyslog.yaml"]);
    const result = await runMain(["check-config", file], [dir]);
    assertEquals(result.code, 0, result.stderr);
    const config = parse(configMap.data["kinesyslog.yaml"]) as {
      sources: { transport: string; port: number }[];
      metrics: { ports: number[] };
    };
    const container = all.find((o) => o.kind === "StatefulSet")!.spec.template.spec.containers[0];
    const opened = new Set(
      container.ports.map((p: { containerPort: number; protocol: string }) =>
        `${p.protocol.toLowerCase()}/${p.containerPort}`
      ),
    );
    for (const s of config.sources) {
      assert(opened.has(`${s.transport === "udp" ? "udp" : "tcp"}/${s.port}`), `${s.transport} ${s.port} opened`);
    }
    const metrics = container.ports.find((p: { name: string }) => p.name === "metrics").containerPort;
    assertEquals(metrics, config.metrics.ports[0]);
    assertEquals(container.readinessProbe.httpGet.path, "/ready");
    assertEquals(container.args, ["listen", "--config", `/etc/kinesyslog/kinesyslog.yaml`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const COMPOSE = new URL("../contrib/compose/", import.meta.url).pathname;

Deno.test("the compose fleet's relays are set up with options the relay knows, behind a balancer that reaches them", () => {
  const compose = parse(Deno.readTextFileSync(`${COMPOSE}compose.yaml`), { merge: true }) as {
    services: Record<string, { build?: { context: string; dockerfile: string }; environment?: Record<string, string> }>;
  };
  const known = new Set(LISTEN_OPTIONS.map((o) => `KINESYSLOG_${o.name.toUpperCase().replaceAll("-", "_")}`));
  const relays = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
  assertEquals(relays.map(([name]) => name), ["relay-a", "relay-b"]);
  const haproxy = Deno.readTextFileSync(`${COMPOSE}haproxy.cfg`);
  for (const [name, service] of relays) {
    const env = service.environment!;
    for (const variable of Object.keys(env).filter((v) => v.startsWith("KINESYSLOG_"))) {
      assert(known.has(variable), `${name}: ${variable} is an option`);
    }
    assert(Deno.statSync(`${COMPOSE}${service.build!.context}/${service.build!.dockerfile}`).isFile);
    const server = new RegExp(`server ${name} ${name}:(\\d+) send-proxy-v2 check port (\\d+)`).exec(haproxy);
    assert(server !== null, `the balancer sends to ${name}`);
    assertEquals(server[1], env.KINESYSLOG_TCP_PORT);
    assertEquals(env.KINESYSLOG_PROXY_PROTOCOL, env.KINESYSLOG_TCP_PORT, "the balancer's PROXY headers are read");
    assertEquals(server[2], env.KINESYSLOG_PROMETHEUS_PORT, "the health check asks the metrics port");
  }
});

Deno.test("a relay set up as the compose file sets it delivers to scripts/local_firehose.ts, which reports it", async () => {
  const compose = parse(Deno.readTextFileSync(`${COMPOSE}compose.yaml`), { merge: true }) as {
    services: Record<string, { environment: Record<string, string> }>;
  };
  const [endpointPort, tcp, metrics] = [freePort(), freePort(), freePort()];
  const script = new URL("../scripts/local_firehose.ts", import.meta.url).pathname;
  const endpoint = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", script, "--port", String(endpointPort)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  const reading = (async () => {
    for await (const text of endpoint.stdout.pipeThrough(new TextDecoderStream())) lines.push(...text.split("\n"));
  })();
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-compose-" });
  const url = `http://127.0.0.1:${endpointPort}`;
  // The file's settings, with this machine's ports and addresses in place of the containers'.
  const env = {
    ...compose.services["relay-a"]!.environment,
    KINESYSLOG_ENDPOINT_URL: url,
    AWS_ENDPOINT_URL_STS: url,
    KINESYSLOG_TCP_PORT: String(tcp),
    KINESYSLOG_PROXY_PROTOCOL: String(tcp),
    KINESYSLOG_PROMETHEUS_PORT: String(metrics),
    KINESYSLOG_SPOOL_DIR: `${dir}/spool`,
    KINESYSLOG_ADDRESS: "127.0.0.1",
    AWS_CONFIG_FILE: "/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
  };
  try {
    await waitFor(lines, /local Firehose: stream logs, quota 1 MiB\/s/);
    const relay = await RelayProcess.start(["listen"], { dirs: [dir], env });
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
      const header = buildProxyV2({ address: "192.0.2.7", port: 40000 }, { address: "10.0.0.1", port: 514 });
      await writeAll(conn, header);
      await writeAll(conn, "<13>1 2026-12-07T00:00:00Z host app - - - through the balancer\n");
      conn.close();
      // Flushed at the default interval, delivered, and reported under the relay's access key.
      await waitFor(lines, /MiB\/s accepted \(relay-a \d/, 30_000);
    } finally {
      await relay.stop();
    }
  } finally {
    endpoint.kill();
    await endpoint.status;
    await reading;
    await Deno.remove(dir, { recursive: true });
  }
});

/** Waits until one of `lines` matches `pattern`. */
async function waitFor(lines: string[], pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!lines.some((l) => pattern.test(l))) {
    if (Date.now() > deadline) throw new Error(`no line matching ${pattern}:\n${lines.join("\n")}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
