import { gunzipSync } from "node:zlib";
import { assert, assertEquals } from "../../tests/assert.ts";
import { GzipDeflater } from "../spool/gzip_deflater.ts";
import { EventBuffer, type EventFormat } from "./event_buffer.ts";
import { ndjsonFormat } from "./ndjson_format.ts";
import { PlainDeflater } from "./plain_deflater.ts";
import { buildRecords, MAX_RECORD_BYTES } from "./record_builder.ts";
import { cwlFormat } from "./cwl_format.ts";
import { TRANSPORTS } from "./event_runs.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const header = {
  owner: "123456789012",
  logGroup: "/kinesyslog/syslog/514",
  logStream: "10.1.2.3",
  instance: "00000000000000000042",
};

function batch(messages: string[], format: EventFormat = "syslog", receivedMs = 1_700_000_000_000) {
  const buffer = new EventBuffer();
  for (const m of messages) buffer.append(enc.encode(m), receivedMs);
  const taken = buffer.take();
  return { ...taken, format, origins: [0, taken.count, TRANSPORTS.indexOf("tcp")] };
}

const lines = (data: Uint8Array) => dec.decode(data).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));

Deno.test("ndjsonFormat writes one object per event and line, the fields of SPEC 4.2 in order", async () => {
  const built = await buildRecords(
    header,
    batch([
      '<165>1 2003-10-11T22:14:15.003Z h evntslog - ID47 [x@1 k="v\\"w"] \uFEFFmsg one',
      "<13>Nov 30 10:00:00 host app[7]: msg two",
      "no header",
    ]),
    { deflater: () => new GzipDeflater(), format: ndjsonFormat },
  );
  assertEquals(built.records.length, 1);
  const text = dec.decode(gunzipSync(built.records[0]!.data));
  assert(text.endsWith("\n") && text.split("\n").length === 4, text);
  const [a, b, c] = lines(gunzipSync(built.records[0]!.data));
  assertEquals(Object.keys(a), [
    "timestamp",
    "source",
    "port",
    "transport",
    "format",
    "facility",
    "severity",
    "hostname",
    "appname",
    "msgid",
    "version",
    "structured_data",
    "message",
  ]);
  assertEquals(a, {
    timestamp: 1065910455003,
    source: "10.1.2.3",
    port: 514,
    transport: "tcp",
    format: "syslog",
    facility: "local4",
    severity: "notice",
    hostname: "h",
    appname: "evntslog",
    msgid: "ID47",
    version: 1,
    structured_data: { "x@1": { k: 'v"w' } },
    message: "msg one",
  });
  assertEquals([b.appname, b.procid, b.hostname, b.message], ["app", "7", "host", "msg two"]);
  // No header: the receive time, the whole text, user.notice as RFC 3164 section 4.3.3 says.
  assertEquals(c, {
    timestamp: 1_700_000_000_000,
    source: "10.1.2.3",
    port: 514,
    transport: "tcp",
    format: "syslog",
    facility: "user",
    severity: "notice",
    message: "no header",
  });
});

Deno.test("ndjsonFormat reads GELF: host, severity from level, short_message, the document whole", async () => {
  const gelf = { version: "1.1", host: "web-1", short_message: "hi", level: 3, _user: "u" };
  const built = await buildRecords(
    { ...header, logGroup: "/kinesyslog/gelf/12201" },
    batch([JSON.stringify(gelf)], "gelf"),
    { deflater: () => new PlainDeflater(), format: ndjsonFormat },
  );
  assertEquals(lines(built.records[0]!.data), [{
    timestamp: 1_700_000_000_000,
    source: "10.1.2.3",
    port: 12201,
    transport: "tcp",
    format: "gelf",
    hostname: "web-1",
    severity: "err",
    message: "hi",
    gelf,
  }]);
});

Deno.test("ndjsonFormat and cwlFormat each read back their own events and not the other's", async () => {
  const messages = ["<13>1 - h a - - - one", "<13>1 - h a - - - two"];
  const nd = await buildRecords(header, batch(messages), { deflater: () => new PlainDeflater(), format: ndjsonFormat });
  const cwl = await buildRecords(header, batch(messages), { deflater: () => new PlainDeflater(), format: cwlFormat });
  const ndEvents = lines(nd.records[0]!.data).flatMap((o) => ndjsonFormat.events(o) ?? []);
  assertEquals(ndEvents.map((e) => e.message), ["one", "two"]);
  const record = JSON.parse(dec.decode(cwl.records[0]!.data));
  assertEquals(cwlFormat.events(record)!.map((e) => e.message), messages);
  assertEquals(ndjsonFormat.events(record), undefined);
  assertEquals(cwlFormat.events(lines(nd.records[0]!.data)[0]), undefined);
});

Deno.test("plain NDJSON records are filled to within the builder's slack of 1,024,000 bytes", async () => {
  const messages = Array.from({ length: 12_000 }, (_, i) => `<13>1 - host app - - - n=${i} ${"z".repeat(200)}`);
  const built = await buildRecords(header, batch(messages), {
    deflater: () => new PlainDeflater(),
    format: ndjsonFormat,
  });
  assertEquals(built.events, messages.length);
  assert(built.records.length >= 3);
  for (const [i, r] of built.records.entries()) {
    assert(r.data.length <= MAX_RECORD_BYTES, `record ${i}: ${r.data.length}`);
    if (i < built.records.length - 1) {
      assert(r.data.length > MAX_RECORD_BYTES - 16_384, `record ${i}: ${r.data.length}`);
    }
    assertEquals(lines(r.data).length, r.events);
  }
});
