/**
 * TLS for stream listeners, through `node:tls` over the bytes of a `Deno.Conn`.
 *
 * Why not `Deno.listenTls`: it cannot ask for or verify client certificates, and it cannot
 * start TLS after bytes were already read (a PROXY protocol header comes before the TLS
 * hello). Deno 2.9's `node:tls` can do both when it is given the connection as a stream,
 * so every TLS listener uses it: one code path for TLS with and without mutual TLS and PROXY.
 *
 * Why the ciphertext is fed by hand: Deno's `node:tls` keeps reading its input while the
 * socket is paused (measured: 200 MB buffered for a paused reader). Here the ciphertext is
 * read from the connection only while the decrypted bytes waiting for the framer are below
 * {@linkcode TLS_PLAINTEXT_BUFFER_BYTES}, so a slow relay slows the TLS sender, as for TCP.
 *
 * Client certificates are checked after the handshake ({@linkcode judgeClient}): `node:tls`
 * on Deno refuses a missing certificate in the handshake but reports an untrusted chain only
 * through the socket's `verifyError()`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import tls from "node:tls";
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { type ClientAuthMode, type ClientVerdict, judgeClient } from "./client_auth.ts";
import type { ConnInput } from "./conn_input.ts";
import { RevocationList } from "./revocation.ts";
import { type CipherPolicy, judgeCipher, minVersionName, type TlsMinVersion } from "./tls_policy.ts";

/** Decrypted bytes held for the framer before the connection stops being read, in bytes. */
export const TLS_PLAINTEXT_BUFFER_BYTES = 256 * 1024;

/** PEM texts of a TLS listener. */
export interface TlsMaterial {
  /** Certificate chain. */
  cert: string;
  /** Private key. */
  key: string;
  /** CA bundle that signs client certificates (`--client-ca`). */
  clientCa?: string | undefined;
  /** Revocation lists of those CAs (`--client-crl`). */
  clientCrl?: string | undefined;
}

/** How clients are authenticated. */
export interface ClientPolicy {
  /** `--client-auth`. */
  mode: ClientAuthMode;
  /** `--client-allow` patterns (only with `required`). */
  allow: readonly string[];
  /** `--tls-min-version`. @default {"1.2"} */
  minVersion?: TlsMinVersion;
  /** `--tls-ciphers` and `--tls-ciphersuites`; empty lists allow every suite. */
  ciphers?: CipherPolicy;
}

/** What a TLS listener's handshakes are checked with; swapped whole on reload. */
interface Context {
  secure: tls.SecureContext;
  revocation: RevocationList | undefined;
}

/** A finished handshake. */
export interface TlsSession {
  /** The decrypted bytes; ends (never errors) when the connection does. */
  readable: ReadableStream<Uint8Array>;
  /** The client verdict (identity for the log). */
  client: ClientVerdict;
  /** Negotiated protocol, such as `TLSv1.3`. */
  protocol: string;
  /** Writes bytes to the client, encrypted; resolves once they are handed to the connection. */
  write(bytes: Uint8Array): Promise<void>;
  /** Ends the session and its connection. Idempotent. */
  destroy(): void;
}

/** A failed handshake or a refused client. */
export interface TlsFailure {
  /** Metrics reason: `handshake_error`, or a client refusal. */
  reason: string;
  /** Detail for the log. */
  error: string;
  /** The client verdict, when the handshake finished. */
  client?: ClientVerdict;
}

/** What the terminator needs of the raw connection. */
export interface RawConnection {
  /** The raw bytes. */
  input: ConnInput;
  /** Writes raw bytes (handshake, alerts). */
  write(bytes: Uint8Array): Promise<unknown>;
  /** Closes the raw connection. */
  close(): void;
}

/**
 * Holds the certificate, key and client policy of the TLS listeners, and runs the server
 * side of a handshake over a raw connection. {@linkcode TlsTerminator.reload} swaps the
 * certificates for new connections; established ones keep theirs.
 */
export class TlsTerminator {
  #context: Context;
  readonly #policy: ClientPolicy;

  /** Builds the context; throws a `TypeError` naming the problem when the PEM texts are unusable. */
  constructor(material: TlsMaterial, policy: ClientPolicy) {
    this.#policy = policy;
    this.#context = context(material, policy);
  }

  /** Uses new certificates and CRLs for the next connections; throws (keeping the old ones) when unusable. */
  reload(material: TlsMaterial): void {
    this.#context = context(material, this.#policy);
  }

  /** The revocation lists in use, for the log. */
  get revocation(): RevocationList | undefined {
    return this.#context.revocation;
  }

  /**
   * Runs the handshake over `raw` and checks the client. Resolves with the session, or with
   * why it failed (the raw connection is then closed). Never rejects.
   */
  accept(raw: RawConnection): Promise<TlsSession | TlsFailure> {
    const policy = this.#policy;
    const { secure, revocation } = this.#context;
    const outcome = Promise.withResolvers<TlsSession | TlsFailure>();
    let secured = false;
    /** Ends the handshake as failed (the first outcome wins; later calls do nothing). */
    const fail = (reason: string, error: string) => {
      if (secured) return;
      secured = true;
      socket.destroy();
      outcome.resolve({ reason, error });
    };
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let roomWaiter: (() => void) | undefined;
    let closed = false;
    const readable = new ReadableStream<Uint8Array>({
      start: (c) => void (controller = c),
      pull: () => {
        roomWaiter?.();
        roomWaiter = undefined;
      },
      cancel: () => void socket.destroy(),
    }, new ByteLengthQueuingStrategy({ highWaterMark: TLS_PLAINTEXT_BUFFER_BYTES }));
    const room = () =>
      (controller.desiredSize ?? 0) > 0 || closed
        ? Promise.resolve()
        : new Promise<void>((resolve) => (roomWaiter = resolve));
    const transport = new Duplex({
      read() {
        room().then(() => raw.input.read()).then((chunk) => {
          if (chunk !== undefined) {
            this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            return;
          }
          // Deno's TLSSocket does not always report an input that ends mid-handshake.
          fail("handshake_error", `the connection ended during the handshake (${raw.input.ended})`);
          this.push(null);
        });
      },
      write(chunk: Uint8Array, _encoding, callback) {
        raw.write(chunk).then(() => callback(), (error) => callback(error as Error));
      },
      final(callback) {
        callback();
      },
      destroy(error, callback) {
        raw.close();
        callback(error);
      },
    });
    const socket = new tls.TLSSocket(transport, {
      isServer: true,
      secureContext: secure,
      requestCert: policy.mode !== "none",
      // A missing certificate fails the handshake (the client is told); an untrusted one is
      // judged after it.
      rejectUnauthorized: policy.mode === "required",
    });
    const finish = () => {
      if (closed) return;
      closed = true;
      roomWaiter?.();
      try {
        controller.close();
      } catch { /* cancelled */ }
    };
    socket.on("secure", () => {
      if (secured) return;
      secured = true;
      const peer = peerInfo(socket);
      const client = judgeClient(policy.mode, policy.allow, { ...peer, revoked: revocation?.revokes(peer.raw) });
      if (!client.accepted) {
        socket.destroy();
        outcome.resolve({ reason: client.refusal!, error: client.error ?? client.refusal!, client });
        return;
      }
      const protocol = socket.getProtocol() ?? "unknown";
      const cipher = socket.getCipher()?.name;
      if (policy.ciphers !== undefined && !judgeCipher(policy.ciphers, protocol, cipher)) {
        socket.destroy();
        const error = `${protocol} suite ${cipher} is not in --tls-ciphers or --tls-ciphersuites`;
        outcome.resolve({ reason: "cipher_not_allowed", error, client });
        return;
      }
      outcome.resolve({
        readable,
        client,
        protocol,
        write: (bytes) =>
          new Promise<void>((resolve, reject) => {
            if (socket.destroyed) reject(new Deno.errors.BrokenPipe("the TLS session has ended"));
            else socket.write(bytes, (error) => (error ? reject(error) : resolve()));
          }),
        destroy: () => socket.destroy(),
      });
    });
    socket.on("data", (data: Buffer) => {
      if (!closed) controller.enqueue(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    });
    socket.on("end", finish);
    socket.on("close", () => {
      fail("handshake_error", "the connection closed during the handshake");
      finish();
    });
    socket.on("error", (error: Error) => {
      const noCertificate = (error as { code?: string }).code === "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE";
      fail(noCertificate ? "no_client_certificate" : "handshake_error", error.message);
      finish();
    });
    return outcome.promise;
  }
}

function context(material: TlsMaterial, policy: ClientPolicy): Context {
  checkPair(material);
  let revocation: RevocationList | undefined;
  if (material.clientCrl !== undefined) {
    try {
      revocation = RevocationList.parse(material.clientCrl, material.clientCa ?? "");
    } catch (error) {
      throw new TypeError(`Cannot use the --client-crl file: ${(error as Error).message}`);
    }
  }
  try {
    const secure = tls.createSecureContext({
      cert: material.cert,
      key: material.key,
      minVersion: minVersionName(policy.minVersion ?? "1.2"),
      ...(policy.mode !== "none" && material.clientCa !== undefined && { ca: material.clientCa }),
    });
    return { secure, revocation };
  } catch (error) {
    throw new TypeError(`Cannot use the certificate and key: ${(error as Error).message}`);
  }
}

/**
 * Throws unless the key is the private half of the certificate's public key. Measured on
 * Deno 2.9.6: `createSecureContext` takes a mismatched pair without a word, and every
 * handshake then fails with "unsupported protocol".
 */
function checkPair(material: TlsMaterial): void {
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = new X509Certificate(material.cert);
  } catch (error) {
    throw new TypeError(`Cannot read the certificate: ${(error as Error).message}`);
  }
  try {
    key = createPrivateKey(material.key);
  } catch (error) {
    throw new TypeError(`Cannot read the private key: ${(error as Error).message}`);
  }
  if (!cert.checkPrivateKey(key)) {
    throw new TypeError(
      `The private key does not belong to the certificate (subject ${cert.subject.replace(/\n/g, ", ")})`,
    );
  }
}

/** What the handshake showed about the client's certificate. */
function peerInfo(socket: tls.TLSSocket) {
  const cert = socket.getPeerCertificate();
  const presented = cert !== null && cert !== undefined && Object.keys(cert).length > 0;
  // `verifyError()` is the chain check's result (Node's own `authorized` is computed only for
  // sockets made by `tls.Server`): Node returns an Error with a `code`, Deno 2.9 the code as a
  // string ("" when it passed). If Deno ever lacks it, or returns something else, the client counts as unverified.
  const handle = (socket as unknown as { ssl?: { verifyError?: () => unknown } }).ssl;
  let verifyError: string | undefined = "VERIFY_UNAVAILABLE";
  if (typeof handle?.verifyError === "function") {
    const result = handle.verifyError();
    verifyError = result === null || result === undefined || result === ""
      ? undefined
      : typeof result === "string"
      ? result
      : String((result as { code?: unknown }).code ?? "UNKNOWN_VERIFY_ERROR");
  }
  return {
    subject: presented ? (cert.subject as unknown as Record<string, string | string[]>) : undefined,
    subjectAltName: presented ? cert.subjectaltname : undefined,
    verifyError: presented ? verifyError : undefined,
    raw: presented && cert.raw !== undefined ? new Uint8Array(cert.raw) : undefined,
  };
}
