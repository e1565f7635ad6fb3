/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/// <reference lib="deno.unstable" />
/**
 * A UDP receive worker: owns one UDP socket and drains it on a thread of its own, so that the
 * kernel's receive buffer empties while the main thread frames, journals and batches. Measured
 * on this 2-core machine: on the main thread every receive op costs about 4 us beside all that
 * work, and bursts overflow the kernel's 208 KiB default buffer. The socket's buffer is
 * enlarged through libc (`socket_options.ts`: Deno has no option for it), and the socket's
 * own drop count is reported about once a second.
 *
 * Datagrams are copied into packs (up to {@linkcode PACK_DATAGRAMS} datagrams or
 * {@linkcode PACK_BYTES}); a pack is handed over (a copy of what it holds, transferred) once
 * full or every {@linkcode PACK_INTERVAL_MS}. Packs the main thread has not finished with are bounded by
 * {@linkcode MAX_QUEUED_BYTES}: past it, datagrams are dropped here and counted (they would
 * otherwise be dropped, uncounted, by the kernel).
 *
 * @module
 */
import { sourceAddress } from "./address.ts";
import { UdpSocketOptions } from "./socket_options.ts";
import { type FromReceiver, MAX_DATAGRAM_BYTES, type ToReceiver } from "./udp_receive_protocol.ts";

/** Most datagrams in one pack. */
export const PACK_DATAGRAMS = 512;
/** Size of a pack's buffer (a datagram that does not fit starts the next pack). */
export const PACK_BYTES = 262_144;
/** A pack that is not full is handed over after at most this long, in ms. */
export const PACK_INTERVAL_MS = 5;
/** Bytes of packs handed over and not yet processed by the main thread, at most. */
export const MAX_QUEUED_BYTES = 16 * 1_048_576;
/** How often the kernel's drop count is reported, in ms. */
const DROPS_INTERVAL_MS = 1_000;

let socket: Deno.DatagramConn | undefined;
let closed = false;
let queued = 0;
let dropped = 0;
/** Where datagrams are gathered; each pack hands over a copy of what is used (no 256 KiB per pack). */
const pack = new Uint8Array(PACK_BYTES);
let used = 0;
let ends: number[] = [];
/** Per datagram, its source's index among the pack's sources (an address is sent once per pack). */
let from: number[] = [];
/** The pack's sources, in order of first appearance, and their indexes. */
let sourceIndex = new Map<string, number>();
let firstAt = 0;

function reply(message: FromReceiver, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

function flush(): void {
  if (ends.length === 0 && dropped === 0) return;
  const sources = [...sourceIndex.keys()];
  const data = pack.slice(0, used);
  const ending = Uint32Array.from(ends);
  const source = Uint32Array.from(from);
  reply(
    { type: "datagrams", data, ends: ending, from: source, sources, receivedMs: firstAt, dropped },
    [data.buffer, ending.buffer, source.buffer],
  );
  queued += used;
  used = 0;
  ends = [];
  from = [];
  sourceIndex = new Map();
  dropped = 0;
}

async function receive(conn: Deno.DatagramConn, options: UdpSocketOptions | undefined): Promise<void> {
  const buffer = new Uint8Array(MAX_DATAGRAM_BYTES + 1);
  const timer = setInterval(flush, PACK_INTERVAL_MS);
  const drops = options && setInterval(() => {
    const total = options.drops();
    if (total !== undefined) reply({ type: "kernel_drops", total });
  }, DROPS_INTERVAL_MS);
  try {
    while (!closed) {
      let received: [Uint8Array, Deno.Addr];
      try {
        received = await conn.receive(buffer);
      } catch (error) {
        if (closed || error instanceof Deno.errors.BadResource) return;
        reply({ type: "receive_error", error: (error as Error).message });
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const [datagram, addr] = received;
      if (queued + used + datagram.length > MAX_QUEUED_BYTES) {
        dropped++;
        continue;
      }
      if (used + datagram.length > pack.length) flush();
      if (ends.length === 0) firstAt = Date.now();
      pack.set(datagram, used);
      used += datagram.length;
      ends.push(used);
      const source = sourceAddress(addr);
      let index = sourceIndex.get(source);
      if (index === undefined) {
        index = sourceIndex.size;
        sourceIndex.set(source, index);
      }
      from.push(index);
      if (ends.length >= PACK_DATAGRAMS) flush();
    }
  } finally {
    clearInterval(timer);
    clearInterval(drops);
    flush();
    reply({ type: "closed" });
  }
}

/** Sets the socket's receive buffer where it can, says what it is, and returns its options. */
function bound(addr: Deno.NetAddr, receiveBuffer: number): UdpSocketOptions | undefined {
  const options = UdpSocketOptions.find(addr.port, addr.hostname.includes(":"));
  if (typeof options === "string") {
    reply({ type: "bound", port: addr.port, receiveBuffer: undefined, unset: options });
    return undefined;
  }
  const granted = receiveBuffer > 0 ? options.setReceiveBuffer(receiveBuffer) : options.receiveBuffer();
  reply({ type: "bound", port: addr.port, receiveBuffer: granted });
  return options;
}

self.onmessage = (event: MessageEvent<ToReceiver>) => {
  const message = event.data;
  switch (message.type) {
    case "bind":
      try {
        socket = Deno.listenDatagram({ transport: "udp", hostname: message.hostname, port: message.port });
      } catch (error) {
        reply({
          type: "bind_error",
          error: (error as Error).message,
          addressInUse: error instanceof Deno.errors.AddrInUse,
        });
        return;
      }
      void receive(socket, bound(socket.addr as Deno.NetAddr, message.receiveBuffer));
      return;
    case "ack":
      queued -= message.bytes;
      return;
    case "close":
      closed = true;
      try {
        socket?.close();
      } catch { /* already closed */ }
      if (socket === undefined) reply({ type: "closed" });
  }
};
