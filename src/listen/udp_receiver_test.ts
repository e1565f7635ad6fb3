import { assert, assertEquals } from "../../tests/assert.ts";
import { MAX_QUEUED_BYTES } from "./udp_receive_worker.ts";
import { type DatagramPack, UdpReceiver } from "./udp_receiver.ts";
import { gelfDatagrams } from "../../tests/gelf_sender.ts";

async function send(port: number, datagrams: Uint8Array[], paceEvery = 64, from = "127.0.0.1"): Promise<void> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: from, port: 0 });
  try {
    for (const [i, d] of datagrams.entries()) {
      await socket.send(d, { transport: "udp", hostname: "127.0.0.1", port });
      if (i % paceEvery === paceEvery - 1) await new Promise((resolve) => setTimeout(resolve, 1));
    }
  } finally {
    socket.close();
  }
}

Deno.test("UdpReceiver hands over every datagram, in order, with its source, and closes", async () => {
  // A receive buffer that holds what is sent before the worker's loop runs: with the kernel's
  // 208 KiB, 64 datagrams (one paced group) were dropped at times when the test ran after a
  // heavy one (CI, 2026-12-01: datagrams 256 to 319 of 5,000).
  const receiver = await UdpReceiver.bind("127.0.0.1", 0, { receiveBuffer: 4 * 1_048_576 });
  const got: string[] = [];
  const sources = new Set<string>();
  receiver.start({
    onPack(pack) {
      let start = 0;
      for (const [i, end] of pack.ends.entries()) {
        got.push(new TextDecoder().decode(pack.data.subarray(start, end)));
        sources.add(pack.sources[pack.from[i]!]!);
        start = end;
      }
      receiver.done(pack);
    },
    onError: (error) => assert(false, error),
  });
  const sent = Array.from({ length: 5_000 }, (_, i) => `<13>datagram ${i}`);
  await send(receiver.port, sent.map((s) => new TextEncoder().encode(s)));
  const deadline = Date.now() + 10_000;
  while (got.length < sent.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  await receiver.close();
  assertEquals(got, sent);
  assertEquals([...sources], ["127.0.0.1"]);
});

Deno.test("UdpReceiver: packs the main thread has not finished are bounded; past the bound drops are counted", async () => {
  const receiver = await UdpReceiver.bind("127.0.0.1", 0);
  const packs: DatagramPack[] = [];
  let dropped = 0;
  // The main thread never finishes a pack: the worker may queue MAX_QUEUED_BYTES, no more.
  receiver.start({ onPack: (pack) => void (packs.push(pack), dropped += pack.dropped), onError: () => {} });
  const size = 8_192;
  const count = Math.ceil((MAX_QUEUED_BYTES * 1.5) / size);
  await send(receiver.port, Array.from({ length: count }, () => new Uint8Array(size)), 16);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await receiver.close();
  const queued = packs.reduce((n, p) => n + p.data.length, 0);
  assert(queued <= MAX_QUEUED_BYTES, `${queued} bytes queued`);
  assert(dropped > 0, "drops counted");
  assert(queued / size + dropped <= count, `${queued / size} + ${dropped} of ${count}`);
});

Deno.test("UdpReceiver: a source outside --allow-from is counted as refused, not as a full queue, while the queue is full", async () => {
  const receiver = await UdpReceiver.bind("127.0.0.1", 0, { allowFrom: ["127.0.0.1/32"] });
  const packs: DatagramPack[] = [];
  receiver.start({ onPack: (pack) => void packs.push(pack), onError: () => {} });
  try {
    const size = 8_192;
    // The main thread never finishes a pack: the allowed source fills the queue, until more of it is dropped.
    const dropped = () => packs.reduce((n, p) => n + p.dropped, 0);
    for (let round = 0; round < 10 && dropped() === 0; round++) {
      await send(
        receiver.port,
        Array.from({ length: Math.ceil(MAX_QUEUED_BYTES / 2 / size) }, () => new Uint8Array(size)),
        8,
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert(dropped() > 0, "the queue is full");
    await send(receiver.port, Array.from({ length: 100 }, () => new Uint8Array(100)), 16, "127.0.0.2");
    await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    await receiver.close();
  }
  const refused = new Map<string, number>();
  for (const { source, reason, count } of packs.flatMap((p) => p.refused)) {
    refused.set(`${reason} ${source}`, (refused.get(`${reason} ${source}`) ?? 0) + count);
  }
  assertEquals(Object.fromEntries(refused), { "not_allowed 127.0.0.2": 100 });
});

Deno.test("UdpReceiver: a port in use is refused as AddrInUse", async () => {
  const taken = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    let error: unknown;
    try {
      await UdpReceiver.bind("127.0.0.1", port);
    } catch (e) {
      error = e;
    }
    assert(error instanceof Deno.errors.AddrInUse, String(error));
  } finally {
    taken.close();
  }
});

Deno.test("UdpReceiver, GELF: the worker reassembles and decompresses, refuses by reason and source, and reports what is pending", async () => {
  const receiver = await UdpReceiver.bind("127.0.0.1", 0, { format: "gelf", maxMessageBytes: 20_000 });
  const messages: string[] = [];
  const refused = new Map<string, number>();
  let duplicates = 0;
  receiver.start({
    onPack(pack) {
      let start = 0;
      for (const end of pack.ends) {
        messages.push(new TextDecoder().decode(pack.data.subarray(start, end)));
        start = end;
      }
      for (const r of pack.refused) {
        refused.set(`${r.reason}@${r.source}`, (refused.get(`${r.reason}@${r.source}`) ?? 0) + r.count);
      }
      duplicates += pack.duplicates;
      receiver.done(pack);
    },
    onError: (error) => assert(false, error),
  });
  const big = JSON.stringify({ version: "1.1", host: "h", short_message: "big", full_message: "x".repeat(9_000) });
  const chunks = gelfDatagrams(big, { compress: "none", chunkBytes: 1_000 });
  // Of six chunks, only the first is sent.
  const incomplete = gelfDatagrams(JSON.stringify({ short_message: "half", full: "y".repeat(3_000) }), {
    compress: "none",
    chunkBytes: 500,
  });
  await send(receiver.port, [
    ...gelfDatagrams('{"short_message":"small"}', { compress: "zlib" }),
    ...chunks.reverse(),
    chunks[0]!, // again, after its set is done: ignored, counted as a duplicate
    incomplete[0]!, // never completed
    new Uint8Array([0x1e, 0x0f, 1, 2]), // bad_chunk_header
    new Uint8Array([0x78, 0x9c, 1, 2, 3]), // decompress_error
  ]);
  const deadline = Date.now() + 5_000;
  while (receiver.gelfPending.sets === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assertEquals(messages.map((m) => m.slice(0, 40)), ['{"short_message":"small"}', big.slice(0, 40)]);
  assertEquals(messages[1], big);
  assertEquals(receiver.gelfPending.sets, 1);
  assert(receiver.gelfPending.bytes > 0);
  await receiver.close();
  // The incomplete message is given up at close, and counted.
  assertEquals(Object.fromEntries(refused), {
    "bad_chunk_header@127.0.0.1": 1,
    "decompress_error@127.0.0.1": 1,
    "chunks_incomplete@127.0.0.1": 1,
  });
  assertEquals(duplicates, 1);
});
