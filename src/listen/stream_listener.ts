import { SyslogFrameStream } from "../framing/syslog_frame_stream.ts";
import type { Ingest, ListenerInfo } from "./ingest.ts";
import { sourceAddress } from "./address.ts";

/** Pause after a failed accept (for example out of file descriptors), in ms. */
export const ACCEPT_ERROR_PAUSE_MS = 100;

/** Longest wait for a TLS handshake, in ms; a slower client is counted and closed. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Options of {@linkcode StreamListener}. */
export interface StreamListenerOptions {
  /** A bound TCP or TLS listener. */
  listener: Deno.Listener;
  /** Whether connections need a TLS handshake first. */
  tls: boolean;
  /** Names for records and metrics. */
  info: ListenerInfo;
  /** Where messages go. */
  ingest: Ingest;
  /** Longest message kept, in bytes. */
  maxMessageBytes: number;
}

/**
 * Accepts TCP or TLS connections and pipes each through a {@linkcode SyslogFrameStream} (in
 * GELF mode for a GELF listener) into the ingest. Reads are pull-driven: while the relay is
 * over a bound, reading stops and the kernel slows the sender. Owns its connections: {@linkcode StreamListener.close} stops
 * accepting, lets connections finish for a grace period, then ends them, delivering
 * every complete and partial frame already received.
 */
export class StreamListener {
  readonly #o: StreamListenerOptions;
  readonly #connections = new Set<Promise<void>>();
  /**
   * How to end each open connection at shutdown. (Racing every read against one shared
   * "stopped" promise would leave a reaction per read on it, each keeping its chunk alive.)
   */
  readonly #enders = new Set<() => void>();
  #stopped = false;
  #serving: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

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
      if (this.#connections.size > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          Promise.allSettled([...this.#connections]),
          new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
        ]);
        clearTimeout(timer);
      }
      this.#stopped = true;
      for (const end of this.#enders) end();
      await Promise.allSettled([...this.#connections]);
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
    const { ingest, info, maxMessageBytes, tls } = this.#o;
    const { metrics, log } = ingest;
    const source = sourceAddress(conn.remoteAddr);
    metrics.connections.inc({ listener: info.label });
    metrics.connectionsOpen.inc({ listener: info.label });
    const reader = conn.readable.getReader();
    let ended = false;
    // At shutdown: a pending read ends as end-of-stream; a pending handshake fails.
    const end = () => {
      ended = true;
      reader.cancel().catch(() => {});
      if (tls) this.#closeQuietly(conn);
    };
    this.#enders.add(end);
    if (this.#stopped) end();
    try {
      if (tls && !(await this.#handshake(conn as Deno.TlsConn, source, () => ended))) return;
      log.debug("Connection opened", { listener: info.label, source });
      const gelf = info.format === "gelf";
      const frames = new SyslogFrameStream({
        maxMessageBytes,
        gelf,
        // A cut GELF document is useless: the framer drops it, counted here.
        onTruncated: gelf
          ? () => ingest.dropped(info, source, "oversize")
          : (bytes) => ingest.truncated(info, source, bytes, maxMessageBytes),
      });
      await this.#readable(reader, source, () => ended).pipeThrough(frames).pipeTo(
        new WritableStream({
          write: (batch) => {
            ingest.accept(info, source, batch, Date.now());
            return ingest.pressure.ready();
          },
        }),
      );
      log.debug("Connection closed", { listener: info.label, source });
    } finally {
      this.#enders.delete(end);
      metrics.connectionsOpen.dec({ listener: info.label });
      this.#closeQuietly(conn);
    }
  }

  #closeQuietly(conn: Deno.Conn): void {
    try {
      conn.close();
    } catch { /* already closed */ }
  }

  /**
   * The connection's bytes as a stream that ends, rather than errors, on end of input, on a
   * read error (counted) and at shutdown, so that the framer always flushes its last frame.
   */
  #readable(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    source: string,
    ended: () => boolean,
  ): ReadableStream<Uint8Array> {
    const { ingest, info } = this.#o;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          const result = await reader.read();
          if (!result.done) controller.enqueue(result.value);
          if (result.done || ended()) controller.close();
        } catch (error) {
          if (!ended()) {
            ingest.metrics.connectionErrors.inc({ listener: info.label, reason: errorReason(error) });
            ingest.log.limited("warn", `read-${info.label}`, "Connection ended by an error", {
              listener: info.label,
              source,
              error: (error as Error).message,
            });
          }
          controller.close();
        }
      },
      cancel: () => {
        reader.cancel().catch(() => {});
      },
    }, { highWaterMark: 0 });
  }

  async #handshake(conn: Deno.TlsConn, source: string, ended: () => boolean): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const outcome = await Promise.race([
        conn.handshake().then(() => "ok" as const),
        new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), TLS_HANDSHAKE_TIMEOUT_MS))),
      ]);
      if (outcome === "ok") return true;
      this.#handshakeFailed(source, "timeout", "no handshake within the time limit");
      return false;
    } catch (error) {
      if (ended()) return false;
      const message = (error as Error).message;
      const reason = /InvalidContentType|corrupt message|wrong version|HTTP/i.test(message)
        ? "not_tls"
        : "handshake_error";
      this.#handshakeFailed(source, reason, message);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  #handshakeFailed(source: string, reason: string, error: string): void {
    const { ingest, info } = this.#o;
    ingest.metrics.connectionErrors.inc({ listener: info.label, reason: `tls_${reason}` });
    ingest.log.limited("warn", `tls-${info.label}-${reason}`, "TLS handshake failed", {
      listener: info.label,
      source,
      reason,
      error,
    });
  }
}

function errorReason(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionReset) return "reset";
  if (error instanceof Deno.errors.BrokenPipe) return "broken_pipe";
  if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) return "closed";
  return "read_error";
}
