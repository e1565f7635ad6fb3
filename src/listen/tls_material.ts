/**
 * The TLS listeners' PEM files: read at startup and on SIGHUP, each error naming its flag and
 * file; the revocation lists in use are logged, one past its next update warned of.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { TlsMaterial, TlsTerminator } from "./tls_terminator.ts";

/** Where the PEM files are (`--cert`, `--key`, `--client-ca`, `--client-crl`). */
export interface TlsFiles {
  cert: string | undefined;
  key: string | undefined;
  clientCa: string | undefined;
  clientCrl: string | undefined;
}

/** The PEM files of the TLS listeners; throws naming the flag and file that cannot be read. */
export async function readTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  return {
    cert: await readPem("--cert", files.cert!),
    key: await readPem("--key", files.key!),
    clientCa: files.clientCa === undefined ? undefined : await readPem("--client-ca", files.clientCa),
    clientCrl: files.clientCrl === undefined ? undefined : await readPem("--client-crl", files.clientCrl),
  };
}

/** Logs the revocation lists in use; warns of one past its next update (the CA may have revoked more since). */
export function reportRevocation(tls: TlsTerminator, log: Logger): void {
  for (const crl of tls.revocation?.summaries ?? []) {
    const fields = { issuer: crl.issuer, revoked: crl.revoked, nextUpdate: crl.nextUpdate?.toISOString() };
    if (crl.nextUpdate !== undefined && crl.nextUpdate.getTime() < Date.now()) {
      log.warn("A --client-crl list is past its next update: fetch a new one from the CA (still applied)", fields);
    } else {
      log.info("Client certificate revocation list", fields);
    }
  }
}

async function readPem(flag: string, path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "not found" : (error as Error).message;
    throw new Error(`${flag} file '${path}' ${why}`);
  }
  if (!text.includes("-----BEGIN ")) throw new Error(`${flag} file '${path}' holds no PEM block`);
  return text;
}
