import { assertEquals } from "../../tests/assert.ts";
import { makeCertificate, makeClientCertificate } from "../../tests/harness.ts";
import { allowedBy, judgeClient, nameMatches, provenNames } from "./client_auth.ts";

const router = {
  subject: { CN: "router1", O: "acme" },
  subjectAltName: "DNS:router1.example.net, IP Address:192.0.2.7",
};

Deno.test("judgeClient() applies --client-auth to what the handshake showed", async (t) => {
  const table = [
    ["none, no certificate", "none", {}, { accepted: true, verified: false, identity: undefined }],
    ["optional, no certificate", "optional", {}, { accepted: true, verified: false, identity: undefined }],
    ["optional, expired", "optional", { ...router, verifyError: "CERT_HAS_EXPIRED" }, {
      accepted: true,
      verified: false,
      identity: "CN=router1,O=acme san=DNS:router1.example.net,IP Address:192.0.2.7",
      error: "CERT_HAS_EXPIRED",
    }],
    ["required, good", "required", router, {
      accepted: true,
      verified: true,
      identity: "CN=router1,O=acme san=DNS:router1.example.net,IP Address:192.0.2.7",
    }],
    ["required, no certificate", "required", {}, {
      accepted: false,
      verified: false,
      identity: undefined,
      refusal: "no_client_certificate",
    }],
    ["required, another CA", "required", { subject: { CN: "x" }, verifyError: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY" }, {
      accepted: false,
      verified: false,
      identity: "CN=x",
      refusal: "untrusted_client_certificate",
      error: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    }],
  ] as const;
  for (const [name, mode, peer, expected] of table) {
    await t.step(name, () => assertEquals(judgeClient(mode, [], peer), expected));
  }
});

/** The DER of a certificate made with `makeClientCertificate()`. */
function der(pem: string): Uint8Array {
  const body = pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
}

Deno.test("--client-allow names match by RFC 6125: dNSName, CN only without one, IP against iPAddress", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await makeCertificate(dir);
    const cert = async (name: string, options: { cn?: string; san?: string[] }) =>
      der((await makeClientCertificate(dir, name, options)).cert);
    // [certificate, --client-allow pattern, accepted]
    const table: [string, { cn?: string; san?: string[] }, string, boolean][] = [
      ["dNSName", { cn: "x", san: ["DNS.1 = router1.example.net"] }, "router1.example.net", true],
      ["dNSName, any case", { cn: "x", san: ["DNS.1 = Router1.Example.NET"] }, "ROUTER1.example.net", true],
      ["dNSName under a wildcard", { cn: "x", san: ["DNS.1 = a.routers.example.net"] }, "*.routers.example.net", true],
      [
        "two labels under a wildcard",
        { cn: "x", san: ["DNS.1 = a.b.routers.example.net"] },
        "*.routers.example.net",
        false,
      ],
      ["the wildcard's own domain", { cn: "x", san: ["DNS.1 = routers.example.net"] }, "*.routers.example.net", false],
      ["a wildcard dNSName", { cn: "x", san: ["DNS.1 = *.example.net"] }, "router1.example.net", true],
      ["CN without any dNSName", { cn: "router1.example.net", san: [] }, "router1.example.net", true],
      [
        "CN beside another dNSName",
        { cn: "router1.example.net", san: ["DNS.1 = other.example.org"] },
        "router1.example.net",
        false,
      ],
      [
        "a URI holding ', DNS:'",
        { cn: "x", san: ["URI.1 = http://x/, DNS:router1.example.net"] },
        "router1.example.net",
        false,
      ],
      ["an email SAN of the name", { cn: "x", san: ["email.1 = router1.example.net"] }, "router1.example.net", false],
      [
        "an email SAN under the wildcard",
        { cn: "x", san: ["email.1 = alice@mail.routers.example.net"] },
        "*.routers.example.net",
        false,
      ],
      [
        "a URI SAN under the wildcard",
        { cn: "x", san: ["URI.1 = spiffe://a.routers.example.net"] },
        "*.routers.example.net",
        false,
      ],
      ["iPAddress", { cn: "x", san: ["IP.1 = 192.0.2.7"] }, "192.0.2.7", true],
      ["iPAddress, IPv6 written otherwise", { cn: "x", san: ["IP.1 = 2001:db8:0:0:0:0:0:1"] }, "2001:db8::1", true],
      ["an IP only as a dNSName", { cn: "x", san: ["DNS.1 = 192.0.2.7"] }, "192.0.2.7", false],
      ["an IP only as the CN", { cn: "192.0.2.7", san: [] }, "192.0.2.7", false],
    ];
    let i = 0;
    for (const [name, options, pattern, accepted] of table) {
      const raw = await cert(`c${i++}`, options);
      await t.step(`${name}: ${pattern} ${accepted ? "accepted" : "refused"}`, () => {
        assertEquals(allowedBy(pattern, provenNames(raw)), accepted, JSON.stringify(provenNames(raw)));
        const verdict = judgeClient("required", [pattern], { subject: { CN: "x" }, raw });
        assertEquals([verdict.accepted, verdict.refusal], accepted ? [true, undefined] : [false, "client_not_allowed"]);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("nameMatches() lets a wildcard stand for one left-most label only", () => {
  assertEquals(nameMatches("*.example.net", "a.example.net"), true);
  assertEquals(nameMatches("*.example.net", "a.b.example.net"), false);
  assertEquals(nameMatches("*.example.net", "example.net"), false);
  assertEquals(nameMatches("a.example.net", "*.example.net"), true);
  assertEquals(nameMatches("*.example.net", "*.example.net"), true);
  assertEquals(nameMatches("*.a.example.net", "*.example.net"), false);
  assertEquals(provenNames(undefined), { dns: [], ips: [] });
  assertEquals(provenNames(new Uint8Array([1, 2, 3])), { dns: [], ips: [] });
});
