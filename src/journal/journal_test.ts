import { assert, assertEquals } from "../../tests/assert.ts";
import { key } from "../../tests/keys.ts";
import { forEachBlockEvent } from "./journal_format.ts";
import { Journal, type JournalOptions } from "./journal.ts";
import { CAN_MOUNT, mountTmpfs } from "../../tests/fault_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function files(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const item of Deno.readDir(dir)) names.push(item.name);
  return names.sort();
}

async function withJournal(
  options: Partial<JournalOptions>,
  body: (dir: string, open: () => Promise<Journal>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "journal-test-" });
  const opened: Journal[] = [];
  try {
    await body(dir, async () => {
      const journal = await Journal.open({
        dir: `${dir}/journal`,
        quarantineDir: `${dir}/quarantine`,
        fsyncIntervalMs: 60_000,
        ...options,
      });
      opened.push(journal);
      return journal;
    });
  } finally {
    for (const j of opened) await j.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function append(journal: Journal, stream: string, ...messages: string[]): number[] {
  journal.begin(key("/k/syslog/514", stream));
  for (const [i, m] of messages.entries()) journal.add(enc.encode(m), 1000 + i);
  const { segment, count } = journal.end();
  return [segment, count];
}

Deno.test("Journal: a segment left without close() is listed and read back by the next open", async () => {
  await withJournal({}, async (dir, open) => {
    const first = await open();
    append(first, "10.0.0.1", "a", "b");
    append(first, "10.0.0.2", "c");
    await first.sync();
    // A crash: the first journal is never closed. The next run finds its segment.
    const second = await open();
    assertEquals(second.leftovers, ["000000000001.ksj"]);
    const read = await second.readLeftover(second.leftovers[0]!);
    assertEquals(read.damage, undefined);
    const messages: string[] = [];
    for (const block of read.blocks) {
      forEachBlockEvent(block, (m) => messages.push(`${block.logStream} ${dec.decode(m)}`));
    }
    assertEquals(messages, ["10.0.0.1 a", "10.0.0.1 b", "10.0.0.2 c"]);
    // The new journal numbers its segments after the leftovers.
    assertEquals(append(second, "x", "d")[0], 2);
    await second.retire(second.leftovers[0]!, false);
    assertEquals(await files(`${dir}/journal`), []);
  });
});

Deno.test("Journal: a closed segment is deleted once all its events are released, not before", async () => {
  await withJournal({ segmentAgeMs: 0 }, async (dir, open) => {
    const journal = await open();
    const runA = append(journal, "s", "1", "2", "3");
    await journal.sync(); // writes, fsyncs, and closes the segment (age 0)
    const runB = append(journal, "s", "4");
    await journal.sync();
    assertEquals(await files(`${dir}/journal`), ["000000000001.ksj", "000000000002.ksj"]);
    journal.release([runA[0]!, 2]);
    await journal.sync();
    assertEquals((await files(`${dir}/journal`)).length, 2);
    journal.release([runA[0]!, 1]);
    await journal.sync();
    assertEquals(await files(`${dir}/journal`), ["000000000002.ksj"]);
    journal.release(runB);
    await journal.sync();
    assertEquals(await files(`${dir}/journal`), []);
    assertEquals(journal.diskBytes, 0);
  });
});

Deno.test("Journal: close() deletes what was released and keeps what was not, for the next start", async () => {
  await withJournal({}, async (dir, open) => {
    const journal = await open();
    const run = append(journal, "s", "kept");
    await journal.close();
    assertEquals(await files(`${dir}/journal`), ["000000000001.ksj"]);
    const next = await open();
    assertEquals(next.leftovers, ["000000000001.ksj"]);
    await next.retire("000000000001.ksj", false);
    const released = append(next, "s", "gone");
    next.release(released);
    await next.close();
    assertEquals(await files(`${dir}/journal`), []);
    assert(run[1] === 1);
  });
});

Deno.test("Journal: a damaged leftover is retired to the quarantine directory", async () => {
  await withJournal({}, async (dir, open) => {
    const first = await open();
    append(first, "s", "one");
    await first.sync();
    const path = `${dir}/journal/000000000001.ksj`;
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 2)); // a torn write
    const second = await open();
    const read = await second.readLeftover("000000000001.ksj");
    assert(read.damage?.includes("torn"), read.damage);
    assertEquals(read.blocks.length, 0);
    await second.retire("000000000001.ksj", true);
    const quarantined = await files(`${dir}/quarantine`);
    assertEquals(quarantined.length, 1);
    assert(quarantined[0]!.startsWith("journal-") && quarantined[0]!.endsWith("-000000000001.ksj"));
  });
});

Deno.test("Journal: bytes are written at 256 KiB without waiting for the fsync tick", async () => {
  await withJournal({}, async (dir, open) => {
    const journal = await open();
    const big = "x".repeat(4096);
    for (let i = 0; i < 300; i++) append(journal, "s", big);
    // The write runs in the background; the backlog empties without a sync().
    for (let i = 0; i < 100 && journal.backlogBytes > 100_000; i++) await new Promise((r) => setTimeout(r, 10));
    assert(journal.backlogBytes < 100_000, `backlog ${journal.backlogBytes}`);
    const { size } = await Deno.stat(`${dir}/journal/000000000001.ksj`);
    assert(size > 1_000_000, `segment holds ${size} bytes`);
  });
});

Deno.test("Journal: shed() deletes every segment and keeps their counts; nothing is written until resume()", async () => {
  await withJournal({}, async (dir, open) => {
    const journal = await open();
    const a = append(journal, "10.0.0.1", "a", "b");
    await journal.closeSegment();
    const b = append(journal, "10.0.0.1", "c");
    await journal.sync();
    assertEquals(await files(`${dir}/journal`), ["000000000001.ksj", "000000000002.ksj"]);
    const before = journal.diskBytes;
    const freed = await journal.shed();
    assertEquals(await files(`${dir}/journal`), [], "the closed segment went, and the open one");
    assertEquals(freed, before);
    assertEquals(journal.diskBytes, 0);
    assert(journal.suspended);
    // Suspended: blocks ended now wait in memory, and a sync does not write them.
    const c = append(journal, "10.0.0.1", "d");
    await journal.sync();
    assertEquals(await files(`${dir}/journal`), []);
    assert(journal.backlogBytes > 0);
    // The shed segments' events are spooled later: releasing them is no error.
    journal.release(a);
    journal.release(b);
    journal.resume();
    await journal.sync();
    const [name] = await files(`${dir}/journal`);
    assertEquals(name, "000000000003.ksj", "the blocks ended while suspended are in a new segment");
    assert(dec.decode(await Deno.readFile(`${dir}/journal/${name}`)).includes("d"));
    journal.release(c);
    await journal.closeSegment();
    await journal.sync();
    assertEquals(await files(`${dir}/journal`), [], "closed and released: deleted");
    assertEquals(journal.diskBytes, 0);
  });
});

Deno.test("Journal: a segment is closed at its size however fast blocks come", async () => {
  await withJournal({ segmentBytes: 300_000 }, async (dir, open) => {
    const journal = await open();
    const big = "x".repeat(4096);
    // Blocks keep coming while the journal writes: the write loop never finds the writer empty.
    for (let i = 0; i < 3_000; i++) {
      append(journal, "s", big);
      if (i % 4 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    await journal.sync();
    const sizes = await Promise.all(
      (await files(`${dir}/journal`)).map(async (n) => (await Deno.stat(`${dir}/journal/${n}`)).size),
    );
    assert(sizes.length >= 10, `${sizes.length} segments`);
    // A segment takes what the writer held when it was due: its size plus one write's worth.
    assert(Math.max(...sizes) < 300_000 + 2_000_000, `segments of ${sizes.join(", ")} bytes`);
  });
});

Deno.test({
  name: "Journal: on a full disk, shed() frees the segment being written, whose writes fail, and ends the waits",
  ignore: !CAN_MOUNT,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "journal-full-" });
    const unmount = await mountTmpfs(dir, "2m");
    const errors: string[] = [];
    const journal = await Journal.open({
      dir: `${dir}/journal`,
      quarantineDir: `${dir}/quarantine`,
      fsyncIntervalMs: 60_000,
      onError: (error) => errors.push(error),
    });
    try {
      const big = "y".repeat(8192);
      // 3 MB into one segment (8 MiB by default) on a 2 MiB disk: the writes fail.
      for (let i = 0; i < 400; i++) append(journal, "s", big);
      const waiting = journal.durable(false);
      while (errors.length === 0) await new Promise((r) => setTimeout(r, 10));
      assert(errors.some((e) => /No space left/.test(e)), errors.join("; "));
      const names = await files(`${dir}/journal`);
      assertEquals(names, ["000000000001.ksj"], "one segment, still open, fills the disk");
      const freed = await journal.shed();
      assert(freed > 1_000_000, `freed ${freed}`);
      assertEquals(await files(`${dir}/journal`), []);
      assertEquals(journal.diskBytes, 0);
      assertEquals(journal.backlogBytes, 0, "what was not written was let go");
      await waiting;
      journal.resume();
      append(journal, "s", "after");
      await journal.sync();
      assertEquals(await files(`${dir}/journal`), ["000000000002.ksj"]);
    } finally {
      await journal.close();
      await unmount();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("Journal: a symlink planted where the next segment goes is moved aside, never written through", async () => {
  await withJournal({}, async (dir, open) => {
    await Deno.mkdir(`${dir}/journal`, { recursive: true });
    await Deno.writeTextFile(`${dir}/target`, "precious");
    await Deno.symlink(`${dir}/target`, `${dir}/journal/000000000001.ksj`);
    const journal = await open();
    assertEquals(journal.setAside.map((s) => s.reason), ["symlink"]);
    assertEquals(journal.leftovers, []);
    append(journal, "10.0.0.1", "a");
    await journal.sync();
    assertEquals(await Deno.readTextFile(`${dir}/target`), "precious");
    assert(!Deno.lstatSync(`${dir}/journal/${(await files(`${dir}/journal`))[0]}`).isSymlink);
  });
});

Deno.test("Journal: durable() resolves once the blocks ended so far are in the segment file, not before", async () => {
  // No tick would write within the test: writes come only from durable().
  await withJournal({ fsyncIntervalMs: 60_000 }, async (dir, open) => {
    const journal = await open();
    const segmentText = async () => {
      try {
        return dec.decode(await Deno.readFile(`${dir}/journal/000000000001.ksj`));
      } catch {
        return "";
      }
    };
    append(journal, "10.0.0.1", "first-message");
    assert(!(await segmentText()).includes("first-message"));
    let written = false;
    const wait = journal.durable(false).then(() => (written = true));
    assert(!written);
    await wait;
    assert((await segmentText()).includes("first-message"));
    // Nothing new: resolves at once. A later block needs a write of its own.
    await journal.durable(false);
    append(journal, "10.0.0.1", "second-message");
    await journal.durable(true);
    assert((await segmentText()).includes("second-message"));
  });
});

Deno.test("Journal: close() ends the waits of durable()", async () => {
  await withJournal({}, async (_dir, open) => {
    const journal = await open();
    append(journal, "10.0.0.1", "a");
    const wait = journal.durable(true);
    await journal.close();
    await wait;
  });
});
