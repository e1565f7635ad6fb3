/**
 * `deno task docs`: writes the pages made from the code (`docs/options.md`, from the option
 * table). A test fails while a page differs from what the code makes.
 *
 * @module
 */
import { optionsReference } from "../src/config/options_doc.ts";

const path = new URL("../docs/options.md", import.meta.url);
await Deno.writeTextFile(path, optionsReference());
console.log(`wrote ${path.pathname}`);
