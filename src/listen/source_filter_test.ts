import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { SourceFilter } from "./source_filter.ts";

Deno.test("SourceFilter allows the sources inside its ranges and no others", async (t) => {
  const filter = SourceFilter.parse(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"]);
  const table: [string, boolean][] = [
    ["10.0.0.1", true],
    ["10.255.255.255", true],
    ["11.0.0.1", false],
    ["192.0.2.7", true],
    ["192.0.2.8", false],
    ["2001:db8::1", true],
    ["2001:db8:ffff::1", true],
    ["2001:db9::1", false],
    ["::1", true],
    ["::2", false],
    ["unknown", false],
  ];
  for (const [address, allowed] of table) {
    await t.step(`${address}: ${allowed ? "allowed" : "refused"}`, () => assertEquals(filter.allows(address), allowed));
  }
});

Deno.test("SourceFilter with no ranges allows every source", () => {
  const filter = SourceFilter.parse([]);
  assertEquals([filter.allows("192.0.2.1"), filter.allows("::1")], [true, true]);
});

Deno.test("SourceFilter.parse() refuses what is not a range, naming it", async (t) => {
  for (const bad of ["10.0.0.0/33", "::/129", "10.0.0/8", "host.example", "10.0.0.0/8/1", "10.0.0.0/", "10.0.0.0/x"]) {
    await t.step(bad, () => {
      assertThrows(() => SourceFilter.parse(["127.0.0.1", bad]), RangeError, `'${bad}'`);
    });
  }
});
