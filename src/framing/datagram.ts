import { trimTrailingDelimiters } from "./syslog_framer.ts";

const SPACE = 0x20;
const LESS_THAN = 0x3c;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/**
 * The syslog message carried by one UDP datagram (RFC 5426: one datagram, one message).
 *
 * Trailing LF, CR and NUL bytes are stripped. syslog-ng's `loggen -P` puts an RFC 6587 octet
 * count inside UDP datagrams too; when a datagram starts with `LEN SP <` and LEN is exactly
 * the length of the rest, the count is removed. Returns a view, never a copy.
 *
 * @example
 * ```ts
 * datagramMessage(new TextEncoder().encode("9 <13>hello")); // "<13>hello"
 * ```
 */
export function datagramMessage(datagram: Uint8Array): Uint8Array {
  let body = datagram;
  let count = 0;
  let i = 0;
  while (i < body.length && i < 10 && body[i]! >= DIGIT_0 && body[i]! <= DIGIT_9) {
    count = count * 10 + (body[i]! - DIGIT_0);
    i++;
  }
  if (
    i > 0 && body[0] !== DIGIT_0 && body[i] === SPACE && body[i + 1] === LESS_THAN &&
    count === body.length - i - 1
  ) {
    body = body.subarray(i + 1);
  }
  return trimTrailingDelimiters(body);
}
