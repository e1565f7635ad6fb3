import { gzipSync } from "node:zlib";
import { assert, assertEquals } from "../../tests/assert.ts";
import { eventId, INSTANCE_ID_DIGITS, parseEventId, SEQUENCE_DIGITS } from "./event_id.ts";

Deno.test("eventId() is the instance id and the zero-padded sequence number, and parseEventId() reads it back", () => {
  const instance = "18446744073709551615";
  for (const sequence of [0, 1, 4_294_967_296, Number.MAX_SAFE_INTEGER]) {
    const id = eventId(instance, sequence);
    assertEquals(id.length, INSTANCE_ID_DIGITS + SEQUENCE_DIGITS);
    assertEquals(parseEventId(id), { instance, sequence });
  }
  assertEquals(parseEventId(crypto.randomUUID()), undefined);
});

Deno.test("eventId() of consecutive events compresses to a few bytes each, where random UUIDs do not", () => {
  const instance = "07350112847565103211";
  const json = (ids: string[]) => new TextEncoder().encode(ids.map((id) => `{"id":"${id}"}`).join(","));
  const ours = gzipSync(json(Array.from({ length: 10_000 }, (_, i) => eventId(instance, 4_294_967_296 + i))));
  const uuids = gzipSync(json(Array.from({ length: 10_000 }, () => crypto.randomUUID())));
  assert(ours.length / 10_000 < 4, `${ours.length / 10_000} bytes per id`);
  assert(uuids.length / 10_000 > 20, `${uuids.length / 10_000} bytes per UUID`);
});
