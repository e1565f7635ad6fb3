/**
 * Event ids: where an event sits, not a random number. An id is the relay's instance id (20
 * decimal digits, made once per spool directory: `spool/instance_file.ts`) followed by the
 * event's sequence number (16 decimal digits, zero-padded), 36 digits in all:
 *
 * ```
 * 07350112847565103211 0000004294967311
 * └─ instance id ────┘ └─ sequence ────┘
 * ```
 *
 * - Unique across relays: instance ids are 64 random bits; within an instance, sequence
 *   numbers never repeat, across restarts too (the spool directory keeps how far they went).
 * - Stable: the number is given when the event is accepted and kept in the journal with it,
 *   so an event replayed after a crash is delivered again under the same id, and a duplicate
 *   is found by its id downstream (`docs/records.md` has the query).
 * - Cheap: consecutive events of a record differ in their last digits only, so gzip stores an
 *   id in a few bytes, where a random UUID cost about 28.
 *
 * @module
 */

/** Decimal digits of an instance id (an unsigned 64-bit number). */
export const INSTANCE_ID_DIGITS = 20;
/** Decimal digits of a sequence number (at most 2^53, JavaScript's largest exact integer). */
export const SEQUENCE_DIGITS = 16;

/** Whether `text` is an instance id. */
export function isInstanceId(text: string): boolean {
  return text.length === INSTANCE_ID_DIGITS && /^\d+$/.test(text);
}

/**
 * The id of event `sequence` of instance `instance`.
 *
 * @example
 * ```ts
 * eventId("00000000000000000042", 7); // "000000000000000000420000000000000007"
 * ```
 */
export function eventId(instance: string, sequence: number): string {
  return instance + String(sequence).padStart(SEQUENCE_DIGITS, "0");
}

/** The instance id and sequence number of an id made by {@linkcode eventId}, or undefined. */
export function parseEventId(id: string): { instance: string; sequence: number } | undefined {
  if (id.length !== INSTANCE_ID_DIGITS + SEQUENCE_DIGITS || !/^\d+$/.test(id)) return undefined;
  return { instance: id.slice(0, INSTANCE_ID_DIGITS), sequence: Number(id.slice(INSTANCE_ID_DIGITS)) };
}
