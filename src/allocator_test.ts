import { assert } from "../tests/assert.ts";
import { Allocator } from "./allocator.ts";
import { releaseBuffer } from "./release_buffer.ts";

/** The process's resident memory, in bytes (Deno reads `/proc/self` only with `--allow-all`). */
const rss = () => Deno.memoryUsage().rss;

Deno.test({
  name: "Allocator.trim() hands back to the system the memory freed below a buffer still in use",
  ignore: Deno.build.os !== "linux",
  fn() {
    const allocator = Allocator.tune();
    assert(typeof allocator !== "string", String(allocator));
    allocator.trim();
    // 30 MB of 100 KiB buffers (below glibc's mmap threshold: from the arena), written to,
    // then one kept above them, so that freeing them leaves a hole glibc does not give back.
    const buffers = Array.from({ length: 300 }, () => new Uint8Array(100 * 1024).fill(1));
    const kept = new Uint8Array(100 * 1024).fill(1);
    for (const buffer of buffers) releaseBuffer(buffer);
    const before = rss();
    allocator.trim();
    const returned = before - rss();
    assert(returned > 20 * 1_048_576, `trim returned ${(returned / 1_048_576).toFixed(1)} MB of about 30`);
    assert(kept[0] === 1);
  },
});

Deno.test({
  name: "Allocator.tune() maps large buffers on their own, so that each freed goes back to the system at once",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // In a process of its own: buffers are mapped only while the arenas have no free room
    // that fits them, and this one's tests have left some.
    const script = `
      import { Allocator } from ${JSON.stringify(new URL("./allocator.ts", import.meta.url).href)};
      import { releaseBuffer } from ${JSON.stringify(new URL("./release_buffer.ts", import.meta.url).href)};
      if (Deno.args[0] === "tune" && typeof Allocator.tune() === "string") throw new Error("not tuned");
      const returned = [];
      for (let round = 0; round < 3; round++) {
        const buffers = Array.from({ length: 32 }, () => new Uint8Array(1_048_576).fill(1));
        // Small ones after them, from the arena: what would keep freed arena memory from its top.
        const kept = Array.from({ length: 16 }, () => new Uint8Array(4_096).fill(1));
        const before = Deno.memoryUsage().rss;
        for (const buffer of buffers) releaseBuffer(buffer);
        returned.push(Math.round((before - Deno.memoryUsage().rss) / 1_048_576));
        if (kept[0][0] !== 1) throw new Error("kept");
      }
      console.log(JSON.stringify(returned));
    `;
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), { args: ["eval", script, ...args], stderr: "inherit" })
        .output();
      assert(out.success);
      return JSON.parse(new TextDecoder().decode(out.stdout)) as number[];
    };
    // glibc alone maps the first round, then raises its threshold above 1 MiB: the next rounds
    // come from the arena and stay there once freed.
    const alone = await run();
    assert(alone[0]! >= 24 && alone[1]! < 8 && alone[2]! < 8, `without tune(): ${alone} MB returned`);
    const tuned = await run("tune");
    assert(tuned.every((mb) => mb >= 24), `with tune(): ${tuned} MB returned of 32 each round`);
  },
});
