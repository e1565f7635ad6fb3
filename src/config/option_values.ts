/**
 * The kinds of value an option takes (a port list, a count, a byte size, a duration, a word
 * list, a text), each with the bounds it is given in the option table. A kind reads the text
 * of a flag or variable, refuses what is out of bounds with a {@linkcode ConfigError} that
 * names the option, says its range for the documentation, and names its edges (the smallest
 * and largest accepted value, and one past each) for the test that tries them all.
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";

/** A kind of option value with its bounds. */
export interface ValueKind<T> {
  /** Reads `text` given for `flag`; `previous` is what earlier occurrences gave (lists). */
  parse(flag: string, text: string, previous: T | undefined): T;
  /** What is accepted, for `--help` and the documentation: "1 to 64 MiB". */
  readonly range: string;
  /** The smallest and largest accepted values and, where one exists, a value past each bound. */
  readonly edges: Edges | undefined;
}

/** The edges of a bounded value, as texts a user would give. */
export interface Edges {
  /** The smallest value accepted. */
  min: string;
  /** The largest value accepted. */
  max: string;
  /** A value below the smallest, refused. */
  below: string | undefined;
  /** A value above the largest, refused. */
  above: string;
}

/** Multipliers of the units a byte size may carry: K, M, G, T, P (and KiB, ...) are powers of 1024, KB, MB, ... of 1000. */
const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
  p: 1024 ** 5,
  pib: 1024 ** 5,
  pb: 1000 ** 5,
};

/**
 * A byte size such as `1073741824`, `10G`, `512MiB` or `1.5GB`; undefined when it is not one.
 *
 * @example
 * ```ts
 * parseBytes("10G"); // 10737418240
 * ```
 */
export function parseBytes(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match === null ? undefined : BYTE_UNITS[match[2]!.toLowerCase()];
  if (match === null || unit === undefined) return undefined;
  const bytes = Math.round(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

const BINARY_UNITS = [["PiB", 1024 ** 5], ["TiB", 1024 ** 4], ["GiB", 1024 ** 3], ["MiB", 1024 ** 2], [
  "KiB",
  1024,
]] as const;

/**
 * A byte count as a person reads it: in the largest binary unit it is a whole number of,
 * else in bytes.
 *
 * @example
 * ```ts
 * formatBytes(67_108_864); // "64 MiB"
 * ```
 */
export function formatBytes(bytes: number): string {
  for (const [name, size] of BINARY_UNITS) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${name}`;
  }
  return bytes === 1 ? "1 byte" : `${bytes} bytes`;
}

/** A decimal number as given on a command line: digits, an optional fraction, nothing else. */
const DECIMAL = /^\s*\d+(\.\d+)?\s*$/;

/** A whole number from `min` to `max`. */
export function count(min: number, max: number): ValueKind<number> {
  return {
    parse(flag, text) {
      const n = Number(text);
      if (!/^\s*\d+\s*$/.test(text) || n < min || n > max) {
        throw new ConfigError(`Invalid ${flag} '${text}': give a whole number from ${min} to ${max}`);
      }
      return n;
    },
    range: `${min} to ${max}`,
    edges: { min: String(min), max: String(max), below: min > 0 ? String(min - 1) : undefined, above: String(max + 1) },
  };
}

/** A byte size from `min` to `max` bytes, with an optional unit. */
export function bytes(min: number, max: number): ValueKind<number> {
  const range = `${formatBytes(min)} to ${formatBytes(max)}`;
  return {
    parse(flag, text) {
      const n = parseBytes(text);
      if (n === undefined || n < min || n > max) {
        throw new ConfigError(
          `Invalid ${flag} '${text}': give a size from ${range}, with a unit if you like (64K, 512M, 10G)`,
        );
      }
      return n;
    },
    range,
    edges: { min: String(min), max: String(max), below: min > 0 ? String(min - 1) : undefined, above: String(max + 1) },
  };
}

/**
 * A duration in seconds from `min` to `max`; with `off`, 0 is accepted too and turns the
 * behaviour off.
 */
export function seconds(min: number, max: number, options: { off?: boolean } = {}): ValueKind<number> {
  const off = options.off === true;
  const range = `${min} to ${max} s${off ? "; 0 is off" : ""}`;
  return {
    parse(flag, text) {
      const n = Number(text);
      if (!DECIMAL.test(text) || !((n >= min && n <= max) || (off && n === 0))) {
        throw new ConfigError(
          `Invalid ${flag} '${text}': give a number of seconds from ${min} to ${max}${off ? ", or 0 for off" : ""}`,
        );
      }
      return n;
    },
    range,
    edges: { min: String(off ? 0 : min), max: String(max), below: String(min / 2), above: String(max + 1) },
  };
}

/**
 * A list of ports from 0 to 65535; 0 turns the option off. The first value given replaces the
 * default and later ones add to it; a variable holds a space-separated list.
 */
export function ports(defaults: readonly number[] = []): ValueKind<number[]> {
  return {
    parse(flag, text, previous) {
      const list = previous === undefined || previous === defaults ? [] : [...previous];
      for (const word of text.trim().split(/\s+/)) {
        const port = Number(word);
        if (!/^\d+$/.test(word) || port > 65535) {
          throw new ConfigError(`Invalid ${flag} '${word}': give a port number from 0 (off) to 65535`);
        }
        if (port !== 0 && !list.includes(port)) list.push(port);
      }
      return list;
    },
    range: "0 to 65535; 0 is off",
    edges: undefined,
  };
}

/** A list of words; repeated options and space-separated values add to it. */
export function words(): ValueKind<string[]> {
  return {
    parse(_flag, text, previous) {
      return [...(previous ?? []), ...text.trim().split(/\s+/).filter((w) => w !== "")];
    },
    range: "a list",
    edges: undefined,
  };
}

/** Any text, not empty. */
export function text(): ValueKind<string> {
  return {
    parse(flag, text) {
      if (text.trim() === "") throw new ConfigError(`Invalid ${flag} '': give a value`);
      return text;
    },
    range: "text",
    edges: undefined,
  };
}

/** Text of the shape `shape` (anchored), described to the user as `what`. */
export function shaped(shape: RegExp, what: string): ValueKind<string> {
  return {
    parse(flag, text) {
      const value = text.trim();
      if (!shape.test(value)) throw new ConfigError(`Invalid ${flag} '${text}': give ${what}`);
      return value;
    },
    range: what,
    edges: undefined,
  };
}

/** A host name or an IP address (IPv4, IPv6) to bind to. */
export function address(): ValueKind<string> {
  return {
    parse(flag, text) {
      const value = text.trim();
      // A name (RFC 1123 labels), an IPv4 address, or an IPv6 address in its textual forms.
      const name =
        /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
      const ipv6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9]+)?$/;
      if (!name.test(value) && !ipv6.test(value)) {
        throw new ConfigError(
          `Invalid ${flag} '${text}': give an IP address of this host (0.0.0.0, ::, 127.0.0.1) or a name it resolves`,
        );
      }
      return value;
    },
    range: "an IPv4 or IPv6 address, or a host name",
    edges: undefined,
  };
}
