/**
 * The benchmark's messages: log-like lines of an exact size with varied words and numbers
 * (they compress about as real logs do), numbered with `seq=N`.
 *
 * @module
 */

/** What a message is. */
export type MessageFormat = "rfc5424" | "rfc3164" | "gelf";

/** Words the lines are made of. */
export const WORDS = [
  "user",
  "session",
  "GET",
  "POST",
  "/api/v1/orders",
  "/health",
  "status=200",
  "status=404",
  "latency_ms",
  "upstream",
  "connection",
  "accepted",
  "closed",
  "timeout",
  "retry",
  "db.query",
  "cache.miss",
  "cache.hit",
  "tenant",
  "region=eu-west-1",
  "bytes_out",
  "request_id",
  "trace",
  "warn",
  "info",
  "kernel:",
  "sshd[812]:",
];

/** A deterministic pseudo-random number generator, so runs compare. */
/** A repeatable pseudo-random generator in [0, 1). */
export function generator(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

/**
 * One message of exactly `bytes` bytes including its LF (NUL for GELF), with log-like varied
 * content.
 */
export function message(format: MessageFormat, bytes: number, seq: number, random: () => number): string {
  if (format === "gelf") {
    const head = `{"version":"1.1","host":"web-${seq % 40}","timestamp":${1795500000 + seq / 1000},"level":6,` +
      `"_seq":${seq},"short_message":"`;
    let text = "";
    while (head.length + text.length + 3 < bytes) text += ` ${WORDS[Math.floor(random() * WORDS.length)]!}`;
    return head + text.slice(0, bytes - head.length - 3) + '"}\0';
  }
  const s = String(seq % 60).padStart(2, "0");
  const head = format === "rfc5424"
    ? `<134>1 2026-11-24T00:00:${s}.${String(seq).padStart(6, "0").slice(-6)}+00:00 web-${seq % 40} app ${
      1000 + (seq % 900)
    } - - seq=${seq}`
    : `<134>Nov 24 00:00:${s} web-${seq % 40} app[${1000 + (seq % 900)}]: seq=${seq}`;
  let text = head;
  while (text.length < bytes - 1) {
    const word = WORDS[Math.floor(random() * WORDS.length)]!;
    text += random() < 0.3 ? ` ${word}=${Math.floor(random() * 100000)}` : ` ${word}`;
  }
  return text.slice(0, bytes - 1) + "\n";
}
