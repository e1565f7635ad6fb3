/**
 * Sends numbered 200-byte RFC 5424 lines over UDP at a fixed rate, from a process of its own
 * (the benchmark's own sender shares its process with the measuring): for comparing UDP loss.
 *
 *     deno run --allow-net --unstable-net scripts/udp_send.ts PORT TOTAL PER_SECOND
 *
 * Prints what it sent and how long it took; the receiver counts what arrived.
 */
const [port, total, rate] = Deno.args.map(Number);
if (!port || !total || !rate) {
  console.error("usage: udp_send.ts PORT TOTAL PER_SECOND");
  Deno.exit(2);
}
const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
const target = { transport: "udp" as const, hostname: "127.0.0.1", port };
const enc = new TextEncoder();
const start = performance.now();
for (let i = 0; i < total; i++) {
  const line = `<13>1 2026-11-30T00:00:00.000Z host app - - - seq=${i} `;
  await socket.send(enc.encode(line.padEnd(200, "x")), target);
  // Keep the offered rate: every 100 datagrams, wait until they are due.
  if (i % 100 === 99) {
    const wait = start + ((i + 1) / rate) * 1000 - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
socket.close();
console.log(`sent ${total} in ${Math.round(performance.now() - start)} ms`);
