/**
 * Test assertions. `@std/assert` is on JSR, which this workplace cannot reach; `node:assert`
 * gives the same deep comparison with a readable diff.
 *
 * @module
 */
import { deepStrictEqual, ok } from "node:assert/strict";

/** Asserts deep equality. */
export function assertEquals<T>(actual: unknown, expected: T, message?: string): asserts actual is T {
  deepStrictEqual(actual, expected, message);
}

/** Asserts a truthy value. */
export function assert(value: unknown, message?: string): asserts value {
  ok(value, message);
}
