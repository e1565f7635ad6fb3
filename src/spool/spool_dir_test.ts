import { assertEquals } from "../../tests/assert.ts";
import { sinkSpoolDir, SpoolDir, unconfiguredSpools } from "./spool_dir.ts";

Deno.test("unconfiguredSpools counts the records of sinks not configured, default's at the top included", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-spool-dir-" });
  try {
    assertEquals(await unconfiguredSpools(dir, ["a"]), [], "an empty spool");
    for (const [sink, records] of [["default", 2], ["a", 1], ["gone", 3], ["empty", 0]] as const) {
      const spool = new SpoolDir(sinkSpoolDir(dir, sink));
      await spool.prepare();
      for (let i = 0; i < records; i++) await spool.write([new Uint8Array([1, 2, 3])]);
    }
    await Deno.writeTextFile(`${dir}/sinks/gone/notes.txt`, "not a record");
    const found = await unconfiguredSpools(dir, ["a"]);
    assertEquals(found.sort((x, y) => x.sink.localeCompare(y.sink)), [
      { sink: "default", records: 2 },
      { sink: "gone", records: 3 },
    ]);
    assertEquals(await unconfiguredSpools(dir, ["default", "a", "gone"]), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
