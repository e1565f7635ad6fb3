/**
 * PROXY protocol headers, versions 1 and 2 (haproxy's `proxy-protocol.txt`): the header a
 * load balancer (AWS NLB, HAProxy) puts before the client's bytes so that the server learns
 * the client's address. Parsed incrementally, because a header may arrive split across TCP
 * segments; size-bounded, because the bytes come from the network before anything is trusted.
 * (Written here rather than taken from npm: the packages found parse whole buffers only and
 * are no longer maintained.)
 *
 * @module
 */

/** Longest version 1 header, CRLF included (`proxy-protocol.txt` section 2.1). */
export const MAX_PROXY_V1_BYTES = 107;
/**
 * Longest version 2 header accepted, in bytes: the 16-byte fixed part plus addresses and TLVs.
 * The format allows 65,551; load balancers send well under 300 (an AWS NLB sends the
 * addresses and at most a VPC endpoint id), so anything longer is refused as malformed.
 */
export const MAX_PROXY_V2_BYTES = 16 + 2048;
/** PP2_TYPE_AWS: AWS's TLV, whose subtype 0x01 carries the VPC endpoint id. */
export const PP2_TYPE_AWS = 0xea;
const PP2_SUBTYPE_AWS_VPCE_ID = 0x01;

/** The 12-byte signature that opens a version 2 header. */
const V2_SIGNATURE = new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = new TextEncoder().encode("PROXY ");

/** An address and port from a header. */
export interface ProxyEndpoint {
  /** IPv4 dotted quad or IPv6 in its shortest form. */
  address: string;
  /** TCP port. */
  port: number;
}

/** One type-length-value entry of a version 2 header. */
export interface ProxyTlv {
  /** Type byte. */
  type: number;
  /** Value bytes. */
  value: Uint8Array;
}

/** A complete, valid header. */
export interface ProxyHeader {
  /** Header bytes, to skip before the client's own bytes. */
  length: number;
  /** Protocol version. */
  version: 1 | 2;
  /**
   * `proxy`: the addresses are the client's. `local`: the connection is the balancer's own
   * (a health check) or the addresses are unknown; the socket's addresses stand.
   */
  command: "proxy" | "local";
  /** The client, for `proxy` with an IP family. */
  source?: ProxyEndpoint;
  /** The address the client connected to, for `proxy` with an IP family. */
  destination?: ProxyEndpoint;
  /** Version 2 TLVs, unread. */
  tlvs: ProxyTlv[];
  /** The AWS VPC endpoint id, when the AWS TLV carries one. */
  vpcEndpointId?: string;
}

/** Why a header is refused. */
export type ProxyHeaderError =
  | "not_proxy"
  | "v1_malformed"
  | "v1_too_long"
  | "v2_malformed"
  | "v2_too_long";

/** What {@linkcode parseProxyHeader} found. */
export type ProxyParse = ProxyHeader | "incomplete" | ProxyHeaderError;

/**
 * Reads a PROXY header at the start of `bytes`: the header, `"incomplete"` when `bytes` is a
 * valid beginning of one (read more and call again), or why it cannot be one.
 *
 * @example
 * ```ts
 * const bytes = new TextEncoder().encode("PROXY TCP4 192.0.2.1 198.51.100.2 40000 514\r\n<13>hi");
 * const header = parseProxyHeader(bytes);
 * // header.source is { address: "192.0.2.1", port: 40000 }; header.length is 46
 * ```
 */
export function parseProxyHeader(bytes: Uint8Array): ProxyParse {
  if (bytes.length === 0) return "incomplete";
  if (bytes[0] === V2_SIGNATURE[0]) {
    if (!startsWith(bytes, V2_SIGNATURE)) return "not_proxy";
    return parseV2(bytes);
  }
  if (!startsWith(bytes, V1_PREFIX)) return "not_proxy";
  return parseV1(bytes);
}

/** Whether `bytes` and `prefix` agree on their common length. */
function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function parseV1(bytes: Uint8Array): ProxyParse {
  const limit = Math.min(bytes.length, MAX_PROXY_V1_BYTES);
  let lf = -1;
  for (let i = 0; i < limit; i++) {
    if (bytes[i] === 0x0a) {
      lf = i;
      break;
    }
  }
  if (lf < 0) return bytes.length >= MAX_PROXY_V1_BYTES ? "v1_too_long" : "incomplete";
  if (lf === 0 || bytes[lf - 1] !== 0x0d) return "v1_malformed";
  const line = new TextDecoder("latin1").decode(bytes.subarray(0, lf - 1));
  const words = line.split(" ");
  const base = { length: lf + 1, version: 1 as const, tlvs: [] };
  if (words[1] === "UNKNOWN") return { ...base, command: "local" };
  if (words.length !== 6) return "v1_malformed";
  const [, family, src, dst, srcPort, dstPort] = words as [string, string, string, string, string, string];
  const address = family === "TCP4" ? ipv4Text : family === "TCP6" ? ipv6Text : undefined;
  if (address === undefined) return "v1_malformed";
  const source = address(src), destination = address(dst);
  const sport = portText(srcPort), dport = portText(dstPort);
  if (source === undefined || destination === undefined || sport === undefined || dport === undefined) {
    return "v1_malformed";
  }
  return {
    ...base,
    command: "proxy",
    source: { address: source, port: sport },
    destination: { address: destination, port: dport },
  };
}

function ipv4Text(text: string): string | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  for (const p of parts) if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
  return text;
}

function ipv6Text(text: string): string | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(":")) return undefined;
  return shortIpv6(text);
}

/** The shortest form of an IPv6 address (RFC 5952), by the URL parser, or undefined. */
function shortIpv6(text: string): string | undefined {
  try {
    const host = new URL(`http://[${text}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return undefined;
  }
}

function portText(text: string): number | undefined {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

function parseV2(bytes: Uint8Array): ProxyParse {
  if (bytes.length < 16) return "incomplete";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const versionCommand = bytes[12]!;
  const familyTransport = bytes[13]!;
  const length = 16 + view.getUint16(14);
  if (versionCommand >> 4 !== 2) return "v2_malformed";
  const command = versionCommand & 0x0f;
  if (command > 1) return "v2_malformed";
  if (length > MAX_PROXY_V2_BYTES) return "v2_too_long";
  if (bytes.length < length) return "incomplete";
  const family = familyTransport >> 4;
  // Address block sizes by family (section 2.2): AF_INET, AF_INET6, AF_UNIX.
  const addressBytes = family === 1 ? 12 : family === 2 ? 36 : family === 3 ? 216 : 0;
  if (family > 3 || (familyTransport & 0x0f) > 2) return "v2_malformed";
  // LOCAL: the receiver skips the rest of the header, whatever it holds (section 2.2).
  if (command === 0) return { length, version: 2, command: "local", tlvs: [] };
  if (16 + addressBytes > length) return "v2_malformed";
  const tlvs = parseTlvs(bytes.subarray(16 + addressBytes, length));
  if (tlvs === undefined) return "v2_malformed";
  const header: ProxyHeader = { length, version: 2, command: "local", tlvs };
  const vpce = vpcEndpointId(tlvs);
  if (vpce !== undefined) header.vpcEndpointId = vpce;
  // PROXY over an unspecified or UNIX family: the socket's own addresses stand.
  if (family !== 1 && family !== 2) return header;
  header.command = "proxy";
  if (family === 1) {
    header.source = { address: bytes.subarray(16, 20).join("."), port: view.getUint16(24) };
    header.destination = { address: bytes.subarray(20, 24).join("."), port: view.getUint16(26) };
  } else {
    header.source = { address: ipv6Bytes(bytes.subarray(16, 32)), port: view.getUint16(48) };
    header.destination = { address: ipv6Bytes(bytes.subarray(32, 48)), port: view.getUint16(50) };
  }
  return header;
}

function ipv6Bytes(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return shortIpv6(groups.join(":"))!;
}

function parseTlvs(bytes: Uint8Array): ProxyTlv[] | undefined {
  const tlvs: ProxyTlv[] = [];
  let i = 0;
  while (i < bytes.length) {
    if (i + 3 > bytes.length) return undefined;
    const length = (bytes[i + 1]! << 8) | bytes[i + 2]!;
    if (i + 3 + length > bytes.length) return undefined;
    tlvs.push({ type: bytes[i]!, value: bytes.subarray(i + 3, i + 3 + length) });
    i += 3 + length;
  }
  return tlvs;
}

function vpcEndpointId(tlvs: ProxyTlv[]): string | undefined {
  const aws = tlvs.find((t) => t.type === PP2_TYPE_AWS && t.value[0] === PP2_SUBTYPE_AWS_VPCE_ID);
  if (aws === undefined) return undefined;
  const id = new TextDecoder("latin1").decode(aws.value.subarray(1));
  return /^[A-Za-z0-9-]+$/.test(id) ? id : undefined;
}

/** Builds a version 2 header (for tests and benchmarks: the shape a load balancer sends). */
export function buildProxyV2(
  source: ProxyEndpoint | undefined,
  destination: ProxyEndpoint | undefined,
  tlvs: readonly ProxyTlv[] = [],
): Uint8Array {
  const v6 = source !== undefined && source.address.includes(":");
  const addressBytes = source === undefined ? 0 : v6 ? 36 : 12;
  let tlvBytes = 0;
  for (const t of tlvs) tlvBytes += 3 + t.value.length;
  const out = new Uint8Array(16 + addressBytes + tlvBytes);
  const view = new DataView(out.buffer);
  out.set(V2_SIGNATURE);
  out[12] = source === undefined ? 0x20 : 0x21;
  out[13] = source === undefined ? 0x00 : v6 ? 0x21 : 0x11;
  view.setUint16(14, addressBytes + tlvBytes);
  if (source !== undefined && destination !== undefined) {
    if (v6) {
      out.set(ipv6ToBytes(source.address), 16);
      out.set(ipv6ToBytes(destination.address), 32);
      view.setUint16(48, source.port);
      view.setUint16(50, destination.port);
    } else {
      out.set(source.address.split(".").map(Number), 16);
      out.set(destination.address.split(".").map(Number), 20);
      view.setUint16(24, source.port);
      view.setUint16(26, destination.port);
    }
  }
  let i = 16 + addressBytes;
  for (const t of tlvs) {
    out[i] = t.type;
    view.setUint16(i + 1, t.value.length);
    out.set(t.value, i + 3);
    i += 3 + t.value.length;
  }
  return out;
}

function ipv6ToBytes(address: string): Uint8Array {
  const [head = "", tail = ""] = address.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = address.includes("::") && tail !== "" ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}
