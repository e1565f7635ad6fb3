/**
 * Client-certificate policy for TLS listeners (mutual TLS): whether a client that finished
 * its handshake may send, and the identity to log. Pure: the TLS edge hands in what the
 * handshake showed.
 *
 * @module
 */

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
  refusal?: "no_client_certificate" | "untrusted_client_certificate" | "client_not_allowed";
  /** The verification error, when there was one. */
  error?: string;
}

/** The names a certificate proves: its subject CN and each subjectAltName value. */
export function certificateNames(peer: PeerCertificateInfo): string[] {
  const names: string[] = [];
  const cn = peer.subject?.CN;
  if (typeof cn === "string") names.push(cn);
  else if (Array.isArray(cn)) names.push(...cn);
  for (const entry of (peer.subjectAltName ?? "").split(", ")) {
    const colon = entry.indexOf(":");
    if (colon > 0) names.push(entry.slice(colon + 1));
  }
  return names;
}

/**
 * Whether `name` matches a `--client-allow` pattern: equal (case-insensitive for DNS names),
 * or `*.example.com` matching exactly one more label.
 */
export function nameMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase(), n = name.toLowerCase();
  if (!p.startsWith("*.")) return p === n;
  const dot = n.indexOf(".");
  return dot > 0 && n.slice(dot + 1) === p.slice(2);
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
  if (mode !== "required") return verdict;
  if (!presented) return { ...verdict, accepted: false, refusal: "no_client_certificate" };
  if (!verified) return { ...verdict, accepted: false, refusal: "untrusted_client_certificate" };
  if (allow.length > 0) {
    const names = certificateNames(peer);
    if (!allow.some((pattern) => names.some((name) => nameMatches(pattern, name)))) {
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
