import { assert, assertEquals } from "../../tests/assert.ts";
import { Logger } from "../log.ts";
import { Metrics } from "../metrics/metrics.ts";
import type { ListenerInfo } from "./ingest.ts";
import { forEachEvent } from "../batch/event_buffer.ts";
import { IntakeForwarder, MAX_IN_FLIGHT_BYTES, PACK_BYTES, type PackMessage, takePack } from "./intake_forwarder.ts";

const INFO: ListenerInfo = {
  label: "tcp/514",
  name: "test",
  port: 514,
  timeZone: undefined,
  format: "syslog",
  transport: "tcp",
};
const encoder = new TextEncoder();

/** A forwarder whose packs are collected, and what they give back through takePack(). */
function forwarder() {
  const packs: PackMessage[] = [];
  const f = new IntakeForwarder(new Logger({ level: "error" }), (pack) => packs.push(pack));
  const taken: { port: number; source: string; frames: string[]; times: number[] }[] = [];
  const metrics = new Metrics();
  const take = () => {
    for (const pack of packs.splice(0)) {
      takePack(pack, INFO, {
        metrics,
        acceptEntries: (info, source, entries, count, messageBytes) => {
          const frames: string[] = [];
          const times: number[] = [];
          let bytes = 0;
          forEachEvent({ chunks: [entries.slice().buffer], lengths: [entries.length] }, (message, time) => {
            frames.push(new TextDecoder().decode(message));
            times.push(time);
            bytes += message.length;
          });
          assertEquals([frames.length, bytes], [count, messageBytes]);
          taken.push({ port: info.port, source, frames, times });
        },
      });
    }
  };
  return { f, packs, taken, take, metrics };
}

Deno.test("IntakeForwarder packs messages as entries by read and source; takePack() gives them back in order", () => {
  const { f, packs, taken, take } = forwarder();
  f.accept(INFO, "10.0.0.1", [encoder.encode("a"), encoder.encode("  \r\n"), encoder.encode("bb")], 1_000);
  f.accept({ ...INFO, port: 6514 }, "10.0.0.2", [encoder.encode("ccc")], 2_000);
  f.accept(INFO, "10.0.0.1", [], 3_000);
  assertEquals(packs.length, 0, "not full: waits for the interval or a flush");
  f.flush();
  assertEquals(packs.length, 1);
  assertEquals(f.inFlightBytes, 3 * 12 + 6);
  take();
  assertEquals(taken, [
    { port: 514, source: "10.0.0.1", frames: ["a", "bb"], times: [1_000, 1_000] },
    { port: 6514, source: "10.0.0.2", frames: ["ccc"], times: [2_000] },
  ]);
});

Deno.test("IntakeForwarder checks GELF documents as the main thread would: refused ones counted, event times read", async () => {
  const { f, taken, take, metrics } = forwarder();
  const gelf: ListenerInfo = { ...INFO, format: "gelf", label: "gelf-tcp/12201" };
  const documents = [
    `{"version":"1.1","host":"h","short_message":"kept","timestamp":1700000000.5}`,
    `{"version":"1.1","host":"h","short_message":"no time"}`,
    `not json`,
  ];
  f.accept(gelf, "10.0.0.3", documents.map((d) => encoder.encode(d)), 5_000);
  f.flush();
  take();
  assertEquals(taken.map((t) => t.times), [[1_700_000_000_500, 5_000]]);
  const text = await metrics.registry.metrics();
  assert(/kinesyslog_messages_dropped_total\{listener="gelf-tcp\/12201",reason="[a-z_]+"\} 1/.test(text), text);
  assert(text.includes("kinesyslog_timestamp_fallbacks_total 1"), text);
});

Deno.test("IntakeForwarder: a full pack is handed over at once, a read split across packs, a long message alone", () => {
  const { f, packs, taken, take } = forwarder();
  // 30,000 entries of 12 + 5 bytes: 510,000 bytes, one pack full (PACK_BYTES) and the rest.
  const frames = Array.from({ length: 30_000 }, (_, i) => encoder.encode(String(i).padStart(5, "0")));
  f.accept(INFO, "10.0.0.1", frames, 1);
  assertEquals(packs.length, 1);
  const big = new Uint8Array(PACK_BYTES + 5).fill(0x61);
  f.accept(INFO, "10.0.0.1", [big], 2);
  assertEquals(packs.length, 3, "the rest of the first read, then the longer message alone");
  f.flush();
  take();
  const all = taken.flatMap((t) => t.frames);
  assertEquals(all.slice(0, 30_000), frames.map((_, i) => String(i).padStart(5, "0")));
  assertEquals(all.at(-1)!.length, PACK_BYTES + 5);
  assertEquals(all.length, 30_001);
});

Deno.test("IntakeForwarder holds readers back past MAX_IN_FLIGHT_BYTES until the main thread acknowledges", async () => {
  const { f, packs } = forwarder();
  const frame = new Uint8Array(65_536).fill(0x61);
  while (f.inFlightBytes < MAX_IN_FLIGHT_BYTES) {
    assertEquals(f.pressure.ready(), undefined);
    f.accept(INFO, "10.0.0.1", [frame], 0);
    f.flush();
  }
  const wait = f.pressure.ready();
  assert(wait !== undefined, "held back");
  let done = false;
  void wait.then(() => (done = true));
  await Promise.resolve();
  assertEquals(done, false);
  f.ack(packs.reduce((n, p) => n + p.data.length, 0));
  await wait;
  assertEquals(f.inFlightBytes, 0);
  assertEquals(f.pressure.ready(), undefined);
});

Deno.test("IntakeForwarder forwards counter changes; takePack() applies them, a gauge up and down", async () => {
  const { f, take, metrics } = forwarder();
  const labels = { listener: INFO.label };
  f.metrics.connections.inc(labels);
  f.metrics.connectionsOpen.inc(labels);
  f.metrics.connections.inc(labels);
  f.metrics.connectionsOpen.inc(labels);
  f.metrics.connectionsOpen.dec(labels);
  f.accept(INFO, "10.0.0.1", [encoder.encode(" "), encoder.encode("\n"), encoder.encode("")], 0);
  f.flush();
  take();
  f.metrics.connectionsOpen.dec(labels);
  f.flush();
  take();
  const text = await metrics.registry.metrics();
  assert(text.includes(`kinesyslog_connections_total{listener="tcp/514"} 2`), text);
  assert(text.includes(`kinesyslog_connections_open{listener="tcp/514"} 0`), text);
  assert(text.includes(`kinesyslog_messages_dropped_total{listener="tcp/514",reason="empty"} 3`), text);
});

Deno.test("IntakeForwarder: a pack's buffer that comes back with its acknowledgement carries a later pack", () => {
  const { f, packs } = forwarder();
  f.accept(INFO, "10.0.0.1", [encoder.encode("one")], 0);
  f.flush();
  const first = packs[0]!.data.buffer;
  f.accept(INFO, "10.0.0.1", [encoder.encode("two")], 0);
  f.flush();
  assert(packs[1]!.data.buffer !== first, "the first is still in flight");
  f.ack(packs[0]!.data.length, first);
  f.accept(INFO, "10.0.0.1", [encoder.encode("three")], 0);
  f.flush();
  f.accept(INFO, "10.0.0.1", [encoder.encode("four")], 0);
  f.flush();
  assertEquals(packs[3]!.data.buffer, first);
  f.metrics.connections.inc({ listener: INFO.label });
  f.flush();
  assertEquals(packs[4]!.data.length, 0, "counters alone take no buffer");
});
