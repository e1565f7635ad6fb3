/**
 * Certificate revocation lists (`--client-crl`, RFC 5280 section 5) for mutual TLS: which
 * client certificates their CA has revoked.
 *
 * Why here and not in the handshake: Deno 2.9.6's `node:tls` (rustls underneath) takes a `crl`
 * option and ignores it (measured: a revoked client certificate finished its handshake and
 * was "authorized"). So the CRLs are read here, each checked against the CA of `--client-ca`
 * that issued it (its signature, by that CA's public key), and a client's certificate is
 * looked up after the handshake by its issuer and serial number. Only the client's own
 * certificate is checked, not the intermediate CAs of its chain.
 *
 * @module
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate, CertificateList, Name } from "@peculiar/asn1-x509";
import { verify, X509Certificate } from "node:crypto";
import { Buffer } from "node:buffer";

/** The hash of each CRL signature algorithm the relay can check (RFC 5758, RFC 4055, RFC 8410); null: none (EdDSA). */
const SIGNATURE_HASHES: Record<string, string | null> = {
  "1.2.840.10045.4.3.2": "sha256", // ecdsa-with-SHA256
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.113549.1.1.11": "sha256", // sha256WithRSAEncryption
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.3.101.112": null, // Ed25519
};

/** One CRL as read: whose it is, until when it is current, and how many certificates it revokes. */
export interface CrlSummary {
  /** The issuing CA's name. */
  issuer: string;
  /** When the CA promised the next list; undefined when it did not say. */
  nextUpdate: Date | undefined;
  /** Certificates it revokes. */
  revoked: number;
}

/** The revoked certificates of a set of CRLs, by issuer and serial number. */
export class RevocationList {
  /** `<issuer DER hex>/<serial hex>` of every revoked certificate. */
  readonly #revoked: Set<string>;
  /** The lists read, for the log. */
  readonly summaries: readonly CrlSummary[];

  private constructor(revoked: Set<string>, summaries: CrlSummary[]) {
    this.#revoked = revoked;
    this.summaries = summaries;
  }

  /**
   * Reads the PEM CRLs in `pem`, each of which must be signed by a CA in `caPem`. Throws a
   * `TypeError` saying which list is unusable and why.
   */
  static parse(pem: string, caPem: string): RevocationList {
    const cas = pemBlocks(caPem, "CERTIFICATE").map((der) => new X509Certificate(Buffer.from(der)));
    const revoked = new Set<string>();
    const summaries: CrlSummary[] = [];
    const blocks = pemBlocks(pem, "X509 CRL");
    if (blocks.length === 0) throw new TypeError("it holds no PEM block 'X509 CRL'");
    for (const der of blocks) {
      let crl: CertificateList;
      try {
        crl = AsnConvert.parse(der, CertificateList);
      } catch (error) {
        throw new TypeError(`a CRL cannot be read: ${(error as Error).message}`);
      }
      const issuer = nameKey(crl.tbsCertList.issuer);
      const issuerText = nameText(crl.tbsCertList.issuer);
      const ca = cas.find((c) => nameKey(AsnConvert.parse(c.raw, Certificate).tbsCertificate.subject) === issuer);
      if (ca === undefined) throw new TypeError(`the CRL of '${issuerText}' is of no CA in --client-ca`);
      if (!signedBy(crl, ca)) throw new TypeError(`the CRL of '${issuerText}' is not signed by that CA's key`);
      for (const entry of crl.tbsCertList.revokedCertificates ?? []) {
        revoked.add(`${issuer}/${serialKey(entry.userCertificate)}`);
      }
      summaries.push({
        issuer: issuerText,
        nextUpdate: crl.tbsCertList.nextUpdate?.getTime(),
        revoked: crl.tbsCertList.revokedCertificates?.length ?? 0,
      });
    }
    return new RevocationList(revoked, summaries);
  }

  /** Whether the certificate (DER) is revoked by one of the lists; false when it cannot be read. */
  revokes(der: Uint8Array | undefined): boolean {
    if (der === undefined) return false;
    try {
      const cert = AsnConvert.parse(der, Certificate).tbsCertificate;
      return this.#revoked.has(`${nameKey(cert.issuer)}/${serialKey(cert.serialNumber)}`);
    } catch {
      return false;
    }
  }
}

/** The DER blocks of type `label` in a PEM text. */
function pemBlocks(pem: string, label: string): Uint8Array[] {
  const pattern = new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`, "g");
  return [...pem.matchAll(pattern)].map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64")));
}

/** A name as comparable bytes: its DER, re-encoded (so that equal names compare equal). */
function nameKey(name: Name): string {
  return Buffer.from(AsnConvert.serialize(name)).toString("hex");
}

/** A name for the log: `CN=test CA`. */
function nameText(name: Name): string {
  return name.map((rdn) => rdn.map((a) => `${a.type === "2.5.4.3" ? "CN" : a.type}=${a.value.toString()}`).join("+"))
    .join(",");
}

/** A serial number as hex without leading zero bytes (DER adds one to keep it positive). */
function serialKey(serial: ArrayBuffer): string {
  return Buffer.from(serial).toString("hex").replace(/^(00)+(?=.)/, "");
}

/** Whether the CRL's signature verifies with the CA's public key. */
function signedBy(crl: CertificateList, ca: X509Certificate): boolean {
  const oid = crl.signatureAlgorithm.algorithm;
  const hash = SIGNATURE_HASHES[oid];
  if (hash === undefined) throw new TypeError(`its signature algorithm ${oid} is not one the relay checks`);
  const tbs = crl.tbsCertListRaw ?? AsnConvert.serialize(crl.tbsCertList);
  try {
    return verify(hash, Buffer.from(tbs), ca.publicKey, Buffer.from(crl.signature));
  } catch {
    return false;
  }
}
