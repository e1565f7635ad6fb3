/**
 * The running listeners of bound sources (`bind.ts`): made when the relay starts or a reload
 * adds a source, served once the relay says so, stopped one at a time when a reload removes
 * a source (open connections get the grace period), and all at once at shutdown.
 *
 * @module
 */
import type { SourceSpec } from "../config/pipeline.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { type BindOptions, type Bound, forSource, listenerInfo } from "./bind.ts";
import type { Ingest } from "./ingest.ts";
import type { SourceFilter } from "./source_filter.ts";
import { StreamListener } from "./stream_listener.ts";
import type { StreamProtocol } from "./stream_protocol.ts";
import { syslogProtocol } from "./syslog_protocol.ts";
import { limitsOf } from "./tcp_intake.ts";
import type { TlsTerminator } from "./tls_terminator.ts";
import { UdpListener } from "./udp_listener.ts";
import type { UdpReceiver } from "./udp_receiver.ts";

/** Where a source listens, as a reload matches sources: `udp/514`, `tcp/6514` (TCP, TLS and RELP share ports). */
export function placeOf(source: SourceSpec): string {
  return `${source.transport === "udp" ? "udp" : "tcp"}/${source.port}`;
}

/** What every listener of the set shares. */
export interface ListenerSetOptions {
  ingest: Ingest;
  /** For TLS sources (the relay has one only with TLS settings). */
  tls: TlsTerminator | undefined;
  /** For RELP sources. */
  relp: StreamProtocol;
  /** `--allow-from`. */
  allowFrom: SourceFilter;
  /** The relay-wide longest message and connection limits; a source may set its own (`forSource`). */
  bind: Pick<BindOptions, "maxMessageSize" | "limits" | "address">;
  /** How long open connections of a removed listener may finish, in ms. */
  graceMs: number;
  /** `--udp-recv-buffer`: what each UDP socket asked for, in bytes (0: the kernel's default). */
  udpRecvBuffer: number;
  metrics: Metrics;
  log: Logger;
}

/** A listener and the socket it serves. */
interface Running {
  bound: Bound;
  listener: UdpListener | StreamListener;
}

/** The relay's listeners, by where they listen. */
export class ListenerSet {
  readonly #options: ListenerSetOptions;
  readonly #running = new Map<string, Running>();
  /** Labels of the listeners, as `<protocol>/<port>`, in the order they were added. */
  readonly labels: string[] = [];

  constructor(options: ListenerSetOptions) {
    this.#options = options;
  }

  /** Makes the listener of a bound socket; it serves once {@linkcode ListenerSet.serve} says so. */
  add(b: Bound): { serve(): void } {
    const o = this.#options;
    const info = listenerInfo(b.source);
    const { maxMessageSize: maxMessageBytes, limits } = forSource(o.bind, b.source);
    this.labels.push(info.label);
    let listener: UdpListener | StreamListener;
    if (b.kind === "udp") {
      this.#reportReceiveBuffer(info.label, b.receiver);
      listener = new UdpListener({ receiver: b.receiver, info, ingest: o.ingest, maxMessageBytes });
    } else {
      listener = new StreamListener({
        listener: b.listener,
        tls: b.kind === "tls" ? o.tls : undefined,
        proxy: b.source.proxy,
        info,
        ingest: o.ingest,
        protocol: b.source.protocol === "relp" ? o.relp : syslogProtocol,
        maxMessageBytes,
        allowFrom: o.allowFrom,
        // With --tcp-workers the main thread is one of the port's acceptors.
        limits: limitsOf(limits, b.intakes.length + 1, 0),
      });
      for (const intake of b.intakes) intake.serve(o.ingest);
    }
    this.#running.set(placeOf(b.source), { bound: b, listener });
    return listener;
  }

  /** Every listener serves. */
  serve(): void {
    for (const { listener } of this.#running.values()) listener.serve();
  }

  /** Stops the listener of `source` (a reload removed it): no new connections; open ones get the grace period. */
  async remove(source: SourceSpec): Promise<void> {
    const running = this.#running.get(placeOf(source));
    if (running === undefined) return;
    this.#running.delete(placeOf(source));
    const index = this.labels.indexOf(running.bound.source.label);
    if (index >= 0) this.labels.splice(index, 1);
    await close(running, this.#options.graceMs);
  }

  /** Stops every listener; open connections get `graceMs` to finish. */
  async close(graceMs: number): Promise<void> {
    await Promise.all([...this.#running.values()].map((r) => close(r, graceMs)));
  }

  /** Reads the UDP sockets' drops (the relay's tick). */
  tick(): void {
    for (const { listener } of this.#running.values()) if (listener instanceof UdpListener) listener.tick();
  }

  /**
   * Logs and exports the receive buffer a UDP socket got; warns where it is smaller than
   * asked (the kernel caps it at `net.core.rmem_max` without `CAP_NET_ADMIN`) or unknown.
   */
  #reportReceiveBuffer(listener: string, receiver: UdpReceiver): void {
    const { udpRecvBuffer: asked, metrics, log } = this.#options;
    const granted = receiver.receiveBuffer;
    if (granted === undefined) {
      log.warn("The UDP receive buffer is the kernel's default: it cannot be set here", {
        listener,
        why: receiver.unset,
        watch:
          "kinesyslog_udp_kernel_drops_total; or raise net.core.rmem_default (docs/network-edge.md: UDP receive buffer)",
      });
      return;
    }
    metrics.udpReceiveBuffer.set({ listener }, granted);
    // Linux reports twice what it keeps for data; less than asked means it was capped.
    if (asked > 0 && granted < asked) {
      log.warn("The UDP receive buffer is smaller than asked: the kernel capped it", {
        listener,
        askedBytes: asked,
        grantedBytes: granted,
        raise: `sysctl -w net.core.rmem_max=${asked} (or run with CAP_NET_ADMIN)`,
      });
    } else {
      log.info("UDP receive buffer", { listener, askedBytes: asked, grantedBytes: granted });
    }
  }
}

/** Stops one listener and its TCP intake workers. */
async function close({ bound, listener }: Running, graceMs: number): Promise<void> {
  if (listener instanceof UdpListener) {
    await listener.close();
    return;
  }
  const intakes = bound.kind === "udp" ? [] : bound.intakes;
  await Promise.all([listener.close(graceMs), ...intakes.map((i) => i.close(graceMs))]);
}
