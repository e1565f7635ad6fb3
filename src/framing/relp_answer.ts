/**
 * What a RELP server writes back (librelp's `doc/relp.md`; the wording of the answers as
 * librelp's server writes them, `copen.c`, `scsyslog.c`, `cclose.c`): `rsp` frames on the
 * command's transaction number, and the `serverclose` hint on transaction number 0.
 *
 * @module
 */

const enc = new TextEncoder();

/** The relay's name and version in the `relp_software` offer. */
export interface RelpSoftware {
  name: string;
  version: string;
  url: string;
}

/**
 * The RELP version the relay answers with: librelp's current (`RELP_CURR_PROTOCOL_VERSION`,
 * `relp.h`); a librelp client refuses an answer with a higher version than its own.
 */
export const RELP_VERSION = 0;

/** Transaction numbers go up to this and then start again at 1 (`doc/relp.md`, "RELP FRAME"). */
export const MAX_TXNR = 999_999_999;

/** The transaction number after `txnr`. */
export function nextTxnr(txnr: number): number {
  return txnr >= MAX_TXNR ? 1 : txnr + 1;
}

/**
 * One frame, `TXNR SP COMMAND SP DATALEN [SP DATA] LF`, as text (DATALEN counts the UTF-8
 * bytes of `data`), so that the frames of one read are encoded once, together.
 */
export function frameText(txnr: number, command: string, data: string): string {
  // deno-lint-ignore no-control-regex
  const bytes = /^[\x00-\x7f]*$/.test(data) ? data.length : enc.encode(data).length;
  return `${txnr} ${command} ${bytes}${bytes > 0 ? " " : ""}${data}\n`;
}

/** One frame as bytes (see {@linkcode frameText}). */
export function encodeFrame(txnr: number, command: string, data: string): Uint8Array {
  return enc.encode(frameText(txnr, command, data));
}

/** An `rsp` frame answering `txnr` with `text` (`200 OK`, `500 ...`, or empty for `close`), as text. */
export function responseText(txnr: number, text: string): string {
  return frameText(txnr, "rsp", text);
}

/** The `serverclose` hint: the server is ending the session. */
export const SERVERCLOSE = encodeFrame(0, "serverclose", "");

/**
 * Reads the offers of an `open` command: lines of `name[=value[,value...]]` (`doc/relp.md`,
 * "OFFERS"). Names and values are kept as text; empty values are left out.
 */
export function parseOffers(data: Uint8Array): Map<string, string[]> {
  const offers = new Map<string, string[]>();
  for (const line of new TextDecoder().decode(data).split("\n")) {
    if (line === "") continue;
    const eq = line.indexOf("=");
    const name = eq === -1 ? line : line.slice(0, eq);
    const values = eq === -1 ? [] : line.slice(eq + 1).split(",").filter((v) => v !== "");
    offers.set(name, values);
  }
  return offers;
}

/**
 * The answer to an `open` with `offers`: `200 OK` with the relay's offers, or a `500` text
 * when the client offers no usable `relp_version`. `syslog` is offered back when the client
 * offered it (librelp's `selectOffers`); without it the client cannot send messages.
 */
export function openAnswer(offers: Map<string, string[]>, software: RelpSoftware): { ok: boolean; text: string } {
  const version = offers.get("relp_version")?.[0];
  if (version === undefined || !/^\d{1,9}$/.test(version)) {
    return { ok: false, text: "500 no relp_version offered" };
  }
  const syslog = offers.get("commands")?.includes("syslog") ?? false;
  return {
    ok: true,
    text: [
      "200 OK",
      `relp_version=${Math.min(Number(version), RELP_VERSION)}`,
      `relp_software=${software.url},${software.version},${software.name}`,
      `commands=${syslog ? "syslog" : ""}`,
    ].join("\n"),
  };
}
