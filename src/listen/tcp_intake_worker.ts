/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/// <reference lib="deno.unstable" />
/**
 * A TCP intake worker (`--tcp-workers`): a plain TCP listener of its own on the port the main
 * thread bound, both with `SO_REUSEPORT` (Deno's `reusePort`), so that the kernel spreads new
 * connections over the main thread and the workers. The worker runs the same
 * {@linkcode StreamListener} as the main thread (its share of the connection limit, the
 * per-source cap, `--allow-from`, PROXY headers, timeouts, eviction) and the syslog protocol
 * (RFC 6587 framing, GELF over TCP), and hands the frames and its counters to the main
 * thread through an {@linkcode IntakeForwarder}. Reading, framing and the connections'
 * bookkeeping then run on another core; journal and batches stay on the main thread.
 *
 * @module
 */
import { Logger } from "../log.ts";
import { IntakeForwarder, type PackMessage } from "./intake_forwarder.ts";
import { SourceFilter } from "./source_filter.ts";
import { StreamListener } from "./stream_listener.ts";
import { syslogProtocol } from "./syslog_protocol.ts";
import type { FromIntake, ToIntake } from "./tcp_intake_protocol.ts";

let forwarder: IntakeForwarder | undefined;
let listener: StreamListener | undefined;

function reply(message: FromIntake): void {
  if (message.type === "pack") self.postMessage(message, [message.data.buffer]);
  else self.postMessage(message);
}

self.onmessage = async (event: MessageEvent<ToIntake>) => {
  const message = event.data;
  switch (message.type) {
    case "listen": {
      let bound: Deno.TcpListener;
      try {
        bound = Deno.listen({ transport: "tcp", hostname: message.hostname, port: message.port, reusePort: true });
      } catch (error) {
        reply({ type: "listen_error", error: (error as Error).message });
        return;
      }
      const log = new Logger(message.log);
      forwarder = new IntakeForwarder(log, (pack: PackMessage) => reply(pack));
      listener = new StreamListener({
        listener: bound,
        tls: undefined,
        proxy: message.proxy,
        info: message.info,
        ingest: forwarder,
        protocol: syslogProtocol,
        maxMessageBytes: message.maxMessageBytes,
        limits: message.limits,
        allowFrom: SourceFilter.parse(message.allowFrom),
      });
      listener.serve();
      reply({ type: "listening" });
      return;
    }
    case "ack":
      forwarder?.ack(message.bytes, message.buffer);
      return;
    case "close":
      forwarder?.release();
      await listener?.close(message.graceMs);
      forwarder?.flush();
      reply({ type: "closed" });
  }
};
