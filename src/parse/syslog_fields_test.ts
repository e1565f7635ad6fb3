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
    ["malformed structured data: in the message, the header kept", '<13>1 - h a - - [x k="unterminated] m', {
      facility: "user",
      severity: "notice",
      version: 1,
      hostname: "h",
      appname: "a",
      message: '[x k="unterminated] m',
    }],
    ["RFC 3164 without a hostname", "<13>Nov 30 10:00:00 app[7]: hi", {
      facility: "user",
      severity: "notice",
      appname: "app",
      procid: "7",
      message: "hi",
    }],
    ["RFC 3164 with a year, a TAG without a colon", "<13>Nov 30 2026 10:00:00 host just text", {
      facility: "user",
      severity: "notice",
      hostname: "host",
      appname: "just",
      message: "text",
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

Deno.test("parseSyslogFields() reads as RFC 3164 tells a relay to: no PRI, TAGs without a colon, empty MSGs, bad SD", async (t) => {
  const table: [string, string, SyslogFields][] = [
    // Section 4.3.3: without a valid PRI, the relay assumes 13 and all of it is CONTENT.
    ["no PRI: user.notice, all of it the message", "plain text", {
      facility: "user",
      severity: "notice",
      message: "plain text",
    }],
    ["no PRI, a BSD header: all of it the message", "Oct 11 22:14:15 host app: m", {
      facility: "user",
      severity: "notice",
      message: "Oct 11 22:14:15 host app: m",
    }],
    ["a PRI over 191 is no valid PRI", "<192>1 - - - - - - m", {
      facility: "user",
      severity: "notice",
      message: "<192>1 - - - - - - m",
    }],
    ["an unclosed PRI is none", "<13 hello", { facility: "user", severity: "notice", message: "<13 hello" }],
    // Section 5.4's example: the TAG is "Use", the CONTENT " the BFG!".
    ["section 5.4: a TAG ended by a space", "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!", {
      facility: "user",
      severity: "notice",
      hostname: "10.0.0.99",
      appname: "Use",
      message: "the BFG!",
    }],
    ["section 4.1.3: any non-alphanumeric ends the TAG", "<13>Oct 11 22:14:15 host tag/sub message", {
      facility: "user",
      severity: "notice",
      hostname: "host",
      appname: "tag",
      message: "/sub message",
    }],
    ["a TAG with a colon keeps its [pid] and its dashes", "<13>Oct 11 22:14:15 host my-app[42]: message", {
      facility: "user",
      severity: "notice",
      hostname: "host",
      appname: "my-app",
      procid: "42",
      message: "message",
    }],
    ["section 5.1's example, the TAG with a colon", "<34>Oct 11 22:14:15 mymachine su: 'su root' failed", {
      facility: "auth",
      severity: "crit",
      hostname: "mymachine",
      appname: "su",
      message: "'su root' failed",
    }],
    // A header with nothing after it: the MSG is empty, not the whole text.
    ["RFC 3164: time only", "<13>Oct 11 22:14:15", { facility: "user", severity: "notice", message: "" }],
    ["RFC 3164: time and hostname only", "<13>Oct 11 22:14:15 host", {
      facility: "user",
      severity: "notice",
      hostname: "host",
      message: "",
    }],
    ["RFC 3164: a TAG and nothing after", "<13>Oct 11 22:14:15 host tag", {
      facility: "user",
      severity: "notice",
      hostname: "host",
      appname: "tag",
      message: "",
    }],
    ["PRI only", "<13>", { facility: "user", severity: "notice", message: "" }],
    ["RFC 5424: a header cut short after HOSTNAME", "<13>1 2026-01-01T00:00:00Z host", {
      facility: "user",
      severity: "notice",
      version: 1,
      hostname: "host",
      message: "",
    }],
    ["RFC 5424: VERSION only", "<13>1 ", { facility: "user", severity: "notice", version: 1, message: "" }],
    // One malformed parameter: the valid HOSTNAME and APP-NAME before it stay.
    ['RFC 5424: `name= "value"` keeps the header', '<13>1 2026-01-01T00:00:00Z host app 7 ID [x name= "value"] m', {
      facility: "user",
      severity: "notice",
      version: 1,
      hostname: "host",
      appname: "app",
      procid: "7",
      msgid: "ID",
      message: '[x name= "value"] m',
    }],
    ["RFC 5424: SD glued to the MSG keeps the header", '<13>1 - host app - - [x a="1"]m', {
      facility: "user",
      severity: "notice",
      version: 1,
      hostname: "host",
      appname: "app",
      message: '[x a="1"]m',
    }],
  ];
  for (const [name, text, expected] of table) await t.step(name, () => assertEquals(parseSyslogFields(text), expected));
});
