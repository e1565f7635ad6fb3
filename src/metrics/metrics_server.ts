import type { Metrics } from "./metrics.ts";
import type { Readiness } from "./readiness.ts";

/**
 * HTTP on `--prometheus-port`: `/metrics` (Prometheus text format), `/health` (the process
 * answers) and `/ready` (200 or 503, with a JSON body naming what is wrong: see
 * {@linkcode Readiness}).
 */
export class MetricsServer {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  private constructor(server: Deno.HttpServer<Deno.NetAddr>) {
    this.#server = server;
  }

  /** Binds and serves; throws with the port when it cannot bind. */
  static start(hostname: string, port: number, metrics: Metrics, ready: () => Promise<Readiness>): MetricsServer {
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
          const readiness = await ready();
          return Response.json(readiness, { status: readiness.ready ? 200 : 503 });
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
