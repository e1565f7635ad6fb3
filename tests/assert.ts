/**
 * Test assertions. `@std/assert` is on JSR, which this workplace cannot reach; `node:assert`
 * gives the same deep comparison with a readable diff.
 *
 * @module
 */
import { deepStrictEqual, ok, throws } from "node:assert/strict";

/** Asserts deep equality. */
export function assertEquals<T>(actual: unknown, expected: T, message?: string): asserts actual is T {
  deepStrictEqual(actual, expected, message);
}

/** Asserts a truthy value. */
export function assert(value: unknown, message?: string): asserts value {
  ok(value, message);
}

/** Asserts that `fn` throws an instance of `type` whose message includes `includes`. */
export function assertThrows(fn: () => unknown, type: new (...args: never[]) => Error, includes = ""): void {
  throws(fn, (error: unknown) => {
    ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    ok(error.message.includes(includes), `expected a message including '${includes}', got '${error.message}'`);
    return true;
  });
}
