import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { judgeCipher, parseSuites, TLS12_SUITES, TLS13_SUITES } from "./tls_policy.ts";

Deno.test("parseSuites() reads OpenSSL's separators and refuses a suite the relay cannot negotiate", () => {
  assertEquals(parseSuites(["TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"], TLS13_SUITES), [
    "TLS_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
  ]);
  assertEquals(parseSuites(["ECDHE-RSA-AES256-GCM-SHA384,", "ECDHE-ECDSA-AES128-GCM-SHA256"], TLS12_SUITES).length, 2);
  assertThrows(() => parseSuites(["AES128-SHA"], TLS12_SUITES), RangeError, "'AES128-SHA' is not one of");
  assertThrows(() => parseSuites(["TLS_AES_256_GCM_SHA384"], TLS12_SUITES), RangeError);
});

Deno.test("judgeCipher() holds a session to its version's list; an empty list allows every suite", async (t) => {
  const policy = { tls12: ["ECDHE-ECDSA-AES128-GCM-SHA256"], tls13: [] };
  const table: [string, string | undefined, boolean][] = [
    ["TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", true],
    ["TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384", false],
    ["TLSv1.2", undefined, false],
    ["TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", true],
  ];
  for (const [protocol, cipher, expected] of table) {
    await t.step(`${protocol} ${cipher}`, () => assertEquals(judgeCipher(policy, protocol, cipher), expected));
  }
});
