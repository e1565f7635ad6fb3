/**
 * Datagrams the kernel dropped for a UDP port because its socket's receive buffer was full:
 * the `drops` column of `/proc/net/udp` and `/proc/net/udp6` (Linux). Nothing else counts
 * them: a datagram the relay never read never reaches its counters.
 *
 * Deno 2.9.6 lets a program read `/proc` (and `/sys`) only with `--allow-all`, whatever
 * `--allow-read` says (measured: "Requires all access to /proc/net/udp"), so the relay, which
 * runs with narrower permissions, can count these drops only when run with `--allow-all`;
 * otherwise it says so once at startup and the host's own counter
 * (`netstat -su`, "receive buffer errors") is the place to watch.
 *
 * @module
 */

/** Where Linux lists UDP sockets, with a drop counter each. */
export const PROC_NET_UDP = ["/proc/net/udp", "/proc/net/udp6"];

/**
 * The sum of the `drops` column over the sockets bound to local `port` in a `/proc/net/udp`
 * table (another program's socket on the same port, if any, is counted too).
 *
 * @example
 * ```ts
 * udpDrops(table, 514); // 1234
 * ```
 */
export function udpDrops(table: string, port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  let drops = 0;
  for (const line of table.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (fields.length < 13 || fields[1]?.split(":")[1] !== hexPort) continue;
    const n = Number(fields[12]);
    if (Number.isSafeInteger(n)) drops += n;
  }
  return drops;
}

/**
 * Reads the kernel's drop count of a UDP port; undefined where the tables cannot be read
 * (not Linux, or no `--allow-read` of them).
 */
export function readUdpDrops(port: number): number | undefined {
  let total: number | undefined;
  for (const path of PROC_NET_UDP) {
    try {
      total = (total ?? 0) + udpDrops(Deno.readTextFileSync(path), port);
    } catch { /* absent (no IPv6) or not readable */ }
  }
  return total;
}
