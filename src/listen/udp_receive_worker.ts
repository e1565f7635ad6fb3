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
 * After each datagram Deno's receive op delivers, those waiting behind it are taken in
 * batches of up to 64 per system call (`datagram_batch.ts`, where FFI for libc is granted).
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
import { BATCH_SLOTS, DatagramBatch } from "./datagram_batch.ts";
import type { GelfDatagrams } from "./gelf_datagrams.ts";
import { UdpSocketOptions } from "./socket_options.ts";
import type { SourceFilter } from "./source_filter.ts";
import {
  type FromReceiver,
  MAX_DATAGRAM_BYTES,
  type ReceiverOptions,
  type Refusal,
  type ToReceiver,
} from "./udp_receive_protocol.ts";

/** Most datagrams in one pack. */
export const PACK_DATAGRAMS = 512;
/** Size of a pack's buffer (a datagram that does not fit starts the next pack). */
export const PACK_BYTES = 262_144;
/** A pack that is not full is handed over after at most this long, in ms. */
export const PACK_INTERVAL_MS = 5;
/** Bytes of packs handed over and not yet processed by the main thread, at most. */
export const MAX_QUEUED_BYTES = 8 * 1_048_576;
/**
 * Batches taken after each datagram Deno's op delivers, at most ({@linkcode BATCH_SLOTS}
 * datagrams each): 256 datagrams, then the event loop runs (the pack timer, the main thread's
 * acks) before the next op.
 */
const BATCH_ROUNDS = 4;
/** How often the kernel's drop count (and GELF's pending messages) are reported, in ms. */
const STATUS_INTERVAL_MS = 1_000;

let socket: Deno.DatagramConn | undefined;
let closed = false;
let queued = 0;
let dropped = 0;
/** Where datagrams are gathered; each pack hands over a copy of what is used (no 256 KiB per pack). */
const pack = new Uint8Array(PACK_BYTES);
let used = 0;
/** Where each datagram of the pack ends (reused: a pack's are copied when it is handed over). */
const ends = new Uint32Array(PACK_DATAGRAMS);
/** Per datagram, its source's index among the pack's sources (an address is sent once per pack). */
const from = new Uint32Array(PACK_DATAGRAMS);
/** Datagrams in the pack. */
let count = 0;
/** The pack's sources, in order of first appearance, and their indexes. */
let sourceIndex = new Map<string, number>();
let firstAt = 0;
/** Refusals since the last pack, by source and reason. */
let refused = new Map<string, Refusal>();
let duplicates = 0;
/** GELF ports: what makes messages of the datagrams. */
let gelf: GelfDatagrams | undefined;
/** `--allow-from`; undefined: any source. */
let allowFrom: SourceFilter | undefined;

function reply(message: FromReceiver, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

/** Whether a datagram came since the last status report. */
let arrived = false;
/** The status report's timer: set while datagrams come or GELF messages are pending. */
let statusTimer: ReturnType<typeof setInterval> | undefined;

/** The pack's timer: set while something waits to be handed over, so an idle worker sleeps. */
let packTimer: ReturnType<typeof setTimeout> | undefined;

/** Hands the pack over within {@linkcode PACK_INTERVAL_MS} of its first datagram or count. */
function arm(): void {
  packTimer ??= setTimeout(() => {
    packTimer = undefined;
    flush();
  }, PACK_INTERVAL_MS);
}

function flush(): void {
  if (count === 0 && dropped === 0 && refused.size === 0 && duplicates === 0) return;
  hand(pack.slice(0, used), ends.slice(0, count), from.slice(0, count), [...sourceIndex.keys()]);
  used = 0;
  count = 0;
  sourceIndex = new Map();
}

/** Hands over a pack (with the refusals and counts gathered since the last one). */
function hand(
  data: Uint8Array<ArrayBuffer>,
  ending: Uint32Array<ArrayBuffer>,
  source: Uint32Array<ArrayBuffer>,
  sources: string[],
) {
  // Counted before the transfer detaches it.
  queued += data.length;
  reply(
    {
      type: "datagrams",
      data,
      ends: ending,
      from: source,
      sources,
      receivedMs: firstAt,
      dropped,
      refused: [...refused.values()],
      duplicates,
    },
    [data.buffer, ending.buffer, source.buffer],
  );
  dropped = 0;
  refused = new Map();
  duplicates = 0;
}

/**
 * Adds one message from `source` to the pack (a message larger than a pack goes alone). A
 * pack carries the time its first message arrived: the clock is read once per pack.
 */
function add(message: Uint8Array, source: string): void {
  arm();
  if (used + message.length > pack.length) flush();
  if (count === 0) firstAt = Date.now();
  if (message.length > pack.length) {
    hand(message.slice(), Uint32Array.of(message.length), Uint32Array.of(0), [source]);
    return;
  }
  pack.set(message, used);
  used += message.length;
  ends[count] = used;
  let index = sourceIndex.get(source);
  if (index === undefined) {
    index = sourceIndex.size;
    sourceIndex.set(source, index);
  }
  from[count++] = index;
  if (count >= PACK_DATAGRAMS) flush();
}

function refuse(source: string, reason: string): void {
  arm();
  const key = `${reason} ${source}`;
  const known = refused.get(key);
  if (known === undefined) refused.set(key, { source, reason, count: 1 });
  else known.count++;
}

/**
 * Takes one datagram from `source`: refused (a source outside `--allow-from` is counted so
 * whether the queue is full or not), dropped when the queue is full, or added to the pack.
 */
function accept(datagram: Uint8Array, source: string): void {
  if (allowFrom !== undefined && !allowFrom.allows(source)) {
    refuse(source, "not_allowed");
    return;
  }
  if (queued + used + datagram.length > MAX_QUEUED_BYTES) {
    dropped++;
    arm();
    return;
  }
  if (gelf !== undefined) gelf.handle(datagram, source);
  else add(datagram, source);
}

async function receive(conn: Deno.DatagramConn, options: UdpSocketOptions | undefined): Promise<void> {
  const buffer = new Uint8Array(MAX_DATAGRAM_BYTES + 1);
  // Without FFI for libc, one datagram per op, as Deno gives them.
  const opened = options === undefined ? undefined : DatagramBatch.open(options.fd);
  const batch = typeof opened === "string" ? undefined : opened;
  // Reported when they change, and looked at while datagrams come or GELF messages are
  // pending: an idle worker sleeps, and the main thread is not woken for nothing.
  let lastDrops: number | undefined;
  let lastPending = "0 0";
  const status = () => {
    const total = options?.drops();
    if (total !== undefined && total !== lastDrops) reply({ type: "kernel_drops", total });
    lastDrops = total;
    if (gelf !== undefined) {
      gelf.tick();
      const pending = `${gelf.pendingSets} ${gelf.pendingBytes}`;
      if (pending !== lastPending) reply({ type: "gelf_pending", sets: gelf.pendingSets, bytes: gelf.pendingBytes });
      lastPending = pending;
    }
    if (!arrived && (gelf?.pendingSets ?? 0) === 0) {
      clearInterval(statusTimer);
      statusTimer = undefined;
    }
    arrived = false;
  };
  status();
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
      arrived = true;
      statusTimer ??= setInterval(status, STATUS_INTERVAL_MS);
      accept(datagram, sourceAddress(addr));
      // What else waits is taken in batches (a few, so that timers and acks run between).
      for (let round = 0; batch !== undefined && round < BATCH_ROUNDS && !closed; round++) {
        const n = batch.receive();
        for (let i = 0; i < n; i++) accept(batch.datagram(i), batch.source(i));
        if (n < BATCH_SLOTS) break;
      }
    }
  } finally {
    clearTimeout(packTimer);
    clearInterval(statusTimer);
    gelf?.close();
    flush();
    reply({ type: "closed" });
  }
}

/**
 * Takes the listener's format and source filter. GELF's decoder and the filter are loaded only
 * where used: they use `node:zlib` and `node:net`, whose polyfills add about 3.5 MB to the
 * worker's isolate (measured: an empty worker 5.9 MB, one that loads `node:zlib` 9.5 MB).
 */
async function configure(options: ReceiverOptions): Promise<void> {
  if (options.allowFrom.length > 0) {
    const { SourceFilter } = await import("./source_filter.ts");
    allowFrom = SourceFilter.parse(options.allowFrom);
  }
  if (options.format === "gelf") {
    const { GelfDatagrams } = await import("./gelf_datagrams.ts");
    gelf = new GelfDatagrams({
      maxMessageBytes: options.maxMessageBytes,
      sink: {
        message: (source, json) => add(json, source),
        refused: refuse,
        duplicate: () => {
          duplicates++;
          arm();
        },
      },
    });
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

self.onmessage = async (event: MessageEvent<ToReceiver>) => {
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
      await configure(message);
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
