/**
 * The build recipes agree with the project: the Dockerfile's Deno is the pinned one and it
 * builds with the compile task; the compile task bundles every worker module. Neither
 * `deno compile` nor `docker build` can run here (both download), so these checks are what
 * keeps the recipes from drifting.
 */
import { assert, assertEquals } from "./assert.ts";

const root = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, root));

Deno.test("the Dockerfile builds with the pinned Deno and the compile task, and runs the binary it made", async () => {
  const dockerfile = await read("Dockerfile");
  const pinned = /^DENO_VERSION=(\S+)$/m.exec(await read("scripts/deno"))![1];
  assertEquals(/^FROM denoland\/deno:(\S+) AS build$/m.exec(dockerfile)?.[1], pinned);
  assert(/^RUN deno task compile/m.test(dockerfile));
  const output = /--output (\S+)/.exec(JSON.parse(await read("deno.json")).tasks.compile)![1];
  assert(dockerfile.includes(`COPY --from=build /src/${output} /usr/local/bin/kinesyslog`));
  for (const [, sources] of dockerfile.matchAll(/^COPY (?!--)(.+) \S+$/gm)) {
    for (const path of sources!.split(" ")) await Deno.stat(new URL(path, root));
  }
  assert(/^USER 65532:65532$/m.test(dockerfile), "runs as the distroless nonroot user");
  assert(/^FROM gcr\.io\/distroless\/cc-debian12:nonroot$/m.test(dockerfile));
});

Deno.test("the compile task includes every worker module and runs with the documented permissions", async () => {
  const compile: string = JSON.parse(await read("deno.json")).tasks.compile;
  const workers: string[] = [];
  for (const dir of ["src/spool", "src/listen"]) {
    for await (const entry of Deno.readDir(new URL(dir, root))) {
      if (!entry.name.endsWith(".ts")) continue;
      const text = await read(`${dir}/${entry.name}`);
      for (const m of text.matchAll(/new Worker\(new URL\("\.\/([a-z_]+\.ts)"/g)) workers.push(`${dir}/${m[1]}`);
    }
  }
  assert(workers.length > 0, "a worker module");
  for (const w of workers) assert(compile.includes(`--include ${w}`), `${w} is bundled`);
  for (const flag of ["--allow-net", "--allow-env", "--allow-sys", "--allow-read", "--allow-write"]) {
    assert(compile.split(" ").includes(flag), flag);
  }
  for (const flag of ["--allow-all", "-A", "--allow-run", "--allow-ffi"]) {
    assert(!compile.split(" ").includes(flag), flag);
  }
  // FFI for libc only (the UDP receive buffer: src/listen/socket_options.ts), by its paths.
  const { LIBC_PATHS } = await import("../src/listen/socket_options.ts");
  const ffi = `--allow-ffi=${LIBC_PATHS.join(",")}`;
  assert(compile.split(" ").includes(ffi), ffi);
  assert(JSON.parse(await read("deno.json")).tasks.start.split(" ").includes(ffi), `deno task start: ${ffi}`);
});

Deno.test("the start task and the tests run with the V8 flags the binary embeds", async () => {
  const tasks = JSON.parse(await read("deno.json")).tasks;
  const flags = /--v8-flags=(\S+)/.exec(tasks.compile)?.[1];
  assert(
    flags !== undefined && flags.includes("--max-semi-space-size="),
    "a small young generation (docs/development.md)",
  );
  assert(tasks.start.split(" ").includes(`--v8-flags=${flags}`), "deno task start");
  const { RELAY_V8_FLAGS } = await import("./harness.ts");
  assertEquals(RELAY_V8_FLAGS, [`--v8-flags=${flags}`]);
});
