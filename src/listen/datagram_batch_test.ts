import { assert, assertEquals } from "../../tests/assert.ts";
import { BATCH_SLOTS, DatagramBatch, ipv6Text } from "./datagram_batch.ts";
import { UdpSocketOptions } from "./socket_options.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function batchFor(socket: Deno.DatagramConn, ipv6: boolean): DatagramBatch {
  const options = UdpSocketOptions.find((socket.addr as Deno.NetAddr).port, ipv6);
  assert(typeof options !== "string", String(options));
  const batch = DatagramBatch.open(options.fd);
  assert(typeof batch !== "string", String(batch));
  return batch;
}

Deno.test("DatagramBatch takes what waits in batches, with each datagram's bytes and source, and 0 when none", async () => {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  const senders = ["127.0.0.2", "127.0.0.3"].map((hostname) =>
    Deno.listenDatagram({ transport: "udp", hostname, port: 0 })
  );
  try {
    const batch = batchFor(socket, false);
    assertEquals(batch.receive(), 0, "nothing waits: no wait either");
    const total = 150;
    for (let i = 0; i < total; i++) {
      // Sizes from 1 byte to a large datagram, to see each one's length kept apart.
      const body = i === 7 ? "x".repeat(60_000) : `m${i}`;
      await senders[i % 2]!.send(enc.encode(body), { transport: "udp", hostname: "127.0.0.1", port });
    }
    await sleep(50);
    const got: { text: string; source: string }[] = [];
    const sizes: number[] = [];
    for (let n; (n = batch.receive()) > 0;) {
      sizes.push(n);
      for (let i = 0; i < n; i++) got.push({ text: dec.decode(batch.datagram(i)), source: batch.source(i) });
    }
    assertEquals(sizes, [BATCH_SLOTS, BATCH_SLOTS, total - 2 * BATCH_SLOTS]);
    assertEquals(got.length, total);
    for (const [i, g] of got.entries()) {
      assertEquals(g.text, i === 7 ? "x".repeat(60_000) : `m${i}`);
      assertEquals(g.source, i % 2 === 0 ? "127.0.0.2" : "127.0.0.3");
    }
    assertEquals(batch.receive(), 0);
  } finally {
    socket.close();
    for (const s of senders) s.close();
  }
});

Deno.test("DatagramBatch gives IPv6 sources as Deno writes them", async () => {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "::1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  const sender = Deno.listenDatagram({ transport: "udp", hostname: "::1", port: 0 });
  try {
    const batch = batchFor(socket, true);
    await sender.send(enc.encode("six"), { transport: "udp", hostname: "::1", port });
    await sleep(20);
    assertEquals(batch.receive(), 1);
    assertEquals(dec.decode(batch.datagram(0)), "six");
    assertEquals(batch.source(0), "::1");
  } finally {
    socket.close();
    sender.close();
  }
  assertEquals(ipv6Text([0, 0, 0, 0, 0, 0, 0, 0]), "::");
  assertEquals(ipv6Text([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]), "2001:db8::1:0:0:1");
  assertEquals(ipv6Text([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]), "2001:db8:0:1:1:1:1:1");
  assertEquals(ipv6Text([0xfe80, 0, 0, 0, 0xabc, 0, 0, 0]), "fe80::abc:0:0:0");
});
