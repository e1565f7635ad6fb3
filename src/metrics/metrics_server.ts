/**
 * HTTP on `--prometheus-port`: `/metrics`, `/health` and `/ready`, answered one request per
 * connection (`Connection: close`), with a bound on open connections and a deadline for
 * each request.
 *
 * Why not `Deno.serve` or `node:http` (measured on Deno 2.9.6, 6,000 idle connections at a
 * descriptor limit of 2,048): `Deno.serve` has no connection limit and its accept loop throws
 * `Too many open files` uncaught, which ends the process; `node:http` with `maxConnections`
 * survives, but after one `EMFILE` its listener stops accepting for good. This server owns its
 * accept loop, so running out of descriptors is counted, paused on and survived like on the
 * syslog listeners. It speaks just enough HTTP/1.1 for a scraper, a probe or `curl`.
 *
 * @module
 */
import type { Metrics } from "./metrics.ts";
import type { Readiness } from "./readiness.ts";

/** Default `--metrics-max-connections`: open connections to one metrics port. */
export const DEFAULT_METRICS_MAX_CONNECTIONS = 64;
/** A request must arrive and be answered within this, in ms (Prometheus's default scrape timeout is 10 s). */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;
/** Longest request head read, in bytes (request line and headers; a scraper sends a few hundred). */
export const MAX_REQUEST_HEAD_BYTES = 8_192;
/** Pause after a failed accept (out of descriptors), in ms. */
const ACCEPT_ERROR_PAUSE_MS = 100;

/** Answers one request path (query removed). */
export type MetricsHandler = (path: string, method: string) => Promise<Response>;

/** Reason phrases of the statuses this server answers with. */
const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/**
 * The routes: `/metrics` (Prometheus text format), `/health` (the process answers) and
 * `/ready` (200 or 503, with a JSON body naming what is wrong: see {@linkcode Readiness}).
 */
export function metricsRoutes(
  metrics: Metrics,
  ready: () => Promise<Readiness>,
  reload?: () => Promise<string>,
): MetricsHandler {
  return async (path, method) => {
    if (reload !== undefined && path === RELOAD_PATH) {
      if (method !== "POST") return new Response("method not allowed\n", { status: 405, headers: { allow: "POST" } });
      const result = await reload();
      return Response.json({ result }, { status: RELOAD_STATUS[result] ?? 500 });
    }
    if (method === "POST") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (path === "/metrics") {
      return new Response(await metrics.registry.metrics(), {
        headers: { "content-type": metrics.registry.contentType },
      });
    }
    if (path === "/health") return new Response("ok\n");
    if (path === "/ready") {
      const readiness = await ready();
      return Response.json(readiness, { status: readiness.ready ? 200 : 503 });
    }
    return new Response("not found\n", { status: 404 });
  };
}

/** Where `--metrics-reload` answers. */
export const RELOAD_PATH = "/-/reload";
/** The status of each reload result. */
const RELOAD_STATUS: Record<string, number> = { ok: 200, unchanged: 200, invalid: 400, restart_needed: 409 };

/** What the server reports: a refused or failed connection, by reason. */
export interface MetricsServerEvents {
  /** A connection refused (`connection_limit`) or ended by a problem (`timeout`, `bad_request`, `accept_error`, `descriptors_exhausted`). */
  onProblem(reason: string, error?: string): void;
}

/** Options of {@linkcode MetricsServer.start}. */
export interface MetricsServerOptions extends MetricsServerEvents {
  /** Open connections at most. @default {64} */
  maxConnections?: number;
  /** Deadline of one request, in ms. @default {10000} */
  requestTimeoutMs?: number;
}

/** The HTTP server of one metrics port. */
export class MetricsServer {
  readonly #listener: Deno.Listener;
  readonly #handler: MetricsHandler;
  readonly #o: Required<MetricsServerOptions>;
  readonly #open = new Set<Deno.Conn>();
  readonly #serving: Promise<void>;
  #closed = false;

  private constructor(listener: Deno.Listener, handler: MetricsHandler, options: MetricsServerOptions) {
    this.#listener = listener;
    this.#handler = handler;
    this.#o = {
      maxConnections: DEFAULT_METRICS_MAX_CONNECTIONS,
      requestTimeoutMs: METRICS_REQUEST_TIMEOUT_MS,
      ...options,
    };
    this.#serving = this.#accept();
  }

  /** Binds and serves; throws with the port when it cannot bind. */
  static start(hostname: string, port: number, handler: MetricsHandler, options: MetricsServerOptions): MetricsServer {
    let listener: Deno.Listener;
    try {
      listener = Deno.listen({ hostname, port, transport: "tcp" });
    } catch (error) {
      const why = error instanceof Deno.errors.AddrInUse ? "address already in use" : (error as Error).message;
      throw new Error(`Cannot serve metrics on port ${port} at ${hostname}: ${why} (--prometheus-port)`);
    }
    return new MetricsServer(listener, handler, options);
  }

  /** The bound port. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Open connections. */
  get openConnections(): number {
    return this.#open.size;
  }

  /** Stops serving and ends open connections; idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#listener.close();
      } catch { /* already closed */ }
      for (const conn of this.#open) closeQuietly(conn);
    }
    await this.#serving;
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        const message = (error as Error).message;
        this.#o.onProblem(
          /too many open files|EMFILE|ENFILE/i.test(message) ? "descriptors_exhausted" : "accept_error",
          message,
        );
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_ERROR_PAUSE_MS));
        continue;
      }
      if (this.#open.size >= this.#o.maxConnections) {
        this.#o.onProblem("connection_limit");
        closeQuietly(conn);
        continue;
      }
      this.#open.add(conn);
      void this.#serve(conn).finally(() => {
        this.#open.delete(conn);
        closeQuietly(conn);
      });
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const timer = setTimeout(() => {
      this.#o.onProblem("timeout");
      closeQuietly(conn);
    }, this.#o.requestTimeoutMs);
    try {
      const head = await readHead(conn);
      if (head === undefined) return;
      const request = parseRequestLine(head);
      let response: Response;
      if (typeof request === "number") {
        this.#o.onProblem("bad_request");
        response = new Response(request === 431 ? "request head too large\n" : "bad request\n", { status: request });
      } else if (request.method !== "GET" && request.method !== "HEAD" && request.method !== "POST") {
        response = new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
      } else {
        // A request's body is not read: no route takes one (the connection closes after the answer).
        response = await this.#handler(request.path, request.method).catch((error) => {
          this.#o.onProblem("internal_error", (error as Error).message);
          return new Response("internal error\n", { status: 500 });
        });
      }
      await writeResponse(conn, response, typeof request === "object" && request.method === "HEAD");
    } catch {
      // The peer went away, or the deadline closed the connection: nothing to answer.
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A parsed request line. */
export interface RequestLine {
  /** `GET`, `HEAD`, ... */
  method: string;
  /** The path without its query. */
  path: string;
}

/**
 * Reads a request line from a request head: the method and the path without its query, or
 * the HTTP status to answer (400 malformed, 431 too large).
 *
 * @example
 * ```ts
 * parseRequestLine(new TextEncoder().encode("GET /metrics?x=1 HTTP/1.1\r\n\r\n"));
 * // { method: "GET", path: "/metrics" }
 * ```
 */
export function parseRequestLine(head: Uint8Array): RequestLine | 400 | 431 {
  if (head.length > MAX_REQUEST_HEAD_BYTES) return 431;
  const end = head.indexOf(0x0a);
  const line = new TextDecoder().decode(head.subarray(0, end === -1 ? head.length : end)).replace(/\r$/, "");
  const match = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(line);
  if (match === null) return 400;
  const target = match[2]!;
  const path = target.startsWith("/") ? target.split("?")[0]! : URL.canParse(target) ? new URL(target).pathname : "";
  return path === "" ? 400 : { method: match[1]!, path };
}

/** Reads up to the blank line that ends a request head; undefined when the peer closed first. */
async function readHead(conn: Deno.Conn): Promise<Uint8Array | undefined> {
  const head = new Uint8Array(MAX_REQUEST_HEAD_BYTES + 1);
  let used = 0;
  while (used < head.length) {
    const n = await conn.read(head.subarray(used));
    if (n === null) return undefined;
    const from = Math.max(0, used - 3);
    used += n;
    const text = head.subarray(from, used);
    for (let i = 0; i + 1 < text.length; i++) {
      if (text[i] === 0x0a && (text[i + 1] === 0x0a || (text[i + 1] === 0x0d && text[i + 2] === 0x0a))) {
        return head.subarray(0, used);
      }
    }
  }
  return head; // over the bound: answered 431
}

async function writeResponse(conn: Deno.Conn, response: Response, headOnly: boolean): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer());
  let head = `HTTP/1.1 ${response.status} ${STATUS_TEXT[response.status] ?? "Unknown"}\r\n`;
  response.headers.forEach((value, name) => (head += `${name}: ${value}\r\n`));
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  const headBytes = new TextEncoder().encode(head);
  const out = new Uint8Array(headBytes.length + (headOnly ? 0 : body.length));
  out.set(headBytes);
  if (!headOnly) out.set(body, headBytes.length);
  for (let at = 0; at < out.length;) at += await conn.write(out.subarray(at));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}
