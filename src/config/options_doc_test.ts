import { assert, assertEquals } from "../../tests/assert.ts";
import { LISTEN_OPTIONS } from "./listen_options.ts";
import { optionsReference } from "./options_doc.ts";

const DOCS = new URL("../../docs/", import.meta.url);
const README = new URL("../../README.md", import.meta.url);

Deno.test("docs/options.md is what the option table makes (deno task docs writes it)", async () => {
  const written = await Deno.readTextFile(new URL("options.md", DOCS));
  assert(written === optionsReference(), "docs/options.md differs from the option table: run `deno task docs`");
});

Deno.test("the option reference documents every option once, under its flag", () => {
  const text = optionsReference();
  for (const spec of LISTEN_OPTIONS) {
    const heading = new RegExp(`^### \`--${spec.name}[\` ]`);
    const headings = text.split("\n").filter((l) => heading.test(l));
    assertEquals(headings.length, 1, `--${spec.name}`);
  }
});

Deno.test("the README and docs/ name no option that does not exist", async () => {
  const known = new Set(LISTEN_OPTIONS.map((o) => o.name));
  // Options of `install` and `decode`, and of the peers and tools the pages quote.
  for (const other of ["system-dir", "user", "exec", "count", "help", "version"]) known.add(other);
  const pages = [
    README,
    ...[...Deno.readDirSync(DOCS)].filter((e) => e.name.endsWith(".md")).map((e) => new URL(e.name, DOCS)),
  ];
  for (const page of pages) {
    const text = await Deno.readTextFile(page);
    // Flags the relay takes, as the pages write them: `--name` in code spans.
    const named = [...text.matchAll(/`(?:kinesyslog listen [^`]*?)?--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!);
    const unknown = [...new Set(named)].filter((name) =>
      !known.has(name) && !FOREIGN.has(name) && !name.startsWith("allow-")
    );
    assertEquals(unknown, [], `${page.pathname.split("/").pop()} names options that do not exist`);
  }
});

/**
 * Flags of other commands the pages quote in code spans: Deno's (`--allow-*` too), and those
 * of `deno task bench` and `deno task fuzz`.
 */
const FOREIGN = new Set<string>([
  "v8-flags",
  "include",
  "filter",
  "edge",
  "frames",
  "out",
  "peer",
  "quick",
  "quota",
  "fleet",
  "idle",
  "bytes",
  "seed",
  "sink",
  "soak",
]);

Deno.test("the README stays short: under 250 lines, the two commands first, a link to every page of docs/", async () => {
  const text = await Deno.readTextFile(README);
  assert(text.split("\n").length < 250, `README.md has ${text.split("\n").length} lines`);
  const firstBlock = /```sh\n([^`]*)```/.exec(text)?.[1] ?? "";
  assert(
    firstBlock.includes("./scripts/deno task start") && firstBlock.includes("./scripts/deno task test"),
    firstBlock,
  );
  for (const entry of Deno.readDirSync(DOCS)) {
    if (entry.name.endsWith(".md")) assert(text.includes(`](docs/${entry.name})`), `README links docs/${entry.name}`);
  }
});
