/**
 * `--allow-from`: which source addresses may send. Matching is `node:net`'s `BlockList`
 * (used as a list of allowed subnets); this module only reads the ranges a user wrote.
 *
 * @module
 */
import { BlockList, isIP } from "node:net";

/**
 * The source ranges allowed to send; with none given, every source is allowed.
 *
 * @example
 * ```ts
 * const filter = SourceFilter.parse(["10.0.0.0/8", "2001:db8::/32"]);
 * filter.allows("10.1.2.3"); // true
 * filter.allows("192.0.2.1"); // false
 * ```
 */
export class SourceFilter {
  readonly #list: BlockList | undefined;
  /** The ranges as given. */
  readonly ranges: readonly string[];

  private constructor(list: BlockList | undefined, ranges: readonly string[]) {
    this.#list = list;
    this.ranges = ranges;
  }

  /**
   * Reads ranges such as `10.0.0.0/8`, `2001:db8::/32` or one address (`192.0.2.7`, a /32 or
   * /128); throws `RangeError` naming the first one that is not a range.
   */
  static parse(ranges: readonly string[]): SourceFilter {
    if (ranges.length === 0) return new SourceFilter(undefined, []);
    const list = new BlockList();
    for (const range of ranges) {
      const [address = "", prefix, extra] = range.split("/");
      const family = isIP(address);
      const max = family === 6 ? 128 : 32;
      const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
      if (family === 0 || extra !== undefined || !(bits >= 0 && bits <= max)) {
        throw new RangeError(
          `Invalid source range '${range}': give an IPv4 or IPv6 address with an optional /prefix, such as 10.0.0.0/8 or 2001:db8::/32`,
        );
      }
      list.addSubnet(address, bits, family === 6 ? "ipv6" : "ipv4");
    }
    return new SourceFilter(list, ranges);
  }

  /** Whether `address` (as the listeners name sources: IPv4, or IPv6 without brackets) may send. */
  allows(address: string): boolean {
    if (this.#list === undefined) return true;
    const family = isIP(address);
    if (family === 0) return false;
    return this.#list.check(address, family === 6 ? "ipv6" : "ipv4");
  }
}
