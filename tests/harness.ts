/**
 * End-to-end test helpers: run `main.ts` as a subprocess with the permissions the README
 * documents, find free loopback ports, send over real sockets, read delivered records.
 *
 * @module
 */
import { decodeRecord, type DeliveredEvent, recordObjects } from "./firehose_endpoint.ts";
import type { DecodedEvent } from "../src/decode/record_events.ts";
import { fetchMetrics, sumOf } from "./prometheus.ts";
import { LIBC_PATHS } from "../src/listen/socket_options.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** Under `deno run`, Deno checks read access to the worker's modules (not in a compiled binary). */
const SOURCES = new URL("../src", import.meta.url).pathname;
const enc = new TextEncoder();

/**
 * The V8 flags the compiled binary embeds (the `compile` task's `--v8-flags`), so that the
 * relay under test runs with the same heap settings.
 */
export const RELAY_V8_FLAGS: string[] = (() => {
  const config = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));
  const flags = /--v8-flags=(\S+)/.exec(config.tasks.compile)?.[1];
  return flags === undefined ? [] : [`--v8-flags=${flags}`];
})();

/** The Deno permissions the relay runs with (README: "Permissions"), for a given spool and output. */
export function relayPermissions(dirs: string[]): string[] {
  return [
    "--allow-net",
    "--allow-env",
    "--allow-sys",
    `--allow-read=${[SOURCES, ...dirs].join(",")}`,
    `--allow-write=${dirs.join(",")}`,
    `--allow-ffi=${LIBC_PATHS.join(",")}`,
  ];
}

/** Options of a relay subprocess: the directories it may use, its environment, other permissions. */
export interface RelaySpawnOptions {
  dirs: string[];
  env?: Record<string, string>;
  /** Instead of {@linkcode relayPermissions}. */
  permissions?: string[];
  /**
   * A program that runs the relay: given Deno's command line after its own arguments, it must
   * exec it, so that the relay keeps its pid (`["env", "FAKETIME=...", "LD_PRELOAD=..."]`).
   */
  wrap?: string[];
}

/** Fake credentials and region, and no instance metadata: nothing leaves the machine. */
export function awsTestEnv(endpoint?: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: "AKIDTEST",
    AWS_SECRET_ACCESS_KEY: "secret",
    AWS_REGION: "us-east-1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: "/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
    ...(endpoint === undefined ? {} : { AWS_ENDPOINT_URL_STS: endpoint }),
  };
}

/** A relay subprocess. */
export class RelayProcess {
  /** Every stderr line so far. */
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  readonly #stderrDone: Promise<void>;
  /** The exit status, once exited. */
  readonly status: Promise<Deno.CommandStatus>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.status = child.status;
    this.#stderrDone = (async () => {
      const lines = child.stderr.pipeThrough(new TextDecoderStream());
      let carry = "";
      for await (const text of lines) {
        const parts = (carry + text).split("\n");
        carry = parts.pop()!;
        for (const line of parts) this.#line(line);
      }
      if (carry !== "") this.#line(carry);
    })();
  }

  /** Runs `main.ts` with `args` (and the environment `env` added). */
  static spawn(args: string[], options: RelaySpawnOptions): RelayProcess {
    const permissions = options.permissions ?? relayPermissions(options.dirs);
    const deno = [Deno.execPath(), "run", ...RELAY_V8_FLAGS, ...permissions, MAIN, ...args];
    const [program, ...rest] = [...(options.wrap ?? []), ...deno];
    const child = new Deno.Command(program!, {
      args: rest,
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...options.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    void child.stdout.cancel();
    return new RelayProcess(child);
  }

  /** Starts a relay and waits for its startup line; throws with its output if it exits first. */
  static async start(args: string[], options: RelaySpawnOptions): Promise<RelayProcess> {
    const relay = RelayProcess.spawn(args, options);
    const started = relay.waitFor(/kinesyslog started/);
    const exited = relay.status.then((s) => {
      throw new Error(`relay exited with ${s.code} before starting:\n${relay.lines.join("\n")}`);
    });
    await Promise.race([started, exited]);
    exited.catch(() => {});
    return relay;
  }

  /** Resolves with the first stderr line (past or future) matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.lines.find((l) => pattern.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no line matching ${pattern}:\n${this.lines.join("\n")}`)),
        timeoutMs,
      );
      this.#waiters.push({
        pattern,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Sends a signal without waiting. */
  signal(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Sends a signal and waits for the exit; returns the exit code. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    try {
      this.#child.kill(signal);
    } catch { /* already exited */ }
    const status = await this.status;
    await this.#stderrDone;
    return status.code;
  }

  /** Waits for the exit without signalling; returns the exit code. */
  async exited(): Promise<number> {
    const status = await this.status;
    await this.#stderrDone;
    return status.code;
  }

  #line(line: string): void {
    this.lines.push(line);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!;
      if (w.pattern.test(line)) {
        this.#waiters.splice(i, 1);
        w.resolve(line);
      }
    }
  }
}

/**
 * Starts `main.ts listen` on 127.0.0.1 that delivers into `<dir>/out` and spools in
 * `<dir>/spool`; `args` adds listeners and options.
 */
export function startLocalRelay(dir: string, args: string[]): Promise<RelayProcess> {
  return RelayProcess.start(
    ["listen", "--output-dir", `${dir}/out`, "--spool-dir", `${dir}/spool`, "--address", "127.0.0.1", ...args],
    { dirs: [dir] },
  );
}

/**
 * Starts `main.ts listen` on 127.0.0.1 that delivers to the Firehose stream `logs` at
 * `endpointUrl` (with fake credentials, or `env`) and spools in `spool`; `args` adds listeners and options.
 */
export function startFirehoseRelay(
  dir: string,
  endpointUrl: string,
  spool: string,
  args: string[],
  env: Record<string, string> = awsTestEnv(endpointUrl),
): Promise<RelayProcess> {
  return RelayProcess.start(
    [
      "listen",
      "--stream",
      "logs",
      "--endpoint-url",
      endpointUrl,
      "--spool-dir",
      spool,
      "--address",
      "127.0.0.1",
      ...args,
    ],
    { dirs: [dir], env },
  );
}

/**
 * Runs `main.ts` to completion with the relay's permissions for `dirs` (or `permissions`),
 * feeding `stdin` when given; returns exit code and output.
 */
export async function runMain(
  args: string[],
  dirs: string[],
  options: { permissions?: string[]; stdin?: Uint8Array; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...RELAY_V8_FLAGS, ...(options.permissions ?? relayPermissions(dirs)), MAIN, ...args],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Where {@linkcode freePort} picks: below the kernel's ephemeral range. A port from that range
 * (what binding port 0 gives) can be taken by any outgoing connection between the pick and
 * the relay's bind, the relay's own to the test's endpoint included: CI saw a relay refuse to
 * start with its metrics port "already in use".
 */
const PICK_RANGE = (() => {
  let low = 32_768;
  try {
    low = Math.min(low, parseInt(Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range"), 10) || low);
  } catch { /* not Linux, or not readable: the usual range */ }
  return { from: Math.max(1_024, low - 12_000), to: low };
})();
/** Ports handed out by this process: none twice (a test takes several before binding any). */
const handedOut = new Set<number>();

/** A loopback port free for both TCP and UDP right now, outside the ephemeral range, new to this process. */
export function freePort(): number {
  for (;;) {
    const port = PICK_RANGE.from + Math.floor(Math.random() * (PICK_RANGE.to - PICK_RANGE.from));
    if (handedOut.has(port)) continue;
    let tcp: Deno.TcpListener;
    try {
      tcp = Deno.listen({ hostname: "127.0.0.1", port });
    } catch {
      continue;
    }
    try {
      const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
      udp.close();
      handedOut.add(port);
      return port;
    } catch {
      // taken for UDP: try another
    } finally {
      tcp.close();
    }
  }
}

/** Sends each message as one UDP datagram to 127.0.0.1. */
export async function sendUdp(port: number, messages: (string | Uint8Array)[]): Promise<void> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    for (const m of messages) {
      await socket.send(typeof m === "string" ? enc.encode(m) : m, { transport: "udp", hostname: "127.0.0.1", port });
    }
  } finally {
    socket.close();
  }
}

/** Writes all bytes on one connection and leaves it open. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array | string): Promise<void> {
  const data = typeof bytes === "string" ? enc.encode(bytes) : bytes;
  let written = 0;
  while (written < data.length) written += await conn.write(data.subarray(written));
}

/** Writes all bytes on one connection, then closes it. */
export async function sendStream(conn: Deno.Conn, bytes: Uint8Array | string): Promise<void> {
  try {
    await writeAll(conn, bytes);
  } finally {
    conn.close();
  }
}

/** Sends bytes over one TCP connection to `hostname` (127.0.0.1 unless given). */
export async function sendTcp(port: number, bytes: Uint8Array | string, hostname = "127.0.0.1"): Promise<void> {
  await sendStream(await Deno.connect({ hostname, port }), bytes);
}

/**
 * `total` RFC 5424 lines of 200 bytes, each `seq=<n>` and then pseudo-random base-36 text
 * from `seed`: they compress poorly, so they fill a spool or a disk quickly.
 */
export function noisyLines(total: number, seed: number): Uint8Array {
  const parts: string[] = [];
  let x = seed;
  for (let i = 0; i < total; i++) {
    let line = `<13>1 2026-11-24T00:00:00Z host app - - - seq=${i} `;
    while (line.length < 199) {
      x = (x * 1103515245 + 12345) % 2147483648;
      line += x.toString(36);
    }
    parts.push(line.slice(0, 199) + "\n");
  }
  return enc.encode(parts.join(""));
}

/**
 * Sends `perSecond` realistic 200-byte lines ({@linkcode noisyLines}, `seq=N`) for `seconds`
 * over two TCP connections to 127.0.0.1:`port`, paced in 100 ms steps; returns how many.
 */
export async function sendLinesAtRate(port: number, perSecond: number, seconds: number, seed = 7): Promise<number> {
  const total = perSecond * seconds;
  const bytes = noisyLines(total, seed);
  const conns = [
    await Deno.connect({ hostname: "127.0.0.1", port }),
    await Deno.connect({ hostname: "127.0.0.1", port }),
  ];
  const step = perSecond / 10 * 200; // 100 ms of lines, in bytes (every line is 200 bytes)
  const start = performance.now();
  for (let at = 0, i = 0; at < bytes.length; at += step, i++) {
    const chunk = bytes.subarray(at, Math.min(bytes.length, at + step));
    const conn = conns[i % 2]!;
    for (let w = 0; w < chunk.length;) w += await conn.write(chunk.subarray(w));
    const due = start + (i + 1) * 100;
    if (due > performance.now()) await new Promise((resolve) => setTimeout(resolve, due - performance.now()));
  }
  for (const c of conns) c.close();
  return total;
}

/** A TCP sender writing `bytes` as fast as the relay lets it, 64 KiB at a time, then closing. */
export class TcpFlood {
  /** Bytes written so far. */
  written = 0;
  /** Resolves once every byte is written and the connection closed. */
  readonly done: Promise<void>;

  private constructor(conn: Deno.Conn, readonly bytes: Uint8Array) {
    this.done = (async () => {
      while (this.written < bytes.length) {
        this.written += await conn.write(bytes.subarray(this.written, this.written + 65_536));
      }
      conn.close();
    })();
  }

  /** Connects to 127.0.0.1:`port` and starts writing. */
  static async start(port: number, bytes: Uint8Array): Promise<TcpFlood> {
    return new TcpFlood(await Deno.connect({ hostname: "127.0.0.1", port }), bytes);
  }

  /** Resolves once nothing more was written for `pollMs` (the relay holds the sender back). */
  async stalled(pollMs: number, timeoutMs = 30_000): Promise<void> {
    let before = -1;
    await eventually("the TCP sender to stall", async () => {
      const stalled = this.written === before;
      before = this.written;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      return stalled;
    }, timeoutMs);
  }
}

/** The record files of an `--output-dir`, oldest first. */
export async function readRecordFiles(dir: string): Promise<Uint8Array[]> {
  const names: string[] = [];
  for await (const item of Deno.readDir(dir)) if (item.name.endsWith(".json.gz")) names.push(item.name);
  names.sort();
  return await Promise.all(names.map((name) => Deno.readFile(`${dir}/${name}`)));
}

/** Every event in the record files of an `--output-dir`. */
export async function readOutputDir(dir: string): Promise<DeliveredEvent[]> {
  return (await readRecordFiles(dir)).flatMap(decodeRecord);
}

/** Every event in the record files of an `--output-dir`, of any record format. */
export async function readOutputObjects(dir: string): Promise<DecodedEvent[]> {
  return (await readRecordFiles(dir)).flatMap(recordObjects);
}

/** Polls `check` until it returns true, or throws after `timeoutMs` with `what`. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The sum of a metric's samples whose labels include `labels`, scraped from `/metrics` and
 * read with a Prometheus text-format parser.
 */
export async function scrape(port: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  return sumOf(await fetchMetrics(port), name, labels);
}

const NODE_CLIENTS = new URL("../.toolchain/node-clients", import.meta.url).pathname;

/**
 * Installs an npm package for the Node.js test clients (`tests/clients/*.cjs`) into the
 * git-ignored `.toolchain/node-clients`, once; returns the `NODE_PATH` to run them with.
 */
export async function nodeClientModules(name: string, version: string): Promise<string> {
  const modules = `${NODE_CLIENTS}/node_modules`;
  try {
    const installed = JSON.parse(await Deno.readTextFile(`${modules}/${name}/package.json`));
    if (installed.version === version) return modules;
  } catch { /* not installed yet */ }
  const out = await new Deno.Command("npm", {
    args: ["install", "--prefix", NODE_CLIENTS, "--no-save", "--no-audit", "--no-fund", `${name}@${version}`],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`npm install ${name}@${version} failed: ${new TextDecoder().decode(out.stderr)}`);
  return modules;
}

/** openssl arguments for a new P-256 key without a passphrase. */
const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
}

/**
 * Throwaway certificates made with openssl: a CA, and a server certificate it signed for
 * 127.0.0.1 and localhost (rustls refuses a CA certificate as a server's own). Returns the
 * paths of the server's `cert` and `key` (the CA is also at `<dir>/ca.crt`) and the CA's PEM
 * text as `ca`, for clients.
 */
export async function makeCertificate(dir: string): Promise<{ cert: string; key: string; ca: string }> {
  await makeCa(dir, "ca", "test CA");
  await openssl([
    "req",
    "-new",
    ...EC_KEY,
    "-keyout",
    `${dir}/server.key`,
    "-out",
    `${dir}/server.csr`,
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    `${dir}/server.csr`,
    "-CA",
    `${dir}/ca.crt`,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-out",
    `${dir}/server.crt`,
    "-days",
    "2",
    "-extfile",
    `${dir}/server.ext`,
  ]);
  const ca = await Deno.readTextFile(`${dir}/ca.crt`);
  return { cert: `${dir}/server.crt`, key: `${dir}/server.key`, ca };
}

/** A client certificate and key, as paths and as PEM text (for `Deno.connectTls`). */
export interface ClientCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/**
 * A throwaway client certificate for mutual TLS, signed by the CA `<dir>/<ca>.crt` (made by
 * {@linkcode makeCertificate}, or by {@linkcode makeCa}), with subject CN `name` and a DNS
 * subjectAltName `<name>.example.net`; `expired` makes one whose validity ended yesterday;
 * `cn` and `san` (lines of an openssl `[alt]` section, such as `URI.1 = spiffe://x`; none for
 * no subjectAltName) replace the subject CN and the alternative names.
 */
export async function makeClientCertificate(
  dir: string,
  name: string,
  options: { ca?: string; expired?: boolean; cn?: string; san?: string[] } = {},
): Promise<ClientCertificate> {
  const ca = options.ca ?? "ca";
  const base = `${dir}/${name}`;
  await openssl([
    "req",
    "-new",
    ...EC_KEY,
    "-keyout",
    `${base}.key`,
    "-out",
    `${base}.csr`,
    "-subj",
    `/CN=${options.cn ?? name}/O=kinesyslog tests`,
  ]);
  const san = options.san === undefined
    ? `subjectAltName=DNS:${name}.example.net\n`
    : options.san.length === 0
    ? ""
    : `subjectAltName=@alt\n[alt]\n${options.san.join("\n")}\n`;
  await Deno.writeTextFile(`${base}.ext`, `basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n${san}`);
  await openssl([
    "x509",
    "-req",
    "-in",
    `${base}.csr`,
    "-CA",
    `${dir}/${ca}.crt`,
    "-CAkey",
    `${dir}/${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${base}.crt`,
    "-days",
    options.expired ? "-1" : "2",
    "-extfile",
    `${base}.ext`,
  ]);
  return {
    certFile: `${base}.crt`,
    keyFile: `${base}.key`,
    cert: await Deno.readTextFile(`${base}.crt`),
    key: await Deno.readTextFile(`${base}.key`),
  };
}

/** A throwaway CA at `<dir>/<name>.crt` and `.key` (another one: clients the relay must not trust). */
export async function makeCa(dir: string, name: string, subject = name): Promise<void> {
  await openssl([
    "req",
    "-x509",
    ...EC_KEY,
    "-keyout",
    `${dir}/${name}.key`,
    "-out",
    `${dir}/${name}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=${subject}`,
  ]);
}

/**
 * A PEM CRL at `out`, signed by the CA `<dir>/<ca>.crt`, revoking the certificates
 * `<dir>/<name>.crt` of `revoke` (made by {@linkcode makeClientCertificate}); `openssl ca`
 * keeps its database in `<dir>/<ca>-crl/`, so a later call lists the earlier revocations too.
 */
export async function makeCrl(dir: string, revoke: string[], out: string, ca = "ca"): Promise<string> {
  const db = `${dir}/${ca}-crl`;
  await Deno.mkdir(db, { recursive: true });
  const config = `${db}/openssl.cnf`;
  try {
    await Deno.stat(config);
  } catch {
    await Deno.writeTextFile(`${db}/index.txt`, "");
    await Deno.writeTextFile(`${db}/crlnumber`, "01\n");
    await Deno.writeTextFile(
      config,
      `[ca]\ndefault_ca = d\n[d]\ndatabase = ${db}/index.txt\ncrlnumber = ${db}/crlnumber\n` +
        "default_md = sha256\ndefault_crl_days = 2\n",
    );
  }
  const signer = ["-config", config, "-cert", `${dir}/${ca}.crt`, "-keyfile", `${dir}/${ca}.key`];
  for (const name of revoke) await openssl(["ca", ...signer, "-revoke", `${dir}/${name}.crt`]);
  await openssl(["ca", ...signer, "-gencrl", "-out", out]);
  return out;
}

/**
 * Connects over TLS (with a client certificate when given), sends `text` and closes. Resolves
 * to whether the handshake and the write went through on the client's side.
 */
export async function tlsClient(port: number, ca: string, text: string, client?: ClientCertificate): Promise<boolean> {
  let conn: Deno.TlsConn | undefined;
  try {
    conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts: [ca],
      ...(client && { cert: client.cert, key: client.key }),
    });
    await conn.handshake();
    await writeAll(conn, text);
    // Let the relay judge the client and read before the close.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return true;
  } catch {
    return false;
  } finally {
    try {
      conn?.close();
    } catch { /* closed by the relay */ }
  }
}

/** Makes a directory unwritable, even for root (where permission bits do not apply). */
export async function makeUnwritable(dir: string, unwritable: boolean): Promise<boolean> {
  if (Deno.uid() !== 0) {
    await Deno.chmod(dir, unwritable ? 0o555 : 0o755);
    return true;
  }
  const chattr = await new Deno.Command("chattr", { args: [unwritable ? "+i" : "-i", dir], stderr: "null" })
    .output().catch(() => undefined);
  return chattr?.success === true;
}
