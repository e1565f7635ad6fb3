/**
 * Many datagrams in one system call: `recvmmsg(2)` on the descriptor of a UDP socket Deno
 * bound, through libc (`src/libc.ts`).
 *
 * Why: `Deno.DatagramConn.receive` takes one datagram per async op, about 4 us each on this
 * machine, so a receive worker drains at most about 250,000 datagrams a second with nothing
 * else to do; a sender's burst (`loggen` starts each socket with 0.9 s of its rate at once)
 * fills the kernel's buffer faster than that, and the kernel drops. rsyslog's `imudp` takes
 * up to 32 datagrams per `recvmmsg`. Here up to {@linkcode BATCH_SLOTS} are taken without
 * waiting (`MSG_DONTWAIT`) after each datagram Deno's op delivered: the op still does the
 * waiting (the socket stays in Deno's event loop), the batch the bulk.
 *
 * Memory: {@linkcode BATCH_SLOTS} slots of the largest datagram (4 MiB of address space per
 * port), of which only what datagrams were written to is resident (a page or two per slot
 * for syslog's datagrams).
 *
 * The descriptor is Deno's: call {@linkcode DatagramBatch.receive} only while the socket is
 * open (a closed descriptor's number may be another file's next).
 *
 * @module
 */
import { openLibc } from "../libc.ts";
import { MAX_DATAGRAM_BYTES } from "./udp_receive_protocol.ts";

/** Datagrams taken by one call, at most. */
export const BATCH_SLOTS = 64;
/** Room for one datagram: the largest kept, plus one byte to tell that it was larger. */
const SLOT_BYTES = MAX_DATAGRAM_BYTES + 1;
/** `struct mmsghdr` on LP64 Linux (x86_64, aarch64): a `struct msghdr` (56 bytes) and `msg_len`. */
const MMSGHDR_BYTES = 64;
const SOCKADDR_BYTES = 128;
const MSG_DONTWAIT = 0x40;
const AF_INET = 2;
const AF_INET6 = 10;
/**
 * Distinct IPv4 sources whose text is kept; past it the cache starts again. Small: a fleet of
 * 50,000 sources would otherwise keep 50,000 strings for a saving of about 0.1 us each.
 */
const MAX_CACHED_SOURCES = 4_096;

const SYMBOLS = {
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "u64"], result: "i32" },
  // Returns its first argument: the address of a buffer, which the headers point to.
  // (`Deno.UnsafePointer.of` would need FFI for everything, not only libc's path.)
  memcpy: { parameters: ["buffer", "buffer", "usize"], result: "u64" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | string | undefined;

/** Receives up to {@linkcode BATCH_SLOTS} waiting datagrams of one socket per call. */
export class DatagramBatch {
  readonly #recvmmsg: Libc["recvmmsg"];
  readonly #fd: number;
  readonly #data = new Uint8Array(BATCH_SLOTS * SLOT_BYTES);
  readonly #names = new Uint8Array(BATCH_SLOTS * SOCKADDR_BYTES);
  readonly #namesView = new DataView(this.#names.buffer);
  readonly #iovecs = new BigUint64Array(BATCH_SLOTS * 2);
  readonly #headers = new Uint8Array(BATCH_SLOTS * MMSGHDR_BYTES);
  readonly #headersView = new DataView(this.#headers.buffer);
  readonly #ipv4 = new Map<number, string>();
  /** Datagrams the last call took: their address lengths, which the kernel wrote, are set again. */
  #taken = BATCH_SLOTS;

  private constructor(c: Libc, fd: number) {
    this.#recvmmsg = c.recvmmsg;
    this.#fd = fd;
    const address = (bytes: Uint8Array | BigUint64Array) => BigInt(c.memcpy(bytes, bytes, 0n));
    const data = address(this.#data);
    const names = address(this.#names);
    const iovecs = address(this.#iovecs);
    for (let i = 0; i < BATCH_SLOTS; i++) {
      this.#iovecs[2 * i] = data + BigInt(i * SLOT_BYTES);
      this.#iovecs[2 * i + 1] = BigInt(SLOT_BYTES);
      const h = i * MMSGHDR_BYTES;
      this.#headersView.setBigUint64(h, names + BigInt(i * SOCKADDR_BYTES), true); // msg_name
      this.#headersView.setBigUint64(h + 16, iovecs + BigInt(i * 16), true); // msg_iov
      this.#headersView.setBigUint64(h + 24, 1n, true); // msg_iovlen
    }
  }

  /** A batch receiver for descriptor `fd`, or why there is none (no FFI for libc, not Linux). */
  static open(fd: number): DatagramBatch | string {
    libc ??= openLibc(SYMBOLS);
    if (typeof libc === "string") return libc;
    if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") return `not on ${Deno.build.arch}`;
    return new DatagramBatch(libc, fd);
  }

  /**
   * Takes the datagrams waiting, up to {@linkcode BATCH_SLOTS}, without waiting; returns how
   * many (0 when none is, or on any error: the caller's own receive reports errors).
   */
  receive(): number {
    for (let i = 0; i < this.#taken; i++) {
      this.#headersView.setUint32(i * MMSGHDR_BYTES + 8, SOCKADDR_BYTES, true); // msg_namelen
    }
    const n = this.#recvmmsg(this.#fd, this.#headers, BATCH_SLOTS, MSG_DONTWAIT, 0n);
    this.#taken = n > 0 ? n : 0;
    return this.#taken;
  }

  /** The `i`th datagram of the last batch: a view, valid until the next call. */
  datagram(i: number): Uint8Array {
    const length = this.#headersView.getUint32(i * MMSGHDR_BYTES + 56, true);
    const at = i * SLOT_BYTES;
    return this.#data.subarray(at, at + Math.min(length, SLOT_BYTES));
  }

  /**
   * The address the `i`th datagram came from, as Deno writes it (`sourceAddress`): an IPv4
   * address, also when it reached an IPv6 socket mapped (`::ffff:a.b.c.d`); an IPv6 address
   * in RFC 5952's form.
   */
  source(i: number): string {
    const at = i * SOCKADDR_BYTES;
    const family = this.#namesView.getUint16(at, true);
    if (family === AF_INET) return this.#ipv4Text(this.#namesView.getUint32(at + 4, false));
    if (family !== AF_INET6) return "unknown";
    const words: number[] = [];
    for (let w = 0; w < 8; w++) words.push(this.#namesView.getUint16(at + 8 + 2 * w, false));
    if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
      return this.#ipv4Text(words[6]! * 0x10000 + words[7]!);
    }
    return ipv6Text(words);
  }

  #ipv4Text(address: number): string {
    let text = this.#ipv4.get(address);
    if (text === undefined) {
      if (this.#ipv4.size >= MAX_CACHED_SOURCES) this.#ipv4.clear();
      text = `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
      this.#ipv4.set(address, text);
    }
    return text;
  }
}

/** RFC 5952: lowercase hex words, the longest run of two or more zero words (the first such) as `::`. */
export function ipv6Text(words: readonly number[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (ws: readonly number[]) => ws.map((w) => w.toString(16)).join(":");
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLength))}`;
}
