import { assertEquals } from "../../tests/assert.ts";
import fc from "fast-check";
import { parseRfc3164, parseRfc3339, parseSyslogTimestamp } from "./syslog_timestamp.ts";

const RECV = -1; // "recv": no timestamp read, the caller uses the receive time.

Deno.test("parseSyslogTimestamp() reads the test vectors of SPEC section 3", async (t) => {
  const table: [string, string, number][] = [
    ["<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - msg", "2026-11-23T12:00:00Z", 1065910455003],
    ["<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - msg", "2026-11-23T12:00:00Z", 1061727255000],
    ["<165>1 2003-08-24T05:14:15.000003+05:30 192.0.2.1 myproc 8710 - - msg", "2026-11-23T12:00:00Z", 1061682255000],
    ["<13>1 2018-02-21T21:07:50+02:00 host app - - - msg", "2026-11-23T12:00:00Z", 1519240070000],
    ["<13>1 2003-08-24T05:14:15.123456789Z host app - - - msg", "2026-11-23T12:00:00Z", 1061702055123],
    ["<34>1 2003-10-11t22:14:15.003z host su - - - msg", "2026-11-23T12:00:00Z", 1065910455003],
    ["<13>1 - host app - - - nil timestamp", "2026-11-23T12:00:00Z", RECV],
    ["<34>Oct 11 22:14:15 mymachine su: msg", "2026-11-23T12:00:00Z", 1791756855000],
    ["<34>Dec 31 23:59:59 host app: msg", "2027-01-01T00:00:05Z", 1798761599000],
    ["<34>Jan  1 00:00:01 host app: msg", "2026-12-31T23:59:58Z", 1798761601000],
    ["<34>Feb 29 12:00:00 host app: msg", "2028-03-01T00:00:00Z", 1835438400000],
    ["<134>2026-11-23T23:14:57.106076+00:00 vm app: msg", "2026-11-23T12:00:00Z", 1795475697106],
    ["<13>plain text", "2026-11-23T12:00:00Z", RECV],
    ["no header at all", "2026-11-23T12:00:00Z", RECV],
    ["", "2026-11-23T12:00:00Z", RECV],
  ];
  for (const [message, received, expected] of table) {
    await t.step(message || "(empty)", () => {
      const got = parseSyslogTimestamp(message, Date.parse(received));
      assertEquals(got ?? RECV, expected);
    });
  }
});

Deno.test("parseSyslogTimestamp() reads the timestamps of real clients", async (t) => {
  const table: [string, number][] = [
    // logger --rfc5424: microseconds and +00:00.
    ["<134>1 2026-11-23T23:14:35.769131+00:00 vm harness-logger - - [timeQuality x] m", 1795475675769],
    // loggen legacy: a BSD header with an ISO timestamp and no zone (UTC).
    ["<38>2026-11-23T23:15:05 localhost prg00000[1234]: seq: 0", 1795475705000],
    // logger RFC 3164.
    ["<134>Nov 23 23:14:27 vm harness-logger: harness seq=1", 1795475667000],
  ];
  for (const [message, expected] of table) {
    await t.step(message.slice(0, 40), () => {
      assertEquals(parseSyslogTimestamp(message, Date.parse("2026-11-24T00:00:00Z")), expected);
    });
  }
});

Deno.test("parseRfc3339() rejects impossible dates and reads zones", async (t) => {
  const table: [string, number | undefined][] = [
    ["2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29)],
    ["2023-02-29T00:00:00Z", undefined],
    ["2023-13-01T00:00:00Z", undefined],
    ["2023-01-01T24:00:00Z", undefined],
    ["2023-01-01T00:00:00+25:00", undefined],
    ["2023-01-01T00:00:00-00:30", Date.UTC(2023, 0, 1, 0, 30)],
    ["2023-01-01T00:00:00.5Z", Date.UTC(2023, 0, 1, 0, 0, 0, 500)],
    ["2023-01-01 00:00:00Z", undefined],
    ["-", undefined],
  ];
  for (const [text, expected] of table) await t.step(text, () => assertEquals(parseRfc3339(text), expected));
});

Deno.test("parseRfc3164() picks the year closest to the receive time", async (t) => {
  const table: [string, string, number | undefined][] = [
    ["Jun 15 12:00:00", "2026-06-15T12:00:00Z", Date.UTC(2026, 5, 15, 12)],
    ["Dec 31 23:00:00", "2027-01-01T01:00:00Z", Date.UTC(2026, 11, 31, 23)],
    ["Jan  1 01:00:00", "2026-12-31T23:00:00Z", Date.UTC(2027, 0, 1, 1)],
    ["Feb 29 00:00:00", "2026-06-01T00:00:00Z", undefined],
    ["Oct 11 2019 22:14:15", "2026-06-01T00:00:00Z", Date.UTC(2019, 9, 11, 22, 14, 15)],
    ["Oct 11 22:14:15.250", "2026-10-11T00:00:00Z", Date.UTC(2026, 9, 11, 22, 14, 15, 250)],
    ["Foo 11 22:14:15", "2026-10-11T00:00:00Z", undefined],
    ["Oct 11 25:14:15", "2026-10-11T00:00:00Z", undefined],
  ];
  for (const [text, received, expected] of table) {
    await t.step(
      `${text} received ${received}`,
      () => assertEquals(parseRfc3164(text, Date.parse(received)), expected),
    );
  }
});

Deno.test("parseRfc3164() reads a timestamp without a zone in the listener's time zone", async (t) => {
  const table: [string, string, string, number | undefined][] = [
    ["winter in Berlin is UTC+1", "Jan 15 12:00:00", "2027-01-15T12:00:00Z", Date.UTC(2027, 0, 15, 11)],
    ["summer in Berlin is UTC+2", "Jul 15 12:00:00", "2026-07-15T12:00:00Z", Date.UTC(2026, 6, 15, 10)],
    [
      "a December message received in January is of the year before",
      "Dec 31 23:59:30",
      "2027-01-01T00:10:00Z",
      Date.UTC(2026, 11, 31, 22, 59, 30),
    ],
    [
      "a January message received on December 31 (a clock ahead) is of the year after",
      "Jan  1 00:30:00",
      "2026-12-31T23:10:00Z",
      Date.UTC(2026, 11, 31, 23, 30),
    ],
    [
      "a time skipped by summer time is read with the offset before",
      "Mar 29 02:30:00",
      "2026-03-29T12:00:00Z",
      Date.UTC(2026, 2, 29, 1, 30),
    ],
    ["a time that happens twice is the first", "Oct 25 02:30:00", "2026-10-25T12:00:00Z", Date.UTC(2026, 9, 25, 0, 30)],
    [
      "a year in the timestamp is kept",
      "Oct 11 2019 22:14:15",
      "2026-06-01T00:00:00Z",
      Date.UTC(2019, 9, 11, 20, 14, 15),
    ],
  ];
  for (const [name, text, received, expected] of table) {
    await t.step(name, () => assertEquals(parseRfc3164(text, Date.parse(received), "Europe/Berlin"), expected));
  }
});

Deno.test("parseSyslogTimestamp() reads RFC 3339 without a zone in the time zone, and keeps a zone given", () => {
  const at = Date.parse("2026-07-01T00:00:00Z");
  const local = "<13>2026-07-15T12:00:00 host app: m";
  assertEquals(parseSyslogTimestamp(local, at, "America/New_York"), Date.UTC(2026, 6, 15, 16));
  assertEquals(parseSyslogTimestamp(local, at), Date.UTC(2026, 6, 15, 12));
  assertEquals(
    parseSyslogTimestamp("<13>1 2026-07-15T12:00:00Z host app - - - m", at, "Asia/Tokyo"),
    Date.UTC(2026, 6, 15, 12),
  );
});

/** RFC 3164's timestamp as a regular expression (what the byte reader replaced), for the property below. */
const RFC3164_REFERENCE = /^([A-Z][a-z]{2}) ([ \d]\d) (?:(\d{4}) )?(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?=[ :]|$)/;
const MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The time the pattern reads from `text` in UTC, the year closest to `received`, as the reader must. */
function reference3164(text: string, received: number): number | undefined {
  const m = RFC3164_REFERENCE.exec(text.slice(0, 32));
  const month = m === null ? -1 : MONTH_NAMES.indexOf(m[1]!);
  if (m === null || month < 0) return undefined;
  const [day, hour, minute, second] = [Number(m[2]!.trim()), Number(m[4]), Number(m[5]), Number(m[6])];
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const millis = Number(((m[7] ?? "") + "00").slice(0, 3));
  const valid = (year: number) => day >= 1 && new Date(Date.UTC(year, month, day)).getUTCDate() === day;
  const years = m[3] === undefined ? [2025, 2026, 2027] : [Number(m[3])];
  let best: number | undefined;
  for (const year of years.filter(valid)) {
    const t = Date.UTC(year, month, day, hour, minute, second, millis);
    if (best === undefined || Math.abs(t - received) < Math.abs(best - received)) best = t;
  }
  return best !== undefined && m[3] === undefined && Math.abs(best - received) > 366 * 86_400_000 ? undefined : best;
}

Deno.test("parseRfc3164() reads what RFC 3164's pattern matches, and nothing else, as the pattern reads it", () => {
  const header = fc.tuple(
    fc.constantFrom("Jan", "Feb", "Dec", "Foo", "jan", "JAN", "Ja"),
    fc.constantFrom(" ", "  ", "", "x"),
    fc.constantFrom(" 7", "07", "29", "30", "31", "00", "7", "x7"),
    fc.constantFrom(" ", "", " 2024 ", " 2023 ", " 202 ", "  "),
    fc.constantFrom("23", "00", "24", "9", "x0"),
    fc.constantFrom(":", ".", ""),
    fc.constantFrom("59", "60", "5"),
    fc.constantFrom(":"),
    fc.constantFrom("60", "61", "00", "0"),
    fc.constantFrom("", ".5", ".123", ".123456789", ".1234567890", ".", ".x"),
    fc.constantFrom("", " host app: m", ":", "x", "1", " ".repeat(20) + "z"),
  );
  fc.assert(
    fc.property(header, (parts) => {
      const text = parts.join("");
      const received = Date.UTC(2026, 5, 15);
      assertEquals(parseRfc3164(text, received), reference3164(text, received), text);
    }),
    { numRuns: 20_000 },
  );
});
