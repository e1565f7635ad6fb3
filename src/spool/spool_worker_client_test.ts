import { assertEquals } from "../../tests/assert.ts";
import { key } from "../../tests/keys.ts";
import { type Batch, Batcher } from "../batch/batcher.ts";
import { SpoolWorkerClient, WORKER_COST_BYTES } from "./spool_worker_client.ts";

const enc = new TextEncoder();

/** `n` batches of 200 messages each, one per source. */
function batches(n: number): Batch[] {
  const made: Batch[] = [];
  const batcher = new Batcher({ onFlush: (batch) => made.push(batch) });
  for (let b = 0; b < n; b++) {
    const buffer = batcher.buffer(key("/k/syslog/514", `10.0.0.${b}`));
    for (let i = 0; i < 200; i++) buffer.append(enc.encode(`<13>Dec  1 00:00:00 host app: message ${i}`), 1_000);
    batcher.afterAppend(buffer);
  }
  batcher.flushAll();
  return made;
}

/** A client with its clock, counting what was spooled and the workers started. */
function client(dir: string, count: number, scaleUpMs: number, fits?: (bytes: number) => boolean) {
  const state = { clock: 0, spooled: 0, started: [] as number[], heldBack: [] as number[], stopped: [] as number[] };
  const workers = new SpoolWorkerClient(dir, {
    onSpooled: (_entries, report) => void (state.spooled += report.events),
    onFailed: (_events, error) => {
      throw new Error(error);
    },
    onSpoolError: (error) => {
      throw new Error(error);
    },
    onCrash: (error) => {
      throw new Error(error);
    },
    onStarted: (running) => state.started.push(running),
    onHeldBack: (running) => state.heldBack.push(running),
    onStopped: (running) => state.stopped.push(running),
  }, { count, scaleUpMs, scaleDownMs: 60_000, now: () => state.clock, ...(fits === undefined ? {} : { fits }) });
  workers.setOwner("test");
  return { workers, state };
}

Deno.test("SpoolWorkerClient starts another worker only once every running one has been busy for scaleUpMs", async () => {
  const dir = await Deno.makeTempDir();
  const { workers, state } = client(dir, 2, 1_000);
  try {
    assertEquals(workers.running, 1);
    // Submitted in one turn of the event loop: the first worker's backlog cannot fall meanwhile.
    const [a, b, c, d] = batches(4);
    workers.submit(a!); // the worker was idle
    workers.submit(b!); // busy from now (clock 0)
    state.clock = 999;
    workers.submit(c!);
    assertEquals(workers.running, 1);
    state.clock = 1_000;
    workers.submit(d!);
    assertEquals(workers.running, 2);
    assertEquals(state.started, [2]);
    await workers.drain();
    assertEquals(state.spooled, 800);
    // At its count: no third worker however long they are busy.
    const more = batches(3);
    for (const batch of more) {
      state.clock += 5_000;
      workers.submit(batch);
    }
    await workers.drain();
    assertEquals(workers.running, 2);
    assertEquals(state.spooled, 1_400);
  } finally {
    workers.terminate();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SpoolWorkerClient keeps one worker for a load it keeps up with, however long it lasts", async () => {
  const dir = await Deno.makeTempDir();
  const { workers, state } = client(dir, 4, 1_000);
  try {
    // Each batch is spooled before the next comes: the worker has no backlog when one arrives.
    for (const batch of batches(6)) {
      workers.submit(batch);
      await workers.drain();
      state.clock += 10_000;
    }
    assertEquals(workers.running, 1);
    assertEquals(state.started, []);
    assertEquals(state.spooled, 1_200);
    // The owner reaches a worker started later too: the second builds records.
    const [a, b, c] = batches(3);
    workers.submit(a!);
    workers.submit(b!);
    state.clock += 1_000;
    workers.submit(c!);
    assertEquals(workers.running, 2);
    await workers.drain();
    assertEquals(state.spooled, 1_800);
  } finally {
    workers.terminate();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SpoolWorkerClient starts no worker that does not fit the memory limit, and asks again a scaleUpMs later", async () => {
  const dir = await Deno.makeTempDir();
  const asked: number[] = [];
  let room = false;
  const { workers, state } = client(dir, 2, 1_000, (bytes) => {
    asked.push(bytes);
    return room;
  });
  try {
    const [a, b, c, d, e, f] = batches(6);
    workers.submit(a!);
    workers.submit(b!); // busy from clock 0
    state.clock = 1_000;
    workers.submit(c!); // busy long enough, but no room
    assertEquals([workers.running, state.started, state.heldBack, asked], [1, [], [1], [WORKER_COST_BYTES]]);
    state.clock = 1_999;
    room = true;
    workers.submit(d!); // the wait began again at 1,000: not asked before 2,000
    assertEquals([workers.running, state.heldBack.length, asked.length], [1, 1, 1]);
    state.clock = 2_000;
    workers.submit(e!);
    assertEquals([workers.running, state.started, asked.length], [2, [2], 2]);
    workers.submit(f!);
    await workers.drain();
    assertEquals(state.spooled, 1_200);
  } finally {
    workers.terminate();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SpoolWorkerClient stops a worker past the first once idle for scaleDownMs, and starts one again under load", async () => {
  const dir = await Deno.makeTempDir();
  const { workers, state } = client(dir, 3, 1_000);
  try {
    const [a, b, c, d] = batches(4);
    workers.submit(a!);
    workers.submit(b!);
    state.clock = 1_000;
    workers.submit(c!); // busy for 1 s: a second worker
    workers.submit(d!); // to the second (the smaller backlog)
    assertEquals(workers.running, 2);
    await workers.drain();
    const idle = state.clock; // both idle from here
    state.clock = idle + 59_999;
    workers.tick();
    assertEquals([workers.running, state.stopped], [2, []]);
    state.clock = idle + 60_000;
    workers.tick();
    assertEquals([workers.running, state.stopped], [1, [1]]);
    // The first is never stopped; the one left spools, and another starts when it is busy again.
    state.clock += 600_000;
    workers.tick();
    assertEquals(workers.running, 1);
    const [e, f, g] = batches(3);
    workers.submit(e!);
    workers.submit(f!);
    state.clock += 1_000;
    workers.submit(g!);
    assertEquals([workers.running, state.started], [2, [2, 2]]);
    await workers.drain();
    assertEquals(state.spooled, 1_400);
  } finally {
    workers.terminate();
    await Deno.remove(dir, { recursive: true });
  }
});
