import { assertEquals } from "../../tests/assert.ts";
import { gelfTimestampMs, parseGelfMessage } from "./gelf_message.ts";

const enc = new TextEncoder();

Deno.test("parseGelfMessage() accepts what real clients send and refuses the rest by reason", async (t) => {
  const table: [string, string, { timestampMs: number | undefined } | string][] = [
    [
      "SPEC vector: GELF 1.1 with a fractional timestamp",
      '{"version":"1.1","host":"h","short_message":"m","timestamp":1500000000.5}',
      { timestampMs: 1500000000500 },
    ],
    ["graypy: version 1.0 and null fields", '{"version":"1.0","host":"vm","short_message":"m","_x":null}', {
      timestampMs: undefined,
    }],
    ["no host", '{"short_message":"m"}', { timestampMs: undefined }],
    ["message instead of short_message", '{"message":"m","timestamp":1}', { timestampMs: 1000 }],
    ["a numeric string timestamp", '{"short_message":"m","timestamp":"1500000000.25"}', { timestampMs: 1500000000250 }],
    ["a timestamp that is not a number", '{"short_message":"m","timestamp":"yesterday"}', { timestampMs: undefined }],
    ["a negative timestamp", '{"short_message":"m","timestamp":-5}', { timestampMs: undefined }],
    ["invalid UTF-8 inside a string is tolerated", '{"short_message":"\xff"}', { timestampMs: undefined }],
    ["trailing white space", '{"short_message":"m"}\n', { timestampMs: undefined }],
    ["not JSON", "<13>syslog on a GELF port", "invalid_json"],
    ["cut JSON", '{"short_message":"m"', "invalid_json"],
    ["two documents", '{"short_message":"m"}{"short_message":"n"}', "invalid_json"],
    ["an array", '[{"short_message":"m"}]', "not_object"],
    ["a string", '"short_message"', "not_object"],
    ["null", "null", "not_object"],
    ["no message field", '{"host":"h","full_message":"f"}', "missing_message"],
    ["an empty short_message", '{"short_message":"  "}', "missing_message"],
    ["a numeric short_message", '{"short_message":42}', "missing_message"],
  ];
  for (const [name, json, expected] of table) {
    await t.step(name, () => {
      const bytes = json.includes("\xff")
        ? new Uint8Array([...enc.encode(json.replace("\xff", ""))].flatMap((b, i) => i === 18 ? [0xff, b] : [b]))
        : enc.encode(json);
      const parsed = parseGelfMessage(bytes);
      if (typeof parsed !== "string") {
        assertEquals(parsed.fields, JSON.parse(new TextDecoder().decode(bytes)));
        assertEquals({ timestampMs: parsed.timestampMs }, expected);
      } else assertEquals(parsed, expected);
    });
  }
});

Deno.test("gelfTimestampMs() converts fractional seconds to ms without binary rounding surprises", () => {
  assertEquals(gelfTimestampMs(1500000000.123), 1500000000123);
  assertEquals(gelfTimestampMs(1700000000.999999), 1700000000999);
  assertEquals(gelfTimestampMs(1700000000.9999996), 1700000001000);
  assertEquals(gelfTimestampMs(1500000000), 1500000000000);
  assertEquals(gelfTimestampMs(0), 0);
  assertEquals(gelfTimestampMs(Infinity), undefined);
  assertEquals(gelfTimestampMs(253_402_300_800), undefined);
  assertEquals(gelfTimestampMs(null), undefined);
  assertEquals(gelfTimestampMs(""), undefined);
});
