/**
 * The source address of a peer as it appears in `logStream`: the host only, with an
 * IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, seen on dual-stack sockets) shown as IPv4.
 */
export function sourceAddress(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return "unknown";
  const host = addr.hostname;
  return host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
}
