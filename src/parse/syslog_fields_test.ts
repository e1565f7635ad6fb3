import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import { parseSyslogFields, type SyslogFields } from "./syslog_fields.ts";

const WIRE = new URL("../../tests/fixtures/wire/", import.meta.url);
const dec = new TextDecoder();

/** The first message of a capture: a datagram, or the first frame of a stream. */
function firstMessage(name: string): string {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(new URL(`${name}/datagram-001.bin`, WIRE));
  } catch {
    bytes = Deno.readFileSync(new URL(`${name}/stream.bin`, WIRE));
  }
  let text = dec.decode(bytes);
  const counted = /^(\d+) </.exec(text);
  if (counted !== null) text = text.slice(counted[0].length - 1, counted[0].length - 1 + Number(counted[1]));
  return text.split("\n")[0]!.replace(/\r?\n?$/, "");
}

/** The fields as plain JSON values (structured data has no prototype), the message's first 40 characters. */
function summary(fields: SyslogFields): Record<string, unknown> {
  const { message, ...rest } = fields;
  return { ...JSON.parse(JSON.stringify(rest)), message: message.slice(0, 40) };
}

Deno.test("parseSyslogFields() reads the header of every syslog capture in the fixtures", async (t) => {
  const logger = { facility: "local0", severity: "info", hostname: "vm", appname: "harness-logger" };
  const rsyslog = { facility: "local0", severity: "info", hostname: "vm", appname: "harness-rsyslog" };
  const loggen5424 = {
    facility: "auth",
    severity: "info",
    version: 1,
    hostname: "localhost",
    appname: "prg00000",
    procid: "1234",
    message: "seq: 0000000000, thread: 0000, runid: 17",
  };
  const loggenLegacy = {
    facility: "auth",
    severity: "info",
    hostname: "localhost",
    appname: "prg00000",
    procid: "1234",
    message: "seq: 0000000000, thread: 0000, runid: 17",
  };
  const table: [string, Record<string, unknown>][] = [
    ["logger-udp-rfc3164", { ...logger, message: "harness seq=1 HSEQ:L:1 xxxxxxxxxxxxxxxxx" }],
    ["logger-tcp-lf-rfc3164", { ...logger, message: "harness seq=1 HSEQ:L:1 xxxxxxxxxxxxxxxxx" }],
    ["logger-tcp-octet-rfc3164", { ...logger, message: "harness seq=1 HSEQ:L:1 xxxxxxxxxxxxxxxxx" }],
    ["logger-udp-rfc5424", {
      ...logger,
      version: 1,
      structuredData: { timeQuality: { tzKnown: "1", isSynced: "0" } },
      message: "harness seq=1 HSEQ:L:1 xxxxxxxxxxxxxxxxx",
    }],
    ["logger-tcp-lf-rfc5424", {
      ...logger,
      version: 1,
      structuredData: { timeQuality: { tzKnown: "1", isSynced: "0" } },
      message: "harness seq=1 HSEQ:L:1 xxxxxxxxxxxxxxxxx",
    }],
    ["loggen-udp-rfc5424", loggen5424],
    ["loggen-tcp-rfc5424", loggen5424],
    ["loggen-tls-rfc5424", loggen5424],
    ["loggen-udp-legacy", loggenLegacy],
    ["loggen-tcp-legacy", loggenLegacy],
    ["rsyslog-tls-gtls-rfc3164-octet-counted", { ...rsyslog, message: "harness seq=1 HSEQ:R:1 xxxxxxxxxxxxxxxxx" }],
    ["rsyslog-tls-gtls-rfc5424-octet-counted", {
      ...rsyslog,
      version: 1,
      message: "harness seq=1 HSEQ:R:1 xxxxxxxxxxxxxxxxx",
    }],
    ["rsyslog-tls-gtls-rfc5424-traditional", {
      ...rsyslog,
      version: 1,
      message: "harness seq=1 HSEQ:R:1 xxxxxxxxxxxxxxxxx",
    }],
  ];
  for (const [capture, expected] of table) {
    await t.step(capture, () => {
      const text = firstMessage(capture);
      const fields = parseSyslogFields(text);
      const got = summary(fields);
      // loggen's run id differs per capture: compare its message by prefix.
      if (typeof expected.message === "string") got.message = (got.message as string).slice(0, expected.message.length);
      assertEquals(got, expected);
    });
  }
});

Deno.test("parseSyslogFields() reads RFC 5424 fields, NILVALUEs and structured data with escapes", async (t) => {
  const table: [string, string, SyslogFields][] = [
    ["RFC 5424 example 1", "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed", {
      facility: "auth",
      severity: "crit",
      version: 1,
      hostname: "mymachine.example.com",
      appname: "su",
      msgid: "ID47",
      message: "'su root' failed",
    }],
    ["nil everything, no MSG", "<13>1 - - - - - -", { facility: "user", severity: "notice", version: 1, message: "" }],
    ["a BOM before MSG is removed", "<13>1 - h a - - - \uFEFFhello", {
      facility: "user",
      severity: "notice",
      version: 1,
      hostname: "h",
      appname: "a",
      message: "hello",
    }],
    [
      "escapes in values, two elements",
      '<165>1 2003-10-11T22:14:15.003Z h evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Appl\\"ic\\]a\\\\tion" x="a\\b"][b@1 k=""] msg',
      {
        facility: "local4",
        severity: "notice",
        version: 1,
        hostname: "h",
        appname: "evntslog",
        msgid: "ID47",
        structuredData: {
          "exampleSDID@32473": { iut: "3", eventSource: 'Appl"ic]a\\tion', x: "a\\b" },
          "b@1": { k: "" },
        },
        message: "msg",
      },
    ],
    ["malformed structured data: the whole text", '<13>1 - h a - - [x k="unterminated] m', {
      facility: "user",
      severity: "notice",
      message: '<13>1 - h a - - [x k="unterminated] m',
    }],
    ["a header cut short: the whole text", "<13>1 2026-01-01T00:00:00Z host", {
      facility: "user",
      severity: "notice",
      message: "<13>1 2026-01-01T00:00:00Z host",
    }],
    ["no PRI: the whole text", "plain text", { message: "plain text" }],
    ["a PRI over 191: the whole text", "<192>1 - - - - - - m", { message: "<192>1 - - - - - - m" }],
    ["RFC 3164 without a hostname", "<13>Nov 30 10:00:00 app[7]: hi", {
      facility: "user",
      severity: "notice",
      appname: "app",
      procid: "7",
      message: "hi",
    }],
    ["RFC 3164 with a year and no tag", "<13>Nov 30 2026 10:00:00 host just text", {
      facility: "user",
      severity: "notice",
      hostname: "host",
      message: "just text",
    }],
    ["PRI and text with no time", "<13>hello there", {
      facility: "user",
      severity: "notice",
      message: "<13>hello there",
    }],
  ];
  for (const [name, text, expected] of table) {
    await t.step(name, () => {
      const got = parseSyslogFields(text);
      // Structured data has no prototype (an SD-ID may be `__proto__`): compare as plain objects.
      const plain = got.structuredData === undefined
        ? got
        : { ...got, structuredData: JSON.parse(JSON.stringify(got.structuredData)) };
      assertEquals(plain, expected);
    });
  }
});

Deno.test("parseSyslogFields(): an SD-ID or a name __proto__ is data, not a prototype", () => {
  const fields = parseSyslogFields('<13>1 - - - - - [__proto__ __proto__="x" polluted="1"] m');
  assertEquals(JSON.stringify(fields.structuredData), '{"__proto__":{"__proto__":"x","polluted":"1"}}');
  assertEquals(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("parseSyslogFields() on any text: never throws, message is a tail of the text (property)", () => {
  const header = fc.oneof(
    fc.constant("<13>1 2026-11-30T10:00:00Z host app 1 ID "),
    fc.constant("<134>Nov 30 10:00:00 host tag[9]: "),
    fc.constant("<38>2026-11-23T23:15:17 localhost prg[1]: "),
    fc.constant("<13>"),
    fc.constant(""),
  );
  const body = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.constantFrom('[a b="c"] x', "- x", "[", "[a", '[a b="', "\uFEFFx"),
  );
  fc.assert(
    fc.property(header, body, (h, b) => {
      const text = h + b;
      const fields = parseSyslogFields(text);
      assert(text.endsWith(fields.message), `${JSON.stringify(text)} -> ${JSON.stringify(fields.message)}`);
      if (fields.facility === undefined) assertEquals(fields.message, text);
    }),
    { numRuns: 2_000 },
  );
});
