/**
 * The main thread's side of a UDP receive worker (`udp_receive_worker.ts`): binds a UDP
 * socket in its own worker and hands over what it receives, in packs.
 *
 * @module
 */
import type { FromReceiver, ReceiverOptions, ToReceiver } from "./udp_receive_protocol.ts";
import { releaseBuffer } from "../release_buffer.ts";

/** Datagrams received together; see {@linkcode FromReceiver}. */
export type DatagramPack = Extract<FromReceiver, { type: "datagrams" }>;

/** What the receiver tells its listener. */
export interface ReceiverEvents {
  /** A pack of datagrams; call {@linkcode UdpReceiver.done} once it is processed. */
  onPack(pack: DatagramPack): void;
  /** A receive failed (the worker goes on after a pause). */
  onError(error: string): void;
}

/** A UDP socket received on by a worker of its own. */
export class UdpReceiver {
  readonly #worker: Worker;
  #events: ReceiverEvents | undefined;
  /** Packs that came before {@linkcode UdpReceiver.start}. */
  readonly #early: DatagramPack[] = [];
  readonly #closed = Promise.withResolvers<void>();
  /** The socket's count of kernel drops as last reported, if the worker can read it. */
  #kernelDrops: number | undefined;
  /** GELF messages waiting for chunks in the worker, and their bytes, as last reported. */
  #gelfPending = { sets: 0, bytes: 0 };

  private constructor(
    worker: Worker,
    readonly port: number,
    /** The socket's receive buffer as the kernel reports it (Linux: twice what was asked); undefined: unknown. */
    readonly receiveBuffer: number | undefined,
    /** Why the receive buffer could not be set or read, where it could not. */
    readonly unset: string | undefined,
  ) {
    this.#worker = worker;
  }

  /**
   * Binds `hostname:port` in a new worker (see {@linkcode ReceiverOptions}: by default syslog
   * datagrams from any source, the kernel's receive buffer); throws `Deno.errors.AddrInUse`
   * or an `Error` with the system's message when it cannot bind.
   */
  static async bind(hostname: string, port: number, options: Partial<ReceiverOptions> = {}): Promise<UdpReceiver> {
    const worker = new Worker(new URL("./udp_receive_worker.ts", import.meta.url), { type: "module" });
    const bound = Promise.withResolvers<UdpReceiver>();
    worker.onmessage = (event: MessageEvent<FromReceiver>) => {
      const message = event.data;
      if (message.type === "bound") {
        const receiver = new UdpReceiver(worker, message.port, message.receiveBuffer, message.unset);
        worker.onmessage = (e: MessageEvent<FromReceiver>) => receiver.#receive(e.data);
        bound.resolve(receiver);
      } else if (message.type === "bind_error") {
        worker.terminate();
        bound.reject(message.addressInUse ? new Deno.errors.AddrInUse(message.error) : new Error(message.error));
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      bound.reject(new Error(`UDP receive worker failed: ${event.message}`));
    };
    worker.postMessage(
      {
        type: "bind",
        hostname,
        port,
        receiveBuffer: options.receiveBuffer ?? 0,
        format: options.format ?? "syslog",
        maxMessageBytes: options.maxMessageBytes ?? 65_536,
        allowFrom: options.allowFrom ?? [],
      } satisfies ToReceiver,
    );
    return await bound.promise;
  }

  /** Datagrams the kernel dropped on this socket's full buffer so far, where the worker can tell. */
  get kernelDrops(): number | undefined {
    return this.#kernelDrops;
  }

  /** GELF messages the worker holds waiting for chunks, and their bytes, as last reported. */
  get gelfPending(): { sets: number; bytes: number } {
    return this.#gelfPending;
  }

  /** Starts handing packs to `events` (those received since binding first). */
  start(events: ReceiverEvents): void {
    this.#events = events;
    for (const pack of this.#early.splice(0)) events.onPack(pack);
  }

  /**
   * The main thread is done with `pack`: its bytes no longer count against the worker's
   * bound, and its memory is freed now (`release_buffer.ts`), so the bound counts what is
   * really allocated. Nothing may use the pack afterwards.
   */
  done(pack: DatagramPack): void {
    this.#worker.postMessage({ type: "ack", bytes: pack.data.length } satisfies ToReceiver);
    releaseBuffer(pack.data);
    releaseBuffer(pack.ends);
    releaseBuffer(pack.from);
  }

  /** Closes the socket; resolves once the last pack was handed over and the worker ended. */
  async close(): Promise<void> {
    this.#worker.postMessage({ type: "close" } satisfies ToReceiver);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#closed.promise, new Promise((resolve) => (timer = setTimeout(resolve, 1_000)))]);
    clearTimeout(timer);
    this.#worker.terminate();
  }

  #receive(message: FromReceiver): void {
    switch (message.type) {
      case "datagrams":
        if (this.#events === undefined) this.#early.push(message);
        else this.#events.onPack(message);
        return;
      case "receive_error":
        this.#events?.onError(message.error);
        return;
      case "kernel_drops":
        this.#kernelDrops = message.total;
        return;
      case "gelf_pending":
        this.#gelfPending = { sets: message.sets, bytes: message.bytes };
        return;
      case "closed":
        this.#closed.resolve();
    }
  }
}
