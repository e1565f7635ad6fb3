/**
 * End-to-end tests of the UDP receive buffer (`--udp-recv-buffer`, set through libc:
 * `src/listen/socket_options.ts`): a burst sent while the relay cannot read (stopped with
 * SIGSTOP) waits in the socket's buffer and arrives whole; with the kernel's default buffer
 * the kernel drops most of it, and every drop is counted from the socket's own counter under
 * the relay's narrow permissions. Without `--allow-ffi` the relay says it keeps the default
 * (and glibc's arenas: `src/allocator.ts`).
 */
import { assert, assertEquals } from "./assert.ts";
import { eventually, freePort, readOutputDir, relayPermissions, scrape, sendUdp, startLocalRelay } from "./harness.ts";
import { RelayProcess } from "./harness.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MIB = 1_048_576;

/** `count` distinct messages of about 200 bytes. */
function burst(count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) => `<13>1 2026-11-30T12:00:00Z host app - - - burst ${i} ${"x".repeat(160)}`,
  );
}

Deno.test("a burst sent while the relay cannot read waits in its receive buffer; with the kernel's default, drops are counted", async (t) => {
  const sent = 3_000;
  for (
    const [name, args, lossy] of [["the default (32M)", [], false], [
      "--udp-recv-buffer 0",
      ["--udp-recv-buffer", "0"],
      true,
    ]] as const
  ) {
    await t.step(name, async () => {
      const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
      const [udp, metricsPort] = [freePort(), freePort()];
      const listener = { listener: `udp/${udp}` };
      const relay = await startLocalRelay(dir, [
        ...["--udp-port", String(udp), "--tls-port", "0", "--prometheus-port", String(metricsPort)],
        ...["--flush-interval", "1", ...args],
      ]);
      try {
        const buffer = await scrape(metricsPort, "kinesyslog_udp_receive_buffer_bytes", listener);
        if (lossy) assert(buffer > 0 && buffer < 8 * MIB, `kernel default ${buffer}`);
        else assert(buffer >= 8 * MIB, `granted ${buffer}`);
        assert(!relay.lines.some((l) => l.includes("Cannot count datagrams")), "drops are countable");
        // Every thread of the relay stops; the kernel alone holds what arrives meanwhile.
        Deno.kill(relay.pid, "SIGSTOP");
        try {
          await sendUdp(udp, burst(sent));
          await sleep(100);
        } finally {
          Deno.kill(relay.pid, "SIGCONT");
        }
        const counted = async () => ({
          spooled: await scrape(metricsPort, "kinesyslog_events_spooled_total"),
          drops: await scrape(metricsPort, "kinesyslog_udp_kernel_drops_total", listener),
        });
        await eventually("every datagram spooled or counted as dropped", async () => {
          const { spooled, drops } = await counted();
          return spooled + drops === sent;
        });
        const { spooled, drops } = await counted();
        if (lossy) {
          assert(drops > sent / 2, `the kernel's default buffer dropped ${drops} of ${sent}`);
          await relay.waitFor(/The kernel dropped datagrams/);
        } else {
          assertEquals(drops, 0);
        }
        await relay.stop();
        const messages = new Set((await readOutputDir(`${dir}/out`)).map((e) => e.message));
        assertEquals(messages.size, spooled);
        if (!lossy) { for (const m of burst(sent)) assert(messages.has(m), `missing ${m.slice(0, 50)}`); }
      } finally {
        await relay.stop();
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("without --allow-ffi the relay keeps the kernel's receive buffer and glibc's arenas, says why, and receives", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-e2e-" });
  const [udp, metricsPort] = [freePort(), freePort()];
  const relay = await RelayProcess.start([
    ...["listen", "--output-dir", `${dir}/out`, "--spool-dir", `${dir}/spool`, "--address", "127.0.0.1"],
    ...["--udp-port", String(udp), "--tls-port", "0", "--prometheus-port", String(metricsPort)],
    ...["--flush-interval", "1"],
  ], { dirs: [dir], permissions: relayPermissions([dir]).filter((p) => !p.startsWith("--allow-ffi")) });
  try {
    const untuned = await relay.waitFor(/glibc's allocator is not tuned/);
    assert(untuned.includes("no --allow-ffi for libc"), untuned);
    const warning = await relay.waitFor(/The UDP receive buffer is the kernel's default/);
    assert(warning.includes("no --allow-ffi for libc"), warning);
    await relay.waitFor(/Cannot count datagrams the kernel drops/);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert(!metrics.includes("kinesyslog_udp_receive_buffer_bytes{"), "no buffer size is claimed");
    await sendUdp(udp, ["<13>1 - host app - - - still received"]);
    await eventually("delivered", async () => await scrape(metricsPort, "kinesyslog_events_spooled_total") === 1);
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
