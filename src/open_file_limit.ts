/**
 * The descriptors this process may open (`RLIMIT_NOFILE`'s soft limit), read through libc,
 * so that a count of connections larger than the process could ever hold is refused at
 * startup instead of failing under load. Deno raises the soft limit to the hard one as it
 * starts, so what is read here is what the relay has.
 *
 * @module
 */
import { openLibc } from "./libc.ts";

/** `RLIMIT_NOFILE` on Linux (`<sys/resource.h>`). */
const RLIMIT_NOFILE = 7;
/** `RLIM_INFINITY`: no limit. */
const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

const SYMBOLS = { getrlimit: { parameters: ["i32", "buffer"], result: "i32" } } as const;

/** The descriptors this process may open, or undefined where it cannot be read (no `--allow-ffi`) or is unlimited. */
export function openFileLimit(): number | undefined {
  const libc = openLibc(SYMBOLS);
  if (typeof libc === "string") return undefined;
  // struct rlimit { rlim_t rlim_cur; rlim_t rlim_max; }, two u64 on 64-bit Linux.
  const limits = new BigUint64Array(2);
  if (libc.getrlimit(RLIMIT_NOFILE, limits) !== 0) return undefined;
  const soft = limits[0]!;
  return soft === RLIM_INFINITY ? undefined : Number(soft);
}
