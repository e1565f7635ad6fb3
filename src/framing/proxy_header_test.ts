import fc from "fast-check";
import { assertEquals } from "../../tests/assert.ts";
import {
  buildProxyV2,
  MAX_PROXY_V1_BYTES,
  MAX_PROXY_V2_BYTES,
  parseProxyHeader,
  PP2_TYPE_AWS,
  type ProxyParse,
} from "./proxy_header.ts";

const text = (s: string) => new TextEncoder().encode(s);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
};
/** The header's fields that tests compare (TLV values as text). */
const summary = (r: ProxyParse) =>
  typeof r === "string" ? r : {
    length: r.length,
    version: r.version,
    command: r.command,
    ...(r.source && { source: r.source }),
    ...(r.destination && { destination: r.destination }),
    tlvs: r.tlvs.map((t) => [t.type, new TextDecoder().decode(t.value)]),
    vpce: r.vpcEndpointId,
  };

Deno.test("parseProxyHeader() reads version 1 headers", async (t) => {
  const v1 = (line: string) => text(line);
  const table: [string, unknown][] = [
    ["PROXY TCP4 192.0.2.1 198.51.100.2 40000 514\r\n<13>hi", {
      length: 45,
      version: 1,
      command: "proxy",
      source: { address: "192.0.2.1", port: 40000 },
      destination: { address: "198.51.100.2", port: 514 },
      tlvs: [],
      vpce: undefined,
    }],
    ["PROXY TCP6 2001:0db8:0000:0000:0000:0000:0000:0001 ::1 65535 6514\r\n", {
      length: 67,
      version: 1,
      command: "proxy",
      source: { address: "2001:db8::1", port: 65535 },
      destination: { address: "::1", port: 6514 },
      tlvs: [],
      vpce: undefined,
    }],
    ["PROXY UNKNOWN\r\n", { length: 15, version: 1, command: "local", tlvs: [], vpce: undefined }],
    ["PROXY UNKNOWN ffff::1 ::1 1 2\r\n", { length: 31, version: 1, command: "local", tlvs: [], vpce: undefined }],
    ["PROXY TCP4 192.0.2.1 198.51.100.2 40000 65536\r\n", "v1_malformed"],
    ["PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n", "v1_malformed"],
    ["PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n", "v1_malformed"],
    ["PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n", "v1_malformed"],
    ["PROXY TCP4 2001:db8::1 ::1 1 2\r\n", "v1_malformed"],
    ["PROXY TCP6 192.0.2.1 198.51.100.2 1 2\r\n", "v1_malformed"],
    ["PROXY TCP6 2001:db8:::1 ::1 1 2\r\n", "v1_malformed"],
    ["PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n", "v1_malformed"],
    ["PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n", "v1_malformed"],
    ["PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n", "v1_malformed"],
    ["PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n", "v1_malformed"],
    ["PROXY TCP4 192.0.2.1 198.51.100.2 1 2", "incomplete"],
    ["PROXY " + "9".repeat(MAX_PROXY_V1_BYTES), "v1_too_long"],
    ["PROX", "incomplete"],
    ["PROXZ", "not_proxy"],
    ["<13>1 - - - - - - hello\n", "not_proxy"],
    ["\x16\x03\x01\x02\x00", "not_proxy"],
    ["", "incomplete"],
  ];
  for (const [input, expected] of table) {
    await t.step(JSON.stringify(input.slice(0, 50)), () => {
      assertEquals(summary(parseProxyHeader(v1(input))), expected);
    });
  }
  await t.step("a 107-byte header (the longest allowed) is read; one more byte is refused", () => {
    const line = (n: number) => `PROXY UNKNOWN ${"f".repeat(n - 16)}\r\n`;
    assertEquals((parseProxyHeader(text(line(MAX_PROXY_V1_BYTES))) as { length: number }).length, 107);
    assertEquals(parseProxyHeader(text(line(MAX_PROXY_V1_BYTES + 1))), "v1_too_long");
  });
});

Deno.test("parseProxyHeader() reads version 2 headers", async (t) => {
  const vpce = concat(new Uint8Array([0x01]), text("vpce-08d2bf15fEXAMPLE"));
  const table: [string, Uint8Array, unknown][] = [
    ["IPv4", buildProxyV2({ address: "192.0.2.1", port: 40000 }, { address: "10.0.0.5", port: 514 }), {
      length: 28,
      version: 2,
      command: "proxy",
      source: { address: "192.0.2.1", port: 40000 },
      destination: { address: "10.0.0.5", port: 514 },
      tlvs: [],
      vpce: undefined,
    }],
    ["IPv6", buildProxyV2({ address: "2001:db8::7", port: 1 }, { address: "fd00::1:2", port: 6514 }), {
      length: 52,
      version: 2,
      command: "proxy",
      source: { address: "2001:db8::7", port: 1 },
      destination: { address: "fd00::1:2", port: 6514 },
      tlvs: [],
      vpce: undefined,
    }],
    ["LOCAL", buildProxyV2(undefined, undefined), {
      length: 16,
      version: 2,
      command: "local",
      tlvs: [],
      vpce: undefined,
    }],
    [
      "IPv4 with a NOOP and the AWS VPC endpoint TLV",
      buildProxyV2({ address: "192.0.2.9", port: 9 }, { address: "10.0.0.5", port: 6514 }, [
        { type: 0x04, value: text("pad") },
        { type: PP2_TYPE_AWS, value: vpce },
      ]),
      {
        length: 28 + 6 + 25,
        version: 2,
        command: "proxy",
        source: { address: "192.0.2.9", port: 9 },
        destination: { address: "10.0.0.5", port: 6514 },
        tlvs: [[4, "pad"], [PP2_TYPE_AWS, "\x01vpce-08d2bf15fEXAMPLE"]],
        vpce: "vpce-08d2bf15fEXAMPLE",
      },
    ],
  ];
  for (const [name, bytes, expected] of table) {
    await t.step(name, () => {
      assertEquals(summary(parseProxyHeader(concat(bytes, text("<13>after")))), expected);
      // Every shorter prefix asks for more.
      for (let n = 0; n < bytes.length; n++) assertEquals(parseProxyHeader(bytes.subarray(0, n)), "incomplete");
    });
  }
  const ipv4 = buildProxyV2({ address: "192.0.2.1", port: 1 }, { address: "10.0.0.5", port: 2 });
  const patched = (at: number, value: number, from = ipv4) => {
    const copy = from.slice();
    copy[at] = value;
    return copy;
  };
  const refusals: [string, Uint8Array, string][] = [
    ["version 1 in the version nibble", patched(12, 0x11), "v2_malformed"],
    ["command 2", patched(12, 0x22), "v2_malformed"],
    ["family 4", patched(13, 0x41), "v2_malformed"],
    ["transport 3", patched(13, 0x13), "v2_malformed"],
    ["IPv6 family with an IPv4-sized block", patched(13, 0x21), "v2_malformed"],
    ["a TLV longer than the header", concat(patched(15, 12 + 3), new Uint8Array([0x04, 0x00, 0x09]))],
    ["a cut TLV header", concat(patched(15, 12 + 2), new Uint8Array([0x04, 0x00]))],
    ["a header longer than the bound", patched(14, (MAX_PROXY_V2_BYTES >> 8) + 1), "v2_too_long"],
    ["a bad signature", patched(5, 0x0e), "not_proxy"],
  ].map(([name, bytes, reason]) => [name as string, bytes as Uint8Array, (reason ?? "v2_malformed") as string]);
  for (const [name, bytes, reason] of refusals) {
    await t.step(`refuses ${name}`, () => assertEquals(parseProxyHeader(bytes), reason));
  }
  await t.step("a LOCAL header skips whatever follows its fixed part", () => {
    const local = concat(patched(15, 5, buildProxyV2(undefined, undefined)), text("junk!"));
    assertEquals(summary(parseProxyHeader(local)), {
      length: 21,
      version: 2,
      command: "local",
      tlvs: [],
      vpce: undefined,
    });
  });
});

Deno.test("parseProxyHeader() never throws and never reads past its bounds (fast-check)", () => {
  const v1 = text("PROXY TCP4 192.0.2.1 198.51.100.2 40000 514\r\n");
  const v2 = buildProxyV2({ address: "2001:db8::1", port: 1 }, { address: "::1", port: 2 }, [
    { type: 1, value: text("h2") },
  ]);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.tuple(fc.constantFrom(v1, v2), fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 0, max: 255 })))).map(
          ([base, edits]) => {
            const copy = base.slice();
            for (const [at, value] of edits) copy[at % copy.length] = value;
            return copy;
          },
        ),
      ),
      (bytes) => {
        const result = parseProxyHeader(bytes);
        if (typeof result !== "string") {
          assertEquals(result.length <= bytes.length, true);
          assertEquals(result.length <= Math.max(MAX_PROXY_V1_BYTES, MAX_PROXY_V2_BYTES), true);
        }
      },
    ),
    { numRuns: 2000 },
  );
});
