import { parseProxyHeader, type ProxyHeader } from "../framing/proxy_header.ts";
import type { ListenerInfo, StreamIngest } from "./ingest.ts";
import { sourceAddress } from "./address.ts";
import { ConnInput } from "./conn_input.ts";
import type { TlsTerminator } from "./tls_terminator.ts";
import type { SourceFilter } from "./source_filter.ts";
import type { ProtocolSession, StreamProtocol } from "./stream_protocol.ts";
import { timerDelay } from "../timer.ts";

/** Pause after a failed accept (for example out of file descriptors), in ms. */
export const ACCEPT_ERROR_PAUSE_MS = 100;
/** Default `--max-connections`: open connections per listener. */
export const DEFAULT_MAX_CONNECTIONS = 1_000;
/** Default `--idle-timeout`, in seconds: a connection silent this long is closed. */
export const DEFAULT_IDLE_TIMEOUT_S = 3_600;
/** Default `--handshake-timeout`, in seconds: PROXY header and TLS handshake must end by then. */
export const DEFAULT_HANDSHAKE_TIMEOUT_S = 10;
/**
 * At the connection limit, a new connection may take the place of the connection that has
 * made no progress (completed no message) for longest, if for at least this long, in ms.
 * Neither idle connections nor ones that trickle bytes of a message that never ends can lock
 * out a sender that has something to say; a sender that completes messages keeps its slot.
 */
export const EVICTABLE_NO_PROGRESS_MS = 2_000;
/**
 * A connection whose answer (a RELP acknowledgement) has waited this long to be written is
 * closed: a peer that sends and never reads would otherwise hold its slot for good, in ms.
 */
export const REPLY_TIMEOUT_MS = 60_000;
/** How often timeouts are checked, in ms. */
const SWEEP_MS = 250;

/** Limits of one stream listener. */
export interface ConnectionLimits {
  /** Open connections at most. */
  maxConnections: number;
  /** A connection waiting this long for data is closed, in ms; 0 is off. */
  idleTimeoutMs: number;
  /** PROXY header and TLS handshake must end within this, in ms. */
  handshakeTimeoutMs: number;
  /** Open connections from one source address at most; 0 is no cap. */
  maxConnectionsPerSource: number;
}

/** Options of {@linkcode StreamListener}. */
export interface StreamListenerOptions {
  /** A bound TCP listener. */
  listener: Deno.Listener;
  /** TLS for this listener's connections, or undefined for plain TCP. */
  tls: TlsTerminator | undefined;
  /** Whether each connection starts with a PROXY protocol header (`--proxy-protocol`). */
  proxy: boolean;
  /** Names for records and metrics. */
  info: ListenerInfo;
  /** Where messages go. */
  ingest: StreamIngest;
  /** What is spoken over each connection once it is ready (syslog, RELP). */
  protocol: StreamProtocol;
  /** Longest message kept, in bytes. */
  maxMessageBytes: number;
  /** Connection limits and timeouts. */
  limits: ConnectionLimits;
  /** Which sources may connect (`--allow-from`); judged after a PROXY header. */
  allowFrom: SourceFilter;
}

/** One open connection, as the sweep sees it. */
interface Tracked {
  input: ConnInput;
  /** `handshake` until the PROXY header and TLS handshake are done. */
  phase: "handshake" | "open";
  phaseStartMs: number;
  /** When the connection last completed a message (or opened, or ended its handshake), in ms. */
  progressMs: number;
  /** The source address counted against `maxConnectionsPerSource`, once admitted. */
  source?: string;
  /** The protocol's session, once the connection is open. */
  session?: ProtocolSession;
  /** The records' names of the connection, once known. */
  info?: ListenerInfo;
  /** Why the relay ended it, if it did. */
  endReason?: "shutdown" | "idle_timeout" | "handshake_timeout" | "evicted" | "reply_timeout" | "protocol";
}

/**
 * Accepts TCP connections and, per connection: reads the PROXY header when configured,
 * tells a TLS hello from plain text, runs the TLS handshake for a TLS listener, then hands the
 * bytes to a session of the listener's protocol (`stream_protocol.ts`: syslog, GELF, RELP),
 * which frames them into the ingest and writes back its answers, if it has any. Reads are
 * pull-driven: while the relay is over a bound, reading stops and the kernel slows the
 * sender. Enforces the connection limit and the timeouts; every refusal and every connection
 * it ends is counted by reason and logged (rate-limited) with the peer address.
 * Owns its connections: {@linkcode StreamListener.close} stops accepting, lets connections
 * finish for a grace period, then ends them, delivering every frame already received.
 */
export class StreamListener {
  readonly #o: StreamListenerOptions;
  readonly #connections = new Set<Promise<void>>();
  readonly #tracked = new Set<Tracked>();
  /** Open connections per admitted source address. */
  readonly #perSource = new Map<string, number>();
  #stopped = false;
  #serving: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #sweep: ReturnType<typeof setInterval> | undefined;

  /** Wraps a bound listener; call {@linkcode StreamListener.serve}. */
  constructor(options: StreamListenerOptions) {
    this.#o = options;
  }

  /** Starts the accept loop; it ends when the listener is closed. */
  serve(): void {
    this.#serving ??= this.#accept();
  }

  /** Stops accepting, waits up to `graceMs` for connections to end, then ends them. Idempotent. */
  close(graceMs: number): Promise<void> {
    this.#closing ??= (async () => {
      try {
        this.#o.listener.close();
      } catch { /* already closed */ }
      await this.#serving;
      // Protocols that answer (RELP) answer what they owe, say goodbye and end at once.
      for (const t of this.#tracked) t.session?.shutdown();
      if (this.#connections.size > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          Promise.allSettled([...this.#connections]),
          new Promise((resolve) => (timer = setTimeout(resolve, timerDelay(graceMs)))),
        ]);
        clearTimeout(timer);
      }
      this.#stopped = true;
      for (const t of this.#tracked) this.#end(t, "shutdown");
      await Promise.allSettled([...this.#connections]);
      clearInterval(this.#sweep);
    })();
    return this.#closing;
  }

  async #accept(): Promise<void> {
    const { listener, ingest, info } = this.#o;
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#closing !== undefined || error instanceof Deno.errors.BadResource) return;
        ingest.metrics.connectionErrors.inc({ listener: info.label, reason: "accept_error" });
        ingest.log.limited("error", `accept-${info.label}`, "Cannot accept a connection", {
          listener: info.label,
          error: (error as Error).message,
        });
        // Out of file descriptors and the like: pause rather than spin.
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_ERROR_PAUSE_MS));
        continue;
      }
      // Behind a balancer the source is known only from the PROXY header: judged there.
      if (!this.#o.proxy && !this.#admit(sourceAddress(conn.remoteAddr))) {
        closeQuietly(conn);
        continue;
      }
      if (this.#tracked.size >= this.#o.limits.maxConnections && !this.#evictOne()) {
        this.#refuse(sourceAddress(conn.remoteAddr), "connection_limit", "too many open connections", {
          limit: this.#o.limits.maxConnections,
        });
        closeQuietly(conn);
        continue;
      }
      // A failure inside one connection (a bug) ends that connection only, counted and logged.
      const done = this.#handle(conn)
        .catch((error) => {
          ingest.metrics.connectionErrors.inc({ listener: info.label, reason: "internal_error" });
          ingest.log.limited("error", `internal-${info.label}`, "Connection failed", {
            listener: info.label,
            error: (error as Error).stack ?? String(error),
          });
        })
        .finally(() => this.#connections.delete(done));
      this.#connections.add(done);
    }
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    const { ingest, maxMessageBytes, tls, proxy } = this.#o;
    let info = this.#o.info;
    const { metrics, log } = ingest;
    let source = sourceAddress(conn.remoteAddr);
    const input = new ConnInput(conn);
    const now = Date.now();
    const t: Tracked = { input, phase: tls || proxy ? "handshake" : "open", phaseStartMs: now, progressMs: now };
    this.#tracked.add(t);
    // Timeouts are checked while there are connections: an idle listener does not wake.
    this.#sweep ??= setInterval(() => this.#checkTimeouts(Date.now()), SWEEP_MS);
    if (!proxy) this.#count(t, source);
    metrics.connections.inc({ listener: info.label });
    metrics.connectionsOpen.inc({ listener: info.label });
    if (this.#stopped) this.#end(t, "shutdown");
    try {
      (conn as Deno.TcpConn).setKeepAlive?.(true);
    } catch { /* not a TCP socket */ }
    let session: { destroy(): void } | undefined;
    try {
      let vpce: string | undefined;
      if (proxy) {
        const header = await this.#readProxyHeader(t, source);
        if (header === undefined) return;
        if (header.command === "proxy") {
          source = header.source!.address;
          // The records' port is the one the client reached at the load balancer.
          info = { ...info, port: header.destination!.port };
        }
        // The client's address (a LOCAL header's: the balancer's own), before any TLS.
        if (!this.#admit(source)) return;
        this.#count(t, source);
        vpce = header.vpcEndpointId;
        // A plain TCP sender may stay silent after the balancer's header: idle rules apply.
        if (tls === undefined) t.phase = "open";
      }
      const first = await input.read();
      if (first === undefined) {
        this.#ended(t, source, tls !== undefined && t.phase === "handshake");
        return;
      }
      input.unshift(first);
      const hello = first[0] === 0x16 && (first.length < 2 || first[1] === 0x03);
      if (tls !== undefined && !hello) {
        this.#refuse(source, "not_tls", "a plain-text client on a TLS port", { start: preview(first) });
        return;
      }
      if (tls === undefined && hello) {
        this.#refuse(source, "tls_on_plain_port", "a TLS client on a plain TCP port");
        return;
      }
      let readable: ReadableStream<Uint8Array>;
      let reply = (bytes: Uint8Array) => writeAll(conn, bytes);
      if (tls !== undefined) {
        const result = await tls.accept({
          input,
          write: (bytes) => conn.write(bytes),
          close: () => closeQuietly(conn),
        });
        if (!("readable" in result)) {
          if (result.client !== undefined || result.reason === "no_client_certificate") {
            this.#refuse(source, result.reason, "client certificate refused", {
              error: result.error,
              ...(result.client?.identity !== undefined && { client: result.client.identity }),
            });
          } else {
            const reason = t.endReason === "handshake_timeout" ? "timeout" : result.reason;
            if (t.endReason === undefined || t.endReason === "handshake_timeout") {
              this.#handshakeFailed(source, reason, reason === "timeout" ? "no handshake in time" : result.error);
            }
          }
          return;
        }
        session = result;
        reply = result.write;
        const fields = {
          listener: info.label,
          source,
          protocol: result.protocol,
          client: result.client.identity ?? "none",
          verified: result.client.verified,
          ...(result.client.error !== undefined && { error: result.client.error }),
          ...(vpce !== undefined && { vpce }),
        };
        if (result.client.identity !== undefined) log.info("TLS client connected", fields);
        else log.debug("TLS client connected", fields);
        readable = result.readable;
        t.progressMs = Date.now();
      } else {
        log.debug("Connection opened", { listener: info.label, source, ...(vpce !== undefined && { vpce }) });
        readable = inputStream(input);
      }
      t.phase = "open";
      const connInfo = info;
      t.info = connInfo;
      t.session = this.#o.protocol.open({
        info: connInfo,
        source,
        ingest,
        maxMessageBytes,
        reply,
        end: () => this.#end(t, "protocol"),
        progress: () => void (t.progressMs = Date.now()),
      });
      await t.session.consume(readable);
      this.#ended(t, source, false);
    } finally {
      session?.destroy();
      this.#tracked.delete(t);
      if (this.#tracked.size === 0) {
        clearInterval(this.#sweep);
        this.#sweep = undefined;
      }
      this.#uncount(t);
      metrics.connectionsOpen.dec({ listener: info.label });
      closeQuietly(conn);
    }
  }

  /** Reads the PROXY header; on failure counts and logs it and returns undefined. */
  async #readProxyHeader(t: Tracked, source: string): Promise<ProxyHeader | undefined> {
    let buffer = new Uint8Array(0);
    while (true) {
      const parsed = parseProxyHeader(buffer);
      if (typeof parsed === "object") {
        t.input.unshift(buffer.subarray(parsed.length));
        return parsed;
      }
      if (parsed !== "incomplete") {
        const reason = parsed === "not_proxy" ? "proxy_missing" : `proxy_${parsed}`;
        this.#refuse(source, reason, "no valid PROXY protocol header", { start: preview(buffer) });
        return undefined;
      }
      const chunk = await t.input.read();
      if (chunk === undefined) {
        if (t.endReason === "handshake_timeout") {
          this.#refuse(source, "proxy_timeout", "no PROXY protocol header in time", { start: preview(buffer) });
        } else if (buffer.length > 0) {
          this.#refuse(source, "proxy_truncated", "the connection ended inside its PROXY header");
        } else {
          this.#ended(t, source, false);
        }
        return undefined;
      }
      const joined = new Uint8Array(buffer.length + chunk.length);
      joined.set(buffer);
      joined.set(chunk, buffer.length);
      buffer = joined;
    }
  }

  /** Counts how a connection's input ended when that was not a clean end or the relay's doing. */
  #ended(t: Tracked, source: string, inHandshake: boolean): void {
    const { ingest, info } = this.#o;
    const why = t.input.ended;
    if (t.endReason === "handshake_timeout") {
      this.#handshakeFailed(source, "timeout", "no handshake in time");
      return;
    }
    if (t.endReason !== undefined || why === undefined || why === "eof" || why === "closed") {
      if (why === "eof" && inHandshake) ingest.log.debug("Connection closed before the TLS hello", { source });
      else ingest.log.debug("Connection closed", { listener: info.label, source });
      return;
    }
    ingest.metrics.connectionErrors.inc({ listener: info.label, reason: why });
    ingest.log.limited("warn", `read-${info.label}`, "Connection ended by an error", {
      listener: info.label,
      source,
      error: t.input.error?.message ?? why,
    });
  }

  /** Ends a connection for the relay's own reason. */
  #end(t: Tracked, reason: NonNullable<Tracked["endReason"]>): void {
    if (t.endReason !== undefined) return;
    t.endReason = reason;
    // Cut off by the relay in the middle of a message (evicted, idle): the part received is
    // no message; it is counted, not delivered. At shutdown what arrived is delivered.
    if (reason !== "shutdown" && reason !== "protocol" && t.session?.discard() === true) {
      this.#o.ingest.dropped(t.info ?? this.#o.info, t.source ?? "unknown", "unfinished");
    }
    t.input.cancel();
    t.session?.abort();
  }

  /** Ends timed-out connections (handshake, idle). */
  #checkTimeouts(now: number): void {
    const { idleTimeoutMs, handshakeTimeoutMs } = this.#o.limits;
    const { ingest, info } = this.#o;
    for (const t of this.#tracked) {
      if (t.endReason !== undefined) continue;
      const replyWaiting = t.session?.replyWaitingSinceMs;
      if (t.phase === "handshake") {
        if (now - t.phaseStartMs > handshakeTimeoutMs) this.#end(t, "handshake_timeout");
      } else if (replyWaiting !== undefined && now - replyWaiting > REPLY_TIMEOUT_MS) {
        this.#end(t, "reply_timeout");
        ingest.metrics.connectionErrors.inc({ listener: info.label, reason: "reply_timeout" });
        ingest.log.limited("warn", `reply-${info.label}`, "Connection closed: the peer reads no answers", {
          listener: info.label,
          ...(t.source !== undefined && { source: t.source }),
          waitedSeconds: Math.round((now - replyWaiting) / 1000),
        });
      } else if (idleTimeoutMs > 0 && t.input.waiting && now - t.input.lastActivityMs > idleTimeoutMs) {
        this.#end(t, "idle_timeout");
        ingest.metrics.connectionErrors.inc({ listener: info.label, reason: "idle_timeout" });
        ingest.log.limited("info", `idle-${info.label}`, "Connection closed: idle for longer than --idle-timeout", {
          listener: info.label,
          idleSeconds: Math.round((now - t.input.lastActivityMs) / 1000),
        });
      }
    }
  }

  /**
   * At the limit: ends the connection that has made no progress for longest, if long enough.
   * A connection the relay itself holds back (not reading, because of back-pressure) is spared.
   */
  #evictOne(): boolean {
    const now = Date.now();
    let oldest: Tracked | undefined;
    for (const t of this.#tracked) {
      if (t.endReason !== undefined || !(t.input.waiting || t.phase === "handshake")) continue;
      if (oldest === undefined || t.progressMs < oldest.progressMs) oldest = t;
    }
    if (oldest === undefined || now - oldest.progressMs < EVICTABLE_NO_PROGRESS_MS) return false;
    this.#end(oldest, "evicted");
    const { ingest, info } = this.#o;
    ingest.metrics.connectionErrors.inc({ listener: info.label, reason: "evicted" });
    ingest.log.limited(
      "warn",
      `evict-${info.label}`,
      "At the connection limit: closed the connection that completed no message for longest",
      {
        listener: info.label,
        limit: this.#o.limits.maxConnections,
        ...(oldest.source !== undefined && { source: oldest.source }),
        secondsWithoutMessage: Math.round((now - oldest.progressMs) / 1000),
      },
    );
    return true;
  }

  /** Whether `source` may open a connection (`--allow-from`, the per-source cap); counts a refusal. */
  #admit(source: string): boolean {
    if (!this.#o.allowFrom.allows(source)) {
      this.#refuse(source, "not_allowed", "source not in --allow-from");
      return false;
    }
    const cap = this.#o.limits.maxConnectionsPerSource;
    if (cap > 0 && (this.#perSource.get(source) ?? 0) >= cap) {
      this.#refuse(source, "source_connection_limit", "too many open connections from this source", { limit: cap });
      return false;
    }
    return true;
  }

  #count(t: Tracked, source: string): void {
    t.source = source;
    this.#perSource.set(source, (this.#perSource.get(source) ?? 0) + 1);
  }

  #uncount(t: Tracked): void {
    if (t.source === undefined) return;
    const left = (this.#perSource.get(t.source) ?? 1) - 1;
    if (left > 0) this.#perSource.set(t.source, left);
    else this.#perSource.delete(t.source);
    delete t.source;
  }

  #refuse(source: string, reason: string, message: string, fields: Record<string, unknown> = {}): void {
    const { ingest, info } = this.#o;
    ingest.metrics.connectionsRefused.inc({ listener: info.label, reason });
    ingest.log.limited("warn", `refused-${info.label}-${reason}`, `Connection refused: ${message}`, {
      listener: info.label,
      source,
      reason,
      ...fields,
    });
  }

  #handshakeFailed(source: string, reason: string, error: string): void {
    const { ingest, info } = this.#o;
    ingest.metrics.tlsHandshakeFailures.inc({ listener: info.label, reason });
    ingest.log.limited("warn", `tls-${info.label}-${reason}`, "TLS handshake failed", {
      listener: info.label,
      source,
      reason,
      error,
    });
  }
}

/** A connection's bytes as a pull-driven stream that ends (never errors) with the input. */
function inputStream(input: ConnInput): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      const chunk = await input.read();
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
    cancel: () => input.cancel(),
  }, { highWaterMark: 0 });
}

/** The first bytes of a refused connection, printable ASCII only, for the log. */
function preview(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes.subarray(0, 24)) out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
  return out;
}

/** Writes all of `bytes` (a write may take part of them). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}
