/**
 * `deno task fuzz [--frames N] [--seed S]`: the property checks of `tests/properties.ts`,
 * run until together they have pushed at least N frames (default 1,000,000) through the
 * framers, the PROXY parser and the GELF path. A failure prints fast-check's counterexample
 * and seed, and exits 1.
 *
 * @module
 */
import { Command, Option } from "commander";
import properties from "../tests/properties.ts";

const program = new Command("fuzz")
  .addOption(new Option("--frames <n>", "frames to push through, at least").default("1000000"))
  .addOption(new Option("--seed <n>", "fast-check seed (default: random, printed on failure)"))
  .parse(["deno", "fuzz", ...Deno.args]);
const options = program.opts<{ frames: string; seed?: string }>();
const target = Number(options.frames);
const seed = options.seed === undefined ? undefined : Number(options.seed);
// Each property gets an equal share; runs go in rounds of this many cases.
const ROUND = 2_000;
const share = Math.ceil(target / properties.length);
let total = 0;
const started = performance.now();
for (const property of properties) {
  const t0 = performance.now();
  let frames = 0;
  let cases = 0;
  let round = 0;
  while (frames < share) {
    frames += property.run(ROUND, seed === undefined ? undefined : seed + round++);
    cases += ROUND;
  }
  total += frames;
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `${frames.toLocaleString("en-US")} frames in ${cases.toLocaleString("en-US")} cases, ${
      seconds.toFixed(1)
    } s: ${property.name}`,
  );
}
console.log(
  `fuzz: ${total.toLocaleString("en-US")} frames, ${properties.length} properties, all held, ` +
    `${((performance.now() - started) / 1000).toFixed(1)} s`,
);
