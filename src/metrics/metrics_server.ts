import type { Metrics } from "./metrics.ts";

/**
 * HTTP on `--prometheus-port`: `/metrics` (Prometheus text format), `/health` (the process
 * answers) and `/ready` (listeners up and the spool within its bound).
 */
export class MetricsServer {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  private constructor(server: Deno.HttpServer<Deno.NetAddr>) {
    this.#server = server;
  }

  /** Binds and serves; throws with the port when it cannot bind. */
  static start(hostname: string, port: number, metrics: Metrics, ready: () => boolean): MetricsServer {
    try {
      const server = Deno.serve({ hostname, port, onListen: () => {} }, async (request) => {
        const path = new URL(request.url).pathname;
        if (path === "/metrics") {
          return new Response(await metrics.registry.metrics(), {
            headers: { "content-type": metrics.registry.contentType },
          });
        }
        if (path === "/health") return new Response("ok\n");
        if (path === "/ready") {
          return ready() ? new Response("ready\n") : new Response("not ready\n", { status: 503 });
        }
        return new Response("not found\n", { status: 404 });
      });
      return new MetricsServer(server);
    } catch (error) {
      const why = error instanceof Deno.errors.AddrInUse ? "address already in use" : (error as Error).message;
      throw new Error(`Cannot serve metrics on port ${port} at ${hostname}: ${why} (--prometheus-port)`);
    }
  }

  /** Stops serving; idempotent. */
  async close(): Promise<void> {
    try {
      await this.#server.shutdown();
    } catch { /* already closed */ }
  }
}
