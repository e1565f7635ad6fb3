import { assertEquals } from "../../tests/assert.ts";
import { udpDrops } from "./udp_drops.ts";

const TABLE =
  `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  118: 00000000:0202 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 21718 2 0000000000000000 17
  119: 0100007F:0202 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 21719 2 0000000000000000 3
  120: 00000000:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 21720 2 0000000000000000 99
`;

Deno.test("udpDrops() sums the drops column of the sockets on one local port", () => {
  assertEquals(udpDrops(TABLE, 514), 20);
  assertEquals(udpDrops(TABLE, 8080), 99);
  assertEquals(udpDrops(TABLE, 5514), 0);
  assertEquals(udpDrops("", 514), 0);
});

Deno.test("udpDrops() reads a real socket's row in /proc/net/udp", () => {
  let table: string;
  try {
    table = Deno.readTextFileSync("/proc/net/udp");
  } catch {
    console.log("ignored: /proc/net/udp cannot be read here");
    return;
  }
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const port = (socket.addr as Deno.NetAddr).port;
    table = Deno.readTextFileSync("/proc/net/udp");
    assertEquals(table.includes(`:${port.toString(16).toUpperCase().padStart(4, "0")} `), true);
    assertEquals(udpDrops(table, port), 0);
  } finally {
    socket.close();
  }
});
