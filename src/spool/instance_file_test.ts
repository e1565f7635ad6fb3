import { assert, assertEquals } from "../../tests/assert.ts";
import { INSTANCE_FILE, InstanceFile, RESERVED_SEQUENCES } from "./instance_file.ts";

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-instance-" });
  await Deno.mkdir(`${dir}/quarantine`);
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("InstanceFile keeps its id across opens and never gives a number twice, a crash included", async () => {
  await withDir(async (dir) => {
    const first = await InstanceFile.open({ dir, quarantineDir: `${dir}/quarantine` });
    assertEquals(first.id.length, 20);
    assertEquals(first.next, 0);
    first.advance(1_000);
    // No close: as after kill -9.
    const second = await InstanceFile.open({ dir, quarantineDir: `${dir}/quarantine` });
    assertEquals(second.id, first.id);
    assert(second.next >= 1_000, `${second.next}`);
    assertEquals(second.next, RESERVED_SEQUENCES, "the numbers reserved by the run before are skipped");
    await second.close();
  });
});

Deno.test("InstanceFile reserves the next numbers in the background once half the reservation is used", async () => {
  await withDir(async (dir) => {
    const instance = await InstanceFile.open({ dir, quarantineDir: `${dir}/quarantine` });
    instance.advance(RESERVED_SEQUENCES / 2 + 1);
    await instance.close();
    const text = await Deno.readTextFile(`${dir}/${INSTANCE_FILE}`);
    assertEquals(text, `KSI1 ${instance.id} ${2 * RESERVED_SEQUENCES}\n`);
  });
});

Deno.test("InstanceFile sets aside a damaged file or a symlink and begins a new instance", async (t) => {
  for (const plant of ["damaged", "oversize", "symlink"] as const) {
    await t.step(plant, async () => {
      await withDir(async (dir) => {
        const path = `${dir}/${INSTANCE_FILE}`;
        if (plant === "damaged") await Deno.writeTextFile(path, "KSI1 not a number\n");
        else if (plant === "oversize") await Deno.writeFile(path, new Uint8Array(1_048_576));
        else await Deno.symlink(`${dir}/elsewhere`, path);
        const instance = await InstanceFile.open({ dir, quarantineDir: `${dir}/quarantine` });
        assertEquals(instance.setAside.length, 1);
        const reasons = { damaged: "foreign_name", oversize: "oversize", symlink: "symlink" } as const;
        assertEquals(instance.setAside[0]!.reason, reasons[plant]);
        assert((await Deno.lstat(path)).isFile, "a new file of the relay's own");
        assertEquals(instance.id.length, 20);
      });
    });
  }
});
