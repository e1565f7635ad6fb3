/**
 * Validation of one GELF message (GELF 1.1, "GELF Payload Specification") and its event
 * time. The message is kept byte for byte as received; it is parsed only to check it.
 *
 * Lenient where real clients differ from the specification: `version` is not checked
 * (graypy sends "1.0"), `host` may be missing, additional fields may be null, and a numeric
 * string `timestamp` is read like a number.
 *
 * @module
 */

/** Why a GELF message was refused; each is a `reason` label of the drop counter. */
export type GelfMessageError = "invalid_json" | "not_object" | "missing_message";

/** A valid message: its event time in integer ms, or undefined when it carries none. */
export interface GelfMessage {
  /** The `timestamp` field in ms, or undefined (then the receive time is used). */
  timestampMs: number | undefined;
  /** The message's fields, as parsed (routes read them). */
  fields: Record<string, unknown>;
}

/** Earliest event time accepted from `timestamp`, in seconds (1970-01-01). */
const MIN_TIMESTAMP_SECONDS = 0;
/** Latest event time accepted from `timestamp`, in seconds (9999-12-31T23:59:59Z). */
const MAX_TIMESTAMP_SECONDS = 253_402_300_799;

const decoder = new TextDecoder();

/**
 * Checks that `json` is a JSON object with a non-empty string `short_message` (or
 * `message`, as some clients send) and reads its `timestamp`: seconds since the epoch,
 * fractional, as integer ms (microsecond digits rounded away first, so that
 * `1500000000.123` is 1500000000123 despite binary floating point). Never throws.
 *
 * @example
 * ```ts
 * parseGelfMessage(new TextEncoder().encode('{"short_message":"m","timestamp":1500000000.5}'));
 * // { timestampMs: 1500000000500, fields: { short_message: "m", timestamp: 1500000000.5 } }
 * ```
 */
export function parseGelfMessage(json: Uint8Array): GelfMessage | GelfMessageError {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(json));
  } catch {
    return "invalid_json";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not_object";
  const fields = value as Record<string, unknown>;
  if (!isText(fields.short_message) && !isText(fields.message)) return "missing_message";
  return { timestampMs: gelfTimestampMs(fields.timestamp), fields };
}

function isText(value: unknown): boolean {
  return typeof value === "string" && value.trim() !== "";
}

/** A GELF `timestamp` (seconds) as integer ms, or undefined when absent or out of range. */
export function gelfTimestampMs(value: unknown): number | undefined {
  const seconds = typeof value === "number"
    ? value
    : typeof value === "string" && value.trim() !== ""
    ? Number(value)
    : NaN;
  if (!Number.isFinite(seconds) || seconds < MIN_TIMESTAMP_SECONDS || seconds > MAX_TIMESTAMP_SECONDS) return undefined;
  return Math.floor(Math.round(seconds * 1_000_000) / 1000);
}
