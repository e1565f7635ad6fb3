import { assert, assertEquals } from "../../tests/assert.ts";
import { Logger } from "../log.ts";
import { Metrics } from "../metrics/metrics.ts";
import type { ListenerInfo } from "./ingest.ts";
import {
  IntakeForwarder,
  MAX_IN_FLIGHT_BYTES,
  PACK_BYTES,
  PACK_FRAMES,
  type PackMessage,
  takePack,
} from "./intake_forwarder.ts";

const INFO: ListenerInfo = { label: "tcp/514", logGroup: "/k/syslog/514", format: "syslog", transport: "tcp" };
const encoder = new TextEncoder();

/** A forwarder whose packs are collected, and what they give back through takePack(). */
function forwarder() {
  const packs: PackMessage[] = [];
  const f = new IntakeForwarder(new Logger({ level: "error" }), (pack) => packs.push(pack));
  const taken: { logGroup: string; source: string; frames: string[]; receivedMs: number }[] = [];
  const metrics = new Metrics();
  const take = () => {
    for (const pack of packs.splice(0)) {
      takePack(pack, INFO, {
        metrics,
        accept: (info, source, frames, receivedMs) =>
          taken.push({
            logGroup: info.logGroup,
            source,
            frames: frames.map((b) => new TextDecoder().decode(b)),
            receivedMs,
          }),
      });
    }
  };
  return { f, packs, taken, take, metrics };
}

Deno.test("IntakeForwarder packs frames by read and source; takePack() gives them back in order", () => {
  const { f, packs, taken, take } = forwarder();
  f.accept(INFO, "10.0.0.1", [encoder.encode("a"), encoder.encode("bb")], 1_000);
  f.accept({ ...INFO, logGroup: "/k/syslog/6514" }, "10.0.0.2", [encoder.encode("ccc")], 2_000);
  f.accept(INFO, "10.0.0.1", [], 3_000);
  assertEquals(packs.length, 0, "not full: waits for the interval or a flush");
  f.flush();
  assertEquals(packs.length, 1);
  assertEquals(f.inFlightBytes, 6);
  take();
  assertEquals(taken, [
    { logGroup: "/k/syslog/514", source: "10.0.0.1", frames: ["a", "bb"], receivedMs: 1_000 },
    { logGroup: "/k/syslog/6514", source: "10.0.0.2", frames: ["ccc"], receivedMs: 2_000 },
  ]);
});

Deno.test("IntakeForwarder: a full pack (bytes or frames) is handed over at once, a read split across packs", () => {
  const { f, packs, taken, take } = forwarder();
  const frames = Array.from({ length: PACK_FRAMES + 10 }, (_, i) => encoder.encode(String(i)));
  f.accept(INFO, "10.0.0.1", frames, 1);
  assertEquals(packs.length, 1, "the first PACK_FRAMES frames");
  const big = new Uint8Array(PACK_BYTES + 5).fill(0x61);
  f.accept(INFO, "10.0.0.1", [big], 2);
  assertEquals(packs.length, 3, "the rest of the first read, then the longer frame alone");
  f.flush();
  take();
  const all = taken.flatMap((t) => t.frames);
  assertEquals(all.slice(0, PACK_FRAMES + 10), frames.map((_, i) => String(i)));
  assertEquals(all.at(-1)!.length, PACK_BYTES + 5);
  assertEquals(all.length, PACK_FRAMES + 11);
});

Deno.test("IntakeForwarder holds readers back past MAX_IN_FLIGHT_BYTES until the main thread acknowledges", async () => {
  const { f, packs } = forwarder();
  const frame = new Uint8Array(65_536);
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
  f.dropped(INFO, "10.0.0.1", "empty", 3);
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
