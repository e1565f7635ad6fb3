/**
 * The fast subset of the property checks (`properties.ts`); `deno task fuzz` runs the same
 * checks over a million frames and more.
 */
import properties from "./properties.ts";

for (const property of properties) {
  Deno.test(`property: ${property.name}`, () => {
    property.run(300);
  });
}
