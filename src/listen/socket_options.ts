/**
 * UDP socket options Deno does not expose, set through libc: the receive buffer
 * (`SO_RCVBUF`, or `SO_RCVBUFFORCE` where the process may exceed `net.core.rmem_max`) and
 * the socket's own count of datagrams dropped on a full buffer (`SO_MEMINFO`).
 *
 * Why libc: `Deno.listenDatagram` has no buffer option, and `node:dgram`'s
 * `setRecvBufferSize` in Deno 2.9.6 does not call `setsockopt` at all (measured: it reports
 * 8 MiB while `ss -uam` shows the socket's `rb212992`; its receive path then allocates a
 * buffer of the reported size per datagram). So the socket Deno opened is found by its bound
 * address (`getsockname` over the process's descriptors) and its options set with
 * `setsockopt`. This needs `--allow-ffi` for libc ({@linkcode LIBC_PATHS}); without it the
 * socket keeps the kernel's default buffer and the caller is told why.
 *
 * @module
 */
import { openLibc as openLibcWith } from "../libc.ts";

export { LIBC_PATHS } from "../libc.ts";

const SYMBOLS = {
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const SO_MEMINFO = 55;
const SOCK_DGRAM = 2;
const AF_INET = 2;
const AF_INET6 = 10;
/** `SK_MEMINFO_DROPS`: the index of the drop count in `SO_MEMINFO`'s array. */
const MEMINFO_DROPS = 8;
/** Descriptors searched for the socket, at most. */
const MAX_FD = 65_536;

let libc: Libc | string | undefined;

/** libc's socket functions, or why they cannot be had. */
function openLibc(): Libc | string {
  return (libc ??= openLibcWith(SYMBOLS));
}

function int32(value = 0): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new Int32Array([value]).buffer);
}

function readInt32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer).getInt32(0, true);
}

/** The bound port and family of descriptor `fd`, if it is a UDP socket. */
function boundUdp(c: Libc, fd: number): { port: number; family: number } | undefined {
  const address = new Uint8Array(128);
  const length = int32(address.length);
  if (c.getsockname(fd, address, length) !== 0) return undefined;
  const type = int32();
  if (c.getsockopt(fd, SOL_SOCKET, SO_TYPE, type, int32(4)) !== 0 || readInt32(type) !== SOCK_DGRAM) return undefined;
  const view = new DataView(address.buffer);
  return { family: view.getUint16(0, true), port: view.getUint16(2, false) };
}

/** Options of one UDP socket this process bound. */
export class UdpSocketOptions {
  readonly #c: Libc;
  readonly #fd: number;

  private constructor(c: Libc, fd: number) {
    this.#c = c;
    this.#fd = fd;
  }

  /** The socket's descriptor (valid while Deno's socket is open, and only then). */
  get fd(): number {
    return this.#fd;
  }

  /**
   * The socket this process bound to `port` (`ipv6`: of that family), or why its options
   * cannot be reached.
   */
  static find(port: number, ipv6: boolean): UdpSocketOptions | string {
    const c = openLibc();
    if (typeof c === "string") return c;
    const family = ipv6 ? AF_INET6 : AF_INET;
    for (let fd = 0; fd < MAX_FD; fd++) {
      const bound = boundUdp(c, fd);
      if (bound?.port === port && bound.family === family) return new UdpSocketOptions(c, fd);
    }
    return `no UDP socket of this process is bound to port ${port}`;
  }

  /** The receive buffer the kernel gives the socket, in bytes (twice what was asked, as Linux counts). */
  receiveBuffer(): number {
    const value = int32();
    this.#c.getsockopt(this.#fd, SOL_SOCKET, SO_RCVBUF, value, int32(4));
    return readInt32(value);
  }

  /**
   * Asks for a receive buffer of `bytes` (beyond `net.core.rmem_max` where the process has
   * `CAP_NET_ADMIN`, else up to it); returns what the kernel granted.
   */
  setReceiveBuffer(bytes: number): number {
    if (this.#c.setsockopt(this.#fd, SOL_SOCKET, SO_RCVBUFFORCE, int32(bytes), 4) !== 0) {
      this.#c.setsockopt(this.#fd, SOL_SOCKET, SO_RCVBUF, int32(bytes), 4);
    }
    return this.receiveBuffer();
  }

  /** Datagrams the kernel dropped for this socket so far (full buffer), or undefined where not told. */
  drops(): number | undefined {
    const info = new Uint8Array(4 * 16);
    const length = int32(info.length);
    if (this.#c.getsockopt(this.#fd, SOL_SOCKET, SO_MEMINFO, info, length) !== 0) return undefined;
    if (readInt32(length) < 4 * (MEMINFO_DROPS + 1)) return undefined;
    return new DataView(info.buffer).getUint32(4 * MEMINFO_DROPS, true);
  }
}
