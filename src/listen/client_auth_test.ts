import { assertEquals } from "../../tests/assert.ts";
import { certificateNames, judgeClient, nameMatches } from "./client_auth.ts";

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

Deno.test("judgeClient() checks --client-allow against the subject CN and the alternative names", async (t) => {
  const table: [string[], boolean][] = [
    [["router1"], true],
    [["ROUTER1.example.NET"], true],
    [["*.example.net"], true],
    [["*.net"], false],
    [["192.0.2.7"], true],
    [["router2", "*.example.org"], false],
    [["acme"], false],
  ];
  for (const [allow, accepted] of table) {
    await t.step(allow.join(" "), () => {
      const verdict = judgeClient("required", allow, router);
      assertEquals(verdict.accepted, accepted);
      if (!accepted) assertEquals(verdict.refusal, "client_not_allowed");
    });
  }
  await t.step("names", () => {
    assertEquals(certificateNames(router), ["router1", "router1.example.net", "192.0.2.7"]);
    assertEquals(nameMatches("*.example.net", "a.b.example.net"), false);
    assertEquals(nameMatches("*.example.net", "example.net"), false);
  });
});
