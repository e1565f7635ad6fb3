import { assertEquals } from "../../tests/assert.ts";
import { encodeFrame, nextTxnr, openAnswer, parseOffers, responseText, SERVERCLOSE } from "./relp_answer.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const SOFTWARE = { name: "kinesyslog", version: "2.0.0", url: "https://example.net" };

Deno.test("encodeFrame() writes RELP frames as librelp does: no space and no data when empty", () => {
  assertEquals(dec.decode(encodeFrame(2, "rsp", "200 OK")), "2 rsp 6 200 OK\n");
  assertEquals(responseText(4, ""), "4 rsp 0\n");
  assertEquals(dec.decode(SERVERCLOSE), "0 serverclose 0\n");
  // DATALEN counts bytes, not characters.
  assertEquals(dec.decode(encodeFrame(1, "rsp", "500 \u00e9")), "1 rsp 6 500 \u00e9\n");
});

Deno.test("nextTxnr() goes from 999,999,999 back to 1", () => {
  assertEquals(nextTxnr(1), 2);
  assertEquals(nextTxnr(999_999_999), 1);
});

Deno.test("parseOffers() reads librelp's offers, values split at commas", () => {
  const offers = parseOffers(enc.encode(
    "relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog\nflag\n",
  ));
  assertEquals(offers.get("relp_version"), ["0"]);
  assertEquals(offers.get("relp_software"), ["librelp", "1.11.0", "http://librelp.adiscon.com"]);
  assertEquals(offers.get("commands"), ["syslog"]);
  assertEquals(offers.get("flag"), []);
});

Deno.test("openAnswer() offers version 0 and syslog back, and refuses an open without relp_version", async (t) => {
  await t.step("librelp's offers", () => {
    const answer = openAnswer(parseOffers(enc.encode("relp_version=0\ncommands=syslog")), SOFTWARE);
    assertEquals(answer, {
      ok: true,
      text: "200 OK\nrelp_version=0\nrelp_software=https://example.net,2.0.0,kinesyslog\ncommands=syslog",
    });
  });
  await t.step("a newer version is answered with ours", () => {
    const answer = openAnswer(parseOffers(enc.encode("relp_version=1\ncommands=syslog")), SOFTWARE);
    assertEquals(answer.text.split("\n")[1], "relp_version=0");
  });
  await t.step("no syslog command offered: none offered back", () => {
    const answer = openAnswer(parseOffers(enc.encode("relp_version=0")), SOFTWARE);
    assertEquals(answer.text.split("\n")[3], "commands=");
  });
  for (const offers of ["commands=syslog", "relp_version=\ncommands=syslog", "relp_version=x"]) {
    await t.step(`refused: ${JSON.stringify(offers)}`, () => {
      assertEquals(openAnswer(parseOffers(enc.encode(offers)), SOFTWARE).ok, false);
    });
  }
});
