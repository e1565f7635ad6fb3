import { assertEquals } from "../tests/assert.ts";
import { jsonLine, LIMITED_INTERVAL_MS, LIMITED_LINES_PER_INTERVAL, Logger, textLine } from "./log.ts";

function testLogger(format: "text" | "json" = "text") {
  const lines: string[] = [];
  const timers: { at: number; run: () => void }[] = [];
  const clock = { now: Date.UTC(2026, 10, 24) };
  const logger = new Logger({
    format,
    write: (line) => lines.push(line),
    now: () => clock.now,
    schedule: (run, ms) => timers.push({ at: clock.now + ms, run }),
  });
  /** Advances the clock and runs the timers that are due. */
  const advance = (ms: number) => {
    clock.now += ms;
    for (const t of timers.splice(0).sort((a, b) => a.at - b.at)) {
      if (t.at <= clock.now) t.run();
      else timers.push(t);
    }
  };
  return { logger, lines, advance, timers };
}

Deno.test("textLine() quotes values with spaces, quotes, '=' or nothing, and leaves out undefined", () => {
  assertEquals(
    textLine("T", "warn", "Message dropped", { a: "x y", b: 'q"', c: "k=v", d: "", e: 3, f: true, g: undefined }),
    'T WARN Message dropped a="x y" b="q\\"" c="k=v" d="" e=3 f=true',
  );
});

Deno.test("jsonLine() keeps field types, puts time, level and msg first, and never lets a field replace them", () => {
  const line = jsonLine("T", "error", "Cannot write", {
    msg: "spoof",
    level: "debug",
    attempt: 2,
    ok: false,
    x: undefined,
  });
  assertEquals(line, '{"time":"T","level":"error","msg":"Cannot write","attempt":2,"ok":false}');
  assertEquals(JSON.parse(jsonLine("T", "info", "m", { n: NaN })).n, "NaN");
});

Deno.test("Logger writes JSON lines with --log-format json and skips levels below the minimum", () => {
  const { logger, lines } = testLogger("json");
  logger.debug("hidden");
  logger.info("kinesyslog started", { listeners: "udp/514,tcp/514", leftoverRecords: 0 });
  logger.configure({ level: "warn", format: "text" });
  logger.info("hidden too");
  logger.warn("shown");
  assertEquals(lines.length, 2);
  assertEquals(JSON.parse(lines[0]!), {
    time: "2026-11-24T00:00:00.000Z",
    level: "info",
    msg: "kinesyslog started",
    listeners: "udp/514,tcp/514",
    leftoverRecords: 0,
  });
  assertEquals(lines[1], "2026-11-24T00:00:00.000Z WARN shown");
});

Deno.test("Logger.limited() lets a few lines through per interval and then reports how many it suppressed", () => {
  const { logger, lines, advance, timers } = testLogger();
  for (let i = 0; i < 12; i++) logger.limited("warn", "k", "Message dropped", { i });
  logger.limited("warn", "other", "Other key");
  assertEquals(lines.length, LIMITED_LINES_PER_INTERVAL + 1);
  assertEquals(timers.length, 1, "one summary scheduled for the key that suppressed");
  advance(LIMITED_INTERVAL_MS - 1);
  assertEquals(lines.length, LIMITED_LINES_PER_INTERVAL + 1);
  advance(1);
  assertEquals(
    lines.at(-1),
    "2026-11-24T00:00:10.000Z WARN Suppressed repeats: Message dropped suppressed=7 intervalSeconds=10",
  );
  // A new interval starts fresh.
  logger.limited("warn", "k", "Message dropped", { i: 99 });
  assertEquals(lines.at(-1), "2026-11-24T00:00:10.000Z WARN Message dropped i=99");
  assertEquals(timers.length, 0);
});

Deno.test("Logger.limited() below the minimum level neither writes nor schedules", () => {
  const { logger, lines, timers } = testLogger();
  for (let i = 0; i < 20; i++) logger.limited("debug", "k", "noise");
  assertEquals([lines.length, timers.length], [0, 0]);
});
