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
