/**
 * glibc's allocator, tuned for the relay's threads, through libc (`libc.ts`, the same
 * `--allow-ffi` as the UDP receive buffer). Deno allocates `ArrayBuffer` contents (packs of
 * datagrams, journal blocks, batches, records) with `malloc`, and glibc gives each thread
 * that allocates an arena of its own, up to 8 per core: the main thread, the receive and
 * spool workers, Tokio's and V8's threads. Memory freed in an arena stays with it, so after
 * a burst the process holds, per thread, what that thread once used. Measured on 2 cores
 * (the relay alone, UDP at 50,000/s with loggen's burst from a process of its own): 14
 * arenas, 54 MB obtained for 35 to 40 MB in use; with 2 arenas, peak RSS 165 to 168 MB
 * against 174 to 177 (BENCHMARKS.md).
 *
 * {@linkcode Allocator.trim} hands free memory back to the system (`malloc_trim(3)`, which
 * releases free pages inside the arenas too); the relay calls it every
 * {@linkcode TRIM_INTERVAL_MS}, so memory a burst took is returned once it has passed
 * (anonymous memory after that load 100 to 105 MB, with it 79 to 83 MB). Trimming only once
 * the work had stopped was tried: faster in `deno task bench`'s in-process TCP case, slower
 * and larger beside rsyslog (BENCHMARKS.md).
 *
 * Buffers of {@linkcode MMAP_THRESHOLD_BYTES} and more (a batch's chunks, the JSON of a
 * record, records) are mapped from the system each when no arena has free room that fits them,
 * rather than growing an arena, so that freeing one (`release_buffer.ts`) hands it back at
 * once. glibc starts so, but raises its threshold to the size of each mapped buffer freed, up
 * to 32 MiB: after the first batch, chunks and records grew the arenas, which kept them until
 * the next trim. Measured (`deno task bench --only 'TCP, 4 connections,
 * RFC 5424, 200 B$'`, four runs of each, alternated): peak RSS 152, 153, 155 and 161 MB with
 * the threshold glibc moves, 148, 150, 152 and 145 with it fixed; CPU per message the same
 * within the runs' spread (7.6 to 9.1 s per 1M messages both ways).
 *
 * Without FFI for libc (or on another libc or system) nothing is tuned, and the relay says so.
 *
 * @module
 */
import { openLibc } from "./libc.ts";

/** `mallopt(3)`'s `M_ARENA_MAX` (glibc's `malloc.h`). */
const M_ARENA_MAX = -8;
/**
 * Arenas the threads share, at most. Must be set before most threads allocate: glibc fixes
 * its limit once it has more arenas than `M_ARENA_TEST` (8), so the relay sets it first.
 */
export const ARENA_MAX = 2;
/** `mallopt(3)`'s `M_MMAP_THRESHOLD`. */
const M_MMAP_THRESHOLD = -3;
/**
 * Smallest buffer mapped from the system on its own, in bytes: glibc's own starting value,
 * kept (set, it no longer moves). Reads of 64 KiB and the smaller chunks of quiet senders'
 * buffers stay in the arenas.
 */
export const MMAP_THRESHOLD_BYTES = 131_072;
/** How often free memory is handed back to the system, in ms. */
export const TRIM_INTERVAL_MS = 1_000;

const SYMBOLS = {
  mallopt: { parameters: ["i32", "i32"], result: "i32" },
  malloc_trim: { parameters: ["usize"], result: "i32" },
} as const;

/** glibc's allocator, once tuned; see the module documentation. */
export class Allocator {
  readonly #libc: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

  private constructor(libc: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"]) {
    this.#libc = libc;
  }

  /**
   * Limits the arenas to {@linkcode ARENA_MAX} and fixes the mmap threshold at
   * {@linkcode MMAP_THRESHOLD_BYTES}; returns the allocator, or why it cannot be tuned.
   */
  static tune(): Allocator | string {
    const libc = openLibc(SYMBOLS);
    if (typeof libc === "string") return libc;
    if (libc.mallopt(M_ARENA_MAX, ARENA_MAX) !== 1) return "mallopt(M_ARENA_MAX) refused";
    if (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) !== 1) return "mallopt(M_MMAP_THRESHOLD) refused";
    return new Allocator(libc);
  }

  /** Hands free memory back to the system; whether any was. */
  trim(): boolean {
    return this.#libc.malloc_trim(0n) === 1;
  }
}
