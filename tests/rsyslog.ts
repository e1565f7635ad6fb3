/**
 * Real rsyslogd for the tests. {@linkcode RsyslogRelp} is a RELP client: Debian's rsyslogd
 * with `omrelp` (package `rsyslog-relp`), started in the foreground with its own config, pid
 * file and work directory. It takes lines
 * on an `imtcp` port and forwards each as one RELP `syslog` command to the relay, retrying
 * for ever while the relay is away (`action.resumeRetryCount="-1"`), with what it has not had
 * answered kept in its queue.
 */
import { freePort, writeAll } from "./harness.ts";

/**
 * Debian's rsyslogd when it and its module `module` (such as `omrelp` from `rsyslog-relp`,
 * `lmnsd_gtls` from `rsyslog-gnutls`) are installed, else undefined.
 */
export function rsyslogWith(module: string): string | undefined {
  const exists = (path: string) => {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      return false;
    }
  };
  if (!exists("/usr/sbin/rsyslogd")) return undefined;
  const found = ["x86_64-linux-gnu", "aarch64-linux-gnu"].some((arch) =>
    exists(`/usr/lib/${arch}/rsyslog/${module}.so`)
  );
  return found ? "/usr/sbin/rsyslogd" : undefined;
}

/** The rsyslogd binary when it and `omrelp` are installed, else undefined. */
export const RSYSLOGD_WITH_RELP: string | undefined = rsyslogWith("omrelp");

/** The rsyslogd binary when it and its GnuTLS driver (`rsyslog-gnutls`) are installed, else undefined. */
export const RSYSLOGD_WITH_GTLS: string | undefined = rsyslogWith("lmnsd_gtls");

/** A running rsyslogd forwarding what it receives over TLS. */
export interface TlsForwarder {
  /** rsyslog's `imudp` port: datagrams sent here go to the relay. */
  udpPort: number;
  /** Stops rsyslogd; returns its stderr. */
  stop(): Promise<string>;
}

/**
 * Starts rsyslogd in `dir` forwarding what arrives on a UDP port to the relay's TLS port
 * `tlsPort` as RFC 5425 (octet-counted RFC 5424 over `gtls`), checking the relay's
 * certificate against `caFile` and the name `localhost`; waits until its input is bound.
 */
export async function startTlsForwarder(dir: string, tlsPort: number, caFile: string): Promise<TlsForwarder> {
  const udpPort = freePort();
  await Deno.mkdir(`${dir}/rsyslog-work`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/rsyslog.conf`,
    `global(workDirectory="${dir}/rsyslog-work" defaultNetstreamDriverCAFile="${caFile}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="${udpPort}")
action(type="omfwd" target="127.0.0.1" port="${tlsPort}" protocol="tcp" TCP_Framing="octet-counted"
  StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost"
  template="RSYSLOG_SyslogProtocol23Format" action.resumeRetryCount="-1")
`,
  );
  const child = new Deno.Command(RSYSLOGD_WITH_GTLS!, {
    args: ["-n", "-f", `${dir}/rsyslog.conf`, "-i", `${dir}/rsyslog.pid`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  await new Promise((resolve) => setTimeout(resolve, 500)); // rsyslog binds its input
  return {
    udpPort,
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      return new TextDecoder().decode((await child.output()).stderr);
    },
  };
}

/** TLS settings of `omrelp tls="on"`: the CA that signed the relay, and the client's own pair. */
export interface RelpTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A running rsyslogd forwarding over RELP. */
export class RsyslogRelp {
  readonly #child: Deno.ChildProcess;
  /** rsyslog's `imtcp` port: lines sent here go to the relay. */
  readonly inputPort: number;

  private constructor(child: Deno.ChildProcess, inputPort: number) {
    this.#child = child;
    this.inputPort = inputPort;
  }

  /** Starts rsyslogd in `dir` forwarding to the relay's RELP port `relpPort`; waits until it listens. */
  static async start(dir: string, relpPort: number, tls?: RelpTls): Promise<RsyslogRelp> {
    const inputPort = freePort();
    await Deno.mkdir(`${dir}/rsyslog-work`, { recursive: true });
    const tlsSettings = tls === undefined ? "" : `tls="on" tls.caCert="${tls.caFile}" tls.myCert="${tls.certFile}"
  tls.myPrivKey="${tls.keyFile}" tls.authMode="name" tls.permittedPeer=["localhost"]`;
    await Deno.writeTextFile(
      `${dir}/rsyslog.conf`,
      `global(workDirectory="${dir}/rsyslog-work" maxMessageSize="64k")
main_queue(queue.size="200000")
module(load="imtcp")
module(load="omrelp")
input(type="imtcp" address="127.0.0.1" port="${inputPort}")
action(type="omrelp" target="127.0.0.1" port="${relpPort}" ${tlsSettings}
  action.resumeRetryCount="-1" action.resumeInterval="1"
  queue.type="LinkedList" queue.size="200000")
`,
    );
    const child = new Deno.Command(RSYSLOGD_WITH_RELP!, {
      args: ["-n", "-f", `${dir}/rsyslog.conf`, "-i", `${dir}/rsyslog.pid`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const rsyslog = new RsyslogRelp(child, inputPort);
    for (let i = 0; i < 100; i++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: inputPort })).close();
        return rsyslog;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await rsyslog.stop();
    throw new Error("rsyslogd did not open its imtcp port");
  }

  /** Sends `bytes` (LF-terminated lines) to rsyslog's input over one TCP connection. */
  async send(bytes: Uint8Array | string): Promise<void> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.inputPort });
    try {
      await writeAll(conn, bytes);
    } finally {
      conn.close();
    }
  }

  /** Stops rsyslogd; returns its stderr (empty when all went well). */
  async stop(): Promise<string> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already exited */ }
    // rsyslog may wait for a queue it cannot deliver (the relay gone): not for long.
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* exited */ }
    }, 5_000);
    const out = await this.#child.output();
    clearTimeout(timer);
    return new TextDecoder().decode(out.stderr);
  }
}
