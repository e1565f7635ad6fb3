/**
 * Senders for the edge tests and the edge benchmark: many source addresses on 127.0.0.0/8,
 * a flood of connections that trickle a message that never ends, and a legitimate sender that
 * reconnects until the relay keeps its connection.
 *
 * @module
 */
import { createConnection, type Socket } from "node:net";

const enc = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Source address number `i` of a fleet: `127.<a>.<b>.<c>`, from 127.1.0.1 on. */
export function fleetAddress(i: number): string {
  const n = (1 << 16) + i + 1;
  return `127.${n >> 16}.${(n >> 8) & 255}.${n & 255}`;
}

/** Sends one datagram from `hostname` (a socket bound there) to `port` on 127.0.0.1. */
export async function sendFrom(hostname: string, port: number, text: string): Promise<void> {
  const socket = Deno.listenDatagram({ hostname, port: 0, transport: "udp" });
  try {
    await socket.send(enc.encode(text), { transport: "udp", hostname: "127.0.0.1", port });
  } finally {
    socket.close();
  }
}

/** Opens a TCP connection from `hostname` to `port` on 127.0.0.1; undefined when refused. */
export function connectFrom(hostname: string, port: number): Promise<Socket | undefined> {
  // Deno.connect cannot choose its source address; node:net can (localAddress).
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port, localAddress: hostname });
    socket.once("connect", () => resolve(socket));
    socket.once("error", () => resolve(undefined));
  });
}

/** Resolves to whether `socket` is closed by its peer within `ms`. */
export function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Options of {@linkcode DripFlood}. */
export interface DripFloodOptions {
  /** Connections, each from its own address. */
  connections: number;
  /** Fleet number of the first address (see {@linkcode fleetAddress}). */
  firstAddress: number;
  /** Time between two bytes of one connection, in ms. */
  byteIntervalMs: number;
}

/**
 * Connections that each send the start of a syslog line and then one byte at a time, never
 * ending it, reconnecting whenever the relay closes them, until {@linkcode DripFlood.stop}.
 */
export class DripFlood {
  readonly #open = new Set<Socket>();
  readonly #loops: Promise<void>[];
  #running = true;

  /** Starts the flood against `port` on 127.0.0.1. */
  constructor(port: number, options: DripFloodOptions) {
    this.#loops = Array.from({ length: options.connections }, async (_, i) => {
      const address = fleetAddress(options.firstAddress + i);
      while (this.#running) {
        const socket = await connectFrom(address, port);
        if (socket !== undefined) {
          this.#open.add(socket);
          let open = true;
          socket.on("close", () => (open = false));
          socket.on("error", () => (open = false));
          socket.write("<13>1 - host drip - - - ");
          while (this.#running && open) {
            socket.write("x");
            await sleep(options.byteIntervalMs);
          }
          this.#open.delete(socket);
          socket.destroy();
        }
        await sleep(50 + Math.random() * 250);
      }
    });
  }

  /** Ends every connection and waits for the loops. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const socket of this.#open) socket.destroy();
    await Promise.all(this.#loops);
  }
}

/**
 * A legitimate sender's connection: connects from `hostname` until the relay keeps the
 * connection for 300 ms (a full listener may close it at once), at most `attempts` times.
 */
export async function connectUntilKept(
  hostname: string,
  port: number,
  attempts: number,
): Promise<{ socket: Socket | undefined; attempts: number }> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const socket = await connectFrom(hostname, port);
    if (socket !== undefined && !(await closedWithin(socket, 300))) return { socket, attempts: attempt };
    await sleep(100);
  }
  return { socket: undefined, attempts };
}
