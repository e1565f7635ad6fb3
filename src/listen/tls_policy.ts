/**
 * The TLS policy of every TLS listener (`--tls-min-version`, `--tls-ciphers`,
 * `--tls-ciphersuites`): which protocol versions and cipher suites a client may use. Pure.
 *
 * Deno 2.9.6's `node:tls` is rustls underneath: it speaks TLS 1.2 and 1.3 only (a TLS 1.1
 * client is refused whatever the setting), honours `minVersion`, and offers only AEAD suites
 * with forward secrecy. It ignores a `ciphers` option (measured: a suite left out was still
 * negotiated), so the suites are judged once the handshake has chosen one
 * ({@linkcode judgeCipher}), and a connection on a suite outside the lists is ended and
 * counted (`reason="cipher_not_allowed"`).
 *
 * @module
 */

/** `--tls-min-version`: the oldest protocol version a client may use. */
export type TlsMinVersion = "1.2" | "1.3";

/** Every TLS 1.2 suite the relay's TLS can negotiate, by OpenSSL's names. */
export const TLS12_SUITES: readonly string[] = [
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-RSA-CHACHA20-POLY1305",
];

/** Every TLS 1.3 suite the relay's TLS can negotiate, by their RFC 8446 names (as OpenSSL's `-ciphersuites`). */
export const TLS13_SUITES: readonly string[] = [
  "TLS_AES_256_GCM_SHA384",
  "TLS_AES_128_GCM_SHA256",
  "TLS_CHACHA20_POLY1305_SHA256",
];

/** The suites a client may use; an empty list allows every suite of its version. */
export interface CipherPolicy {
  /** `--tls-ciphers`: TLS 1.2 suites. */
  tls12: readonly string[];
  /** `--tls-ciphersuites`: TLS 1.3 suites. */
  tls13: readonly string[];
}

/**
 * Reads a suite list as OpenSSL writes one (names separated by colons, commas or spaces);
 * throws a `RangeError` naming a suite that is not one of `known`.
 *
 * @example
 * ```ts
 * parseSuites("TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256", TLS13_SUITES);
 * ```
 */
export function parseSuites(list: readonly string[], known: readonly string[]): string[] {
  const names = list.flatMap((item) => item.split(/[:,\s]+/)).filter((name) => name !== "");
  for (const name of names) {
    if (!known.includes(name)) throw new RangeError(`'${name}' is not one of ${known.join(", ")}`);
  }
  return names;
}

/** Whether a session on `protocol` (`TLSv1.3`) and `cipher` (its name) is within the policy. */
export function judgeCipher(policy: CipherPolicy, protocol: string, cipher: string | undefined): boolean {
  const allowed = protocol === "TLSv1.3" ? policy.tls13 : policy.tls12;
  return allowed.length === 0 || (cipher !== undefined && allowed.includes(cipher));
}

/** `--tls-min-version` as `node:tls` names it. */
export function minVersionName(version: TlsMinVersion): "TLSv1.2" | "TLSv1.3" {
  return version === "1.3" ? "TLSv1.3" : "TLSv1.2";
}
