/**
 * Client-certificate policy for TLS listeners (mutual TLS): whether a client that finished
 * its handshake may send, and the identity to log. Pure: the TLS edge hands in what the
 * handshake showed.
 *
 * `--client-allow` names are matched as RFC 6125 says (sections 6.4.4, 6.4.3, 6.2.1): DNS
 * names against the certificate's dNSName subjectAltNames only, its subject CN only when it
 * has none; a wildcard stands for exactly one left-most label; an IP address against its
 * iPAddress subjectAltNames; email and URI names never match. The names are read from the
 * certificate's DER with `@peculiar/asn1-x509`, not from the `subjectaltname` text: Deno
 * 2.9.6 does not quote a URI that holds `, DNS:` there, and its `X509Certificate.checkHost`
 * matches the CN even beside a dNSName (both measured), so neither can be trusted with this.
 *
 * @module
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate, id_ce_subjectAltName, SubjectAlternativeName } from "@peculiar/asn1-x509";
import { BlockList, isIP } from "node:net";

/** `--client-auth`: ask for no certificate, verify one when given, or demand a valid one. */
export type ClientAuthMode = "none" | "optional" | "required";

/** What the handshake showed about the client's certificate. */
export interface PeerCertificateInfo {
  /** Subject fields (`CN`, `O`, …), absent when the client sent no certificate. */
  subject?: Record<string, string | string[]> | undefined;
  /** `subjectAltName` as `node:tls` renders it: `DNS:a.example, IP Address:192.0.2.1`. */
  subjectAltName?: string | undefined;
  /** The chain check's error code (`CERT_HAS_EXPIRED`, …), or undefined when it passed. */
  verifyError?: string | undefined;
  /** The certificate itself (DER), from which the names it proves are read. */
  raw?: Uint8Array | undefined;
  /** Whether a `--client-crl` list revokes it. */
  revoked?: boolean | undefined;
}

/** The identities a certificate proves, by RFC 6125. */
export interface ProvenNames {
  /** DNS names: the dNSName subjectAltNames, or the subject CNs when there are none. */
  dns: string[];
  /** The iPAddress subjectAltNames. */
  ips: string[];
}

/** The verdict on one client. */
export interface ClientVerdict {
  /** Whether the connection may go on. */
  accepted: boolean;
  /** Whether the client proved an identity the CA vouches for. */
  verified: boolean;
  /** Subject and alternative names, for the connect log line. */
  identity: string | undefined;
  /** Why it was refused (a metrics reason). */
  refusal?: "no_client_certificate" | "untrusted_client_certificate" | "client_not_allowed" | "revoked";
  /** The verification error, when there was one. */
  error?: string;
}

/** The names a certificate (DER) proves, by RFC 6125; none when it cannot be read. */
export function provenNames(der: Uint8Array | undefined): ProvenNames {
  const names: ProvenNames = { dns: [], ips: [] };
  if (der === undefined) return names;
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(der, Certificate);
  } catch {
    return names;
  }
  const extension = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectAltName);
  if (extension !== undefined) {
    try {
      for (const name of AsnConvert.parse(extension.extnValue, SubjectAlternativeName)) {
        if (name.dNSName !== undefined) names.dns.push(name.dNSName);
        if (name.iPAddress !== undefined) names.ips.push(name.iPAddress);
      }
    } catch {
      return { dns: [], ips: [] };
    }
  }
  if (names.dns.length === 0) {
    for (const rdn of cert.tbsCertificate.subject) {
      for (const attribute of rdn) {
        // id-at-commonName (RFC 5280 appendix A.1)
        if (attribute.type !== "2.5.4.3") continue;
        const value = attribute.value.toString();
        if (value !== "") names.dns.push(value);
      }
    }
  }
  return names;
}

/**
 * Whether a presented DNS `name` matches a `--client-allow` pattern, case-insensitively:
 * equal, or either of them `*.domain` standing for exactly one more left-most label.
 */
export function nameMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase(), n = name.toLowerCase();
  if (p === n) return true;
  const [wildcard, other] = p.startsWith("*.") ? [p, n] : n.startsWith("*.") ? [n, p] : [undefined, undefined];
  if (wildcard === undefined || other.startsWith("*.")) return false;
  const dot = other.indexOf(".");
  return dot > 0 && other.slice(dot + 1) === wildcard.slice(2);
}

/** Whether the certificate's proven names satisfy one `--client-allow` pattern. */
export function allowedBy(pattern: string, names: ProvenNames): boolean {
  const family = isIP(pattern);
  if (family !== 0) return names.ips.some((ip) => isIP(ip) === family && sameAddress(ip, pattern));
  return names.dns.some((name) => nameMatches(pattern, name));
}

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  // IPv6 text forms differ (zeros, case): compare through a one-address list.
  const list = new BlockList();
  list.addAddress(a, isIP(a) === 6 ? "ipv6" : "ipv4");
  return list.check(b, isIP(b) === 6 ? "ipv6" : "ipv4");
}

/**
 * Applies `--client-auth` and `--client-allow` to a client after its handshake.
 *
 * @example
 * ```ts
 * judgeClient("required", [], { subject: { CN: "router1" } });
 * // { accepted: true, verified: true, identity: "CN=router1" }
 * ```
 */
export function judgeClient(mode: ClientAuthMode, allow: readonly string[], peer: PeerCertificateInfo): ClientVerdict {
  const presented = peer.subject !== undefined;
  const identity = presented ? describe(peer) : undefined;
  const verified = presented && peer.verifyError === undefined;
  const verdict: ClientVerdict = { accepted: true, verified, identity };
  if (peer.verifyError !== undefined && presented) verdict.error = peer.verifyError;
  // A revoked certificate's key may be anyone's: refused whatever the mode.
  if (presented && peer.revoked === true) {
    return { ...verdict, verified: false, accepted: false, refusal: "revoked", error: "revoked by --client-crl" };
  }
  if (mode !== "required") return verdict;
  if (!presented) return { ...verdict, accepted: false, refusal: "no_client_certificate" };
  if (!verified) return { ...verdict, accepted: false, refusal: "untrusted_client_certificate" };
  if (allow.length > 0) {
    const names = provenNames(peer.raw);
    if (!allow.some((pattern) => allowedBy(pattern, names))) {
      return { ...verdict, accepted: false, refusal: "client_not_allowed" };
    }
  }
  return verdict;
}

function describe(peer: PeerCertificateInfo): string {
  // CN first, whatever order the certificate has.
  const subject = Object.entries(peer.subject ?? {})
    .sort(([a], [b]) => Number(b === "CN") - Number(a === "CN"))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("+") : v}`)
    .join(",");
  return peer.subjectAltName ? `${subject} san=${peer.subjectAltName.replaceAll(", ", ",")}` : subject;
}
