/**
 * UDP load for the benchmark, from a process of its own and offered the way syslog-ng's
 * `loggen` offers it: `sockets` sockets, `rate` datagrams a second in all for `seconds`, the
 * first `burst` seconds' worth at once.
 *
 *     deno run --allow-ffi scripts/udp_load.ts '{"port":514,"rate":100000,"seconds":10,"burst":0.9,"sockets":4,"format":"rfc5424","bytes":200}'
 *
 * Prints `{"sent":N,"seconds":S,"refused":R}`: what was sent, how long it took (longer than
 * `seconds` where even this cannot keep the rate), and how many sends the kernel refused
 * because an earlier datagram had met a closed port (each is tried again).
 *
 * Why not `Deno.DatagramConn.send`: one datagram per async op, about 4 us each here, and the
 * generator shares the machine's 2 cores with the receiver: measured with one loop per
 * socket inside the benchmark's process (2026-12-01), "100,000/s" reached 54,599 and
 * 59,517/s. Here each socket is connected (`connect(2)`) and sends 64 datagrams per
 * `sendmmsg(2)` through libc, as the receiver takes them with `recvmmsg(2)`.
 *
 * @module
 */
import { deflateSync } from "node:zlib";
import { openLibc } from "../src/libc.ts";
import { generator, message, type MessageFormat } from "./bench_messages.ts";

/** What to send. */
export interface Load {
  port: number;
  rate: number;
  seconds: number;
  burst: number;
  sockets: number;
  format: MessageFormat;
  bytes: number;
}

/** Datagrams per `sendmmsg` call. */
const PER_CALL = 64;
/** Distinct datagrams, sent in turn. */
const DISTINCT = 1_000;
/** `struct mmsghdr` on LP64 Linux: a `struct msghdr` (56 bytes) and `msg_len`, padded. */
const MMSGHDR_BYTES = 64;

const opened = openLibc(
  {
    socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
    sendmmsg: { parameters: ["i32", "pointer", "u32", "i32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
    __errno_location: { parameters: [], result: "pointer" },
  } as const,
);
if (typeof opened === "string") throw new Error(`udp_load.ts needs libc: ${opened}`);
const libc = opened;

/** `ECONNREFUSED`: an earlier datagram met a closed port (the receiver not yet bound). */
const ECONNREFUSED = 111;

function errno(): number {
  return new Deno.UnsafePointerView(libc.__errno_location()!).getInt32();
}

/** Buffers the kernel reads through addresses taken from them: kept reachable, or V8 may free them. */
const held: (Uint8Array | BigUint64Array)[] = [];

function address(bytes: Uint8Array | BigUint64Array): bigint {
  held.push(bytes);
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
}

/** A UDP socket connected to 127.0.0.1:`port`. */
function connected(port: number): number {
  const AF_INET = 2, SOCK_DGRAM = 2;
  const fd = libc.socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr = new Uint8Array(16);
  new DataView(sockaddr.buffer).setUint16(0, AF_INET, true);
  new DataView(sockaddr.buffer).setUint16(2, port, false);
  sockaddr.set([127, 0, 0, 1], 4);
  if (fd < 0 || libc.connect(fd, sockaddr, 16) !== 0) throw new Error(`cannot open a UDP socket to port ${port}`);
  return fd;
}

/** Sends `load`; resolves with what was sent, how long it took in seconds, and the sends refused. */
export async function sendLoad(load: Load): Promise<{ sent: number; seconds: number; refused: number }> {
  const random = generator(7);
  const datagrams = Array.from({ length: DISTINCT }, (_, i) => {
    const bytes = new TextEncoder().encode(message(load.format, load.bytes, i, random).replace(/[\n\0]$/, ""));
    return load.format === "gelf" ? new Uint8Array(deflateSync(bytes)) : bytes;
  });
  const data = new Uint8Array(datagrams.reduce((sum, d) => sum + d.length, 0));
  // Headers for DISTINCT + PER_CALL datagrams, so that any call's run is contiguous.
  const iovecs = new BigUint64Array((DISTINCT + PER_CALL) * 2);
  const headers = new Uint8Array((DISTINCT + PER_CALL) * MMSGHDR_BYTES);
  const view = new DataView(headers.buffer);
  const base = { data: address(data), iovecs: address(iovecs), headers: address(headers) };
  const offsets: number[] = [];
  let at = 0;
  for (const d of datagrams) {
    data.set(d, at);
    offsets.push(at);
    at += d.length;
  }
  for (let i = 0; i < DISTINCT + PER_CALL; i++) {
    const d = i % DISTINCT;
    iovecs[2 * i] = base.data + BigInt(offsets[d]!);
    iovecs[2 * i + 1] = BigInt(datagrams[d]!.length);
    view.setBigUint64(i * MMSGHDR_BYTES + 16, base.iovecs + BigInt(i * 16), true); // msg_iov
    view.setBigUint64(i * MMSGHDR_BYTES + 24, 1n, true); // msg_iovlen
  }
  const fds = Array.from({ length: load.sockets }, () => connected(load.port));
  const total = load.rate * load.seconds;
  const began = performance.now();
  const start = began - load.burst * 1000;
  let sent = 0;
  let call = 0;
  let refused = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * load.rate));
    while (sent < due) {
      const n = Math.min(PER_CALL, due - sent);
      const first = sent % DISTINCT;
      const pointer = Deno.UnsafePointer.create(base.headers + BigInt(first * MMSGHDR_BYTES));
      const done = libc.sendmmsg(fds[call++ % fds.length]!, pointer, n, 0);
      if (done >= 0) {
        sent += done;
        continue;
      }
      // The kernel reports a bounced datagram on the socket's next send; that send did not
      // happen and is tried again.
      const code = errno();
      if (code !== ECONNREFUSED || ++refused > 1_000) throw new Error(`sendmmsg failed: errno ${code}`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const seconds = (performance.now() - began) / 1000;
  for (const fd of fds) libc.close(fd);
  return { sent, seconds, refused };
}

if (import.meta.main) {
  console.log(JSON.stringify(await sendLoad(JSON.parse(Deno.args[0]!) as Load)));
}
