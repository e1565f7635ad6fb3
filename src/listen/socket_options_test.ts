import { assert, assertEquals } from "../../tests/assert.ts";
import { UdpSocketOptions } from "./socket_options.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("a UDP socket Deno bound is found by its port; its receive buffer is set and its drops counted", async () => {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  const sender = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const options = UdpSocketOptions.find(port, false);
    assert(typeof options !== "string", String(options));
    // Linux reports twice what was asked; the smallest it keeps is 2,304 bytes.
    assertEquals(options.setReceiveBuffer(1_048_576), 2_097_152);
    assertEquals(options.receiveBuffer(), 2_097_152);
    assertEquals(options.drops(), 0);
    const small = options.setReceiveBuffer(4_096);
    assert(small <= 8_192, `granted ${small}`);
    // Nothing reads the socket: a small buffer holds a few datagrams, the kernel drops the rest.
    const datagram = new Uint8Array(1_000);
    for (let i = 0; i < 200; i++) {
      await sender.send(datagram, { transport: "udp", hostname: "127.0.0.1", port });
    }
    await sleep(50);
    const drops = options.drops()!;
    assert(drops > 150 && drops < 200, `dropped ${drops} of 200`);
    // The other family has no socket on this port.
    assertEquals(UdpSocketOptions.find(port, true), `no UDP socket of this process is bound to port ${port}`);
  } finally {
    socket.close();
    sender.close();
  }
});
