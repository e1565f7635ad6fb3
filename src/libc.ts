/**
 * glibc through Deno's FFI, for what Deno does not expose: socket options and batched receives
 * (`listen/socket_options.ts`, `listen/datagram_batch.ts`) and the allocator's tuning
 * (`allocator.ts`). It needs `--allow-ffi` for libc's path ({@linkcode LIBC_PATHS}); without
 * it callers are told why and do without.
 *
 * @module
 */

/**
 * Where glibc's `libc.so.6` is on the systems the binary runs on (Debian, Ubuntu and
 * distroless on x86_64 and arm64; RHEL-like systems). `--allow-ffi` names these paths.
 */
export const LIBC_PATHS: readonly string[] = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/aarch64-linux-gnu/libc.so.6",
  "/lib64/libc.so.6",
  "/usr/lib64/libc.so.6",
];

/** libc's functions named in `symbols`, or why they cannot be had. */
export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] | string {
  if (Deno.build.os !== "linux") return `libc is used on Linux only, not ${Deno.build.os}`;
  const granted = (path?: string) =>
    Deno.permissions.querySync(path === undefined ? { name: "ffi" } : { name: "ffi", path }).state === "granted";
  const candidates = granted() ? ["libc.so.6"] : LIBC_PATHS.filter((path) => granted(path));
  if (candidates.length === 0) return "no --allow-ffi for libc (docs/network-edge.md: UDP receive buffer)";
  for (const path of candidates) {
    try {
      return Deno.dlopen(path, symbols).symbols;
    } catch { /* not at this path */ }
  }
  return `libc not found at ${candidates.join(", ")}`;
}
