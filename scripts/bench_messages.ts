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

const PATH_PARTS = [
  "api",
  "v1",
  "v2",
  "orders",
  "users",
  "cart",
  "static",
  "img",
  "search",
  "login",
  "items",
  "reports",
];
const METHODS = ["GET", "GET", "GET", "GET", "POST", "PUT", "DELETE", "HEAD"];
const STATUSES = [200, 200, 200, 200, 200, 200, 301, 304, 404, 404, 500, 503];
const AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
  "curl/8.5.0",
  "Go-http-client/2.0",
  "python-requests/2.31.0",
  "kube-probe/1.29",
];
const USERS = ["-", "-", "-", "alice", "bob", "svc-deploy", "carol"];

/**
 * A second kind of realistic line, unlike {@linkcode message}'s word soup: a web server's
 * access log (Apache "combined") sent as RFC 3164 syslog, with client addresses from a large
 * range, random paths, ids, sizes and user agents, about 230 bytes with its LF.
 */
export function accessLine(seq: number, random: () => number): string {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const n = (below: number) => Math.floor(random() * below);
  const s = String(seq % 60).padStart(2, "0");
  const client = `${10 + n(200)}.${n(256)}.${n(256)}.${n(256)}`;
  let path = "";
  for (let i = 1 + n(3); i > 0; i--) path += `/${pick(PATH_PARTS)}`;
  if (random() < 0.5) path += `/${n(1_000_000)}`;
  if (random() < 0.3) path += `?page=${n(50)}&q=${n(100_000).toString(36)}`;
  const referer = random() < 0.6 ? "-" : `https://shop.example.com/${pick(PATH_PARTS)}`;
  return `<190>Nov 24 00:00:${s} web-${seq % 40} nginx[${1000 + (seq % 900)}]: ${client} - ${pick(USERS)} ` +
    `[24/Nov/2026:00:00:${s} +0000] "${pick(METHODS)} ${path} HTTP/1.1" ${pick(STATUSES)} ${n(50_000)} ` +
    `"${referer}" "${pick(AGENTS)}" rt=${(random() * 2).toFixed(3)}\n`;
}

const HACKER = {
  abbreviation: [
    "TCP",
    "HTTP",
    "SDD",
    "RAM",
    "GB",
    "CSS",
    "SSL",
    "AGP",
    "SQL",
    "FTP",
    "PCI",
    "AI",
    "ADP",
    "RSS",
    "XML",
    "EXE",
    "COM",
    "HDD",
    "THX",
    "SMTP",
    "SMS",
    "USB",
    "PNG",
    "SAS",
    "IB",
    "SCSI",
    "JSON",
    "XSS",
    "JBOD",
  ],
  adjective: [
    "auxiliary",
    "primary",
    "back-end",
    "digital",
    "open-source",
    "virtual",
    "cross-platform",
    "redundant",
    "online",
    "haptic",
    "multi-byte",
    "bluetooth",
    "wireless",
    "1080p",
    "neural",
    "optical",
    "solid state",
    "mobile",
  ],
  noun: [
    "driver",
    "protocol",
    "bandwidth",
    "panel",
    "microchip",
    "program",
    "port",
    "card",
    "array",
    "interface",
    "system",
    "sensor",
    "firewall",
    "hard drive",
    "pixel",
    "alarm",
    "feed",
    "monitor",
    "application",
    "transmitter",
    "bus",
    "circuit",
    "capacitor",
    "matrix",
  ],
  verb: [
    "back up",
    "bypass",
    "hack",
    "override",
    "compress",
    "copy",
    "navigate",
    "index",
    "connect",
    "generate",
    "quantify",
    "calculate",
    "synthesize",
    "input",
    "transmit",
    "program",
    "reboot",
    "parse",
  ],
  ing: [
    "backing up",
    "bypassing",
    "hacking",
    "overriding",
    "compressing",
    "copying",
    "navigating",
    "indexing",
    "connecting",
    "generating",
    "quantifying",
    "calculating",
    "synthesizing",
    "transmitting",
    "programming",
    "parsing",
  ],
};
const DOMAINS = ["com", "net", "org", "io", "biz", "info", "name"];
const NAMES = [
  "forward",
  "dynamic",
  "central",
  "global",
  "legacy",
  "human",
  "product",
  "regional",
  "internal",
  "chief",
  "lead",
  "district",
  "corporate",
  "future",
  "investor",
  "dynamic",
  "senior",
];

/**
 * A third kind: lines as `flog -f rfc5424` makes them (the fake log generator users reach
 * for): random priority and version, an RFC 3339 time, a random domain as host, a word as
 * app, a pid and a message id, and a "hacker phrase" as the message.
 */
export function flogLine(seq: number, random: () => number): string {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const n = (below: number) => Math.floor(random() * below);
  const phrases = [
    () =>
      `If we ${pick(HACKER.verb)} the ${pick(HACKER.noun)}, we can get to the ${pick(HACKER.abbreviation)} ${
        pick(HACKER.noun)
      } through the ${pick(HACKER.adjective)} ${pick(HACKER.abbreviation)} ${pick(HACKER.noun)}!`,
    () =>
      `We need to ${pick(HACKER.verb)} the ${pick(HACKER.adjective)} ${pick(HACKER.abbreviation)} ${
        pick(HACKER.noun)
      }!`,
    () =>
      `Try to ${pick(HACKER.verb)} the ${pick(HACKER.abbreviation)} ${pick(HACKER.noun)}, maybe it will ${
        pick(HACKER.verb)
      } the ${pick(HACKER.adjective)} ${pick(HACKER.noun)}!`,
    () =>
      `You can't ${pick(HACKER.verb)} the ${pick(HACKER.noun)} without ${pick(HACKER.ing)} the ${
        pick(HACKER.adjective)
      } ${pick(HACKER.abbreviation)} ${pick(HACKER.noun)}!`,
    () =>
      `The ${pick(HACKER.abbreviation)} ${pick(HACKER.noun)} is down, ${pick(HACKER.verb)} the ${
        pick(HACKER.adjective)
      } ${pick(HACKER.noun)} so we can ${pick(HACKER.verb)} the ${pick(HACKER.abbreviation)} ${pick(HACKER.noun)}!`,
    () =>
      `I'll ${pick(HACKER.verb)} the ${pick(HACKER.adjective)} ${pick(HACKER.abbreviation)} ${
        pick(HACKER.noun)
      }, that should ${pick(HACKER.noun)} the ${pick(HACKER.abbreviation)} ${pick(HACKER.noun)}!`,
  ];
  const ms = 1_795_500_000_000 + seq * 7;
  const time = new Date(ms).toISOString().replace("Z", "+00:00");
  return `<${n(192)}>${1 + n(3)} ${time} ${pick(NAMES)}${pick(NAMES)}.${pick(DOMAINS)} ${
    pick(HACKER.noun).replace(" ", "")
  } ` +
    `${100 + n(9900)} ID${1 + n(1000)} - ${pick(phrases)()}\n`;
}
