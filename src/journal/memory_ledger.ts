/**
 * Without a journal (`--no-journal`), the same bookkeeping of events on their way to the
 * spool that the journal keeps per segment (`journal_runs.ts`), in memory only: events are
 * counted under numbered tickets instead of segments, so that a RELP acknowledgement can
 * wait until its messages are in the spool ({@linkcode MemoryLedger.spooled}). Nothing is
 * written; a crash loses what is not spooled, as `--no-journal` says.
 *
 * @module
 */
import type { BlockKey } from "./journal_format.ts";
import type { Runs } from "./journal_runs.ts";

/** Counts events per ticket until they are released (spooled, or dropped and counted). */
export class MemoryLedger {
  /** Events not yet released, per ticket. */
  readonly #held = new Map<number, number>();
  /** The ticket blocks ended now are counted under. */
  #current = 1;
  #adding = 0;
  /** Waits for every ticket up to `upTo` to be released, in the order asked. */
  readonly #waiters: { upTo: number; resolve: () => void }[] = [];

  /** Opens a block (the journal's interface; nothing to remember here). */
  begin(_key: BlockKey): void {
    this.#adding = 0;
  }

  /** Counts one event of the open block. */
  add(_message: Uint8Array, _timeMs: number): void {
    this.#adding++;
  }

  /** Counts `count` events of the open block. */
  addEntries(_entries: Uint8Array, count: number): void {
    this.#adding += count;
  }

  /** Closes the block: its events are held under the current ticket. */
  end(): { segment: number; count: number } {
    const count = this.#adding;
    this.#adding = 0;
    if (count > 0) this.#held.set(this.#current, (this.#held.get(this.#current) ?? 0) + count);
    return { segment: this.#current, count };
  }

  /** The events of `runs` are in the spool (or were dropped and counted). */
  release(runs: Runs): void {
    for (let i = 0; i < runs.length; i += 2) {
      const ticket = runs[i]!;
      const left = (this.#held.get(ticket) ?? 0) - runs[i + 1]!;
      if (left > 0) this.#held.set(ticket, left);
      else this.#held.delete(ticket);
    }
    this.#wake();
  }

  /**
   * Resolves once every event counted so far has been released. Later events go under a new
   * ticket, so that a steady stream does not keep the wait open.
   */
  spooled(): Promise<void> {
    const upTo = this.#current;
    if (this.#held.has(upTo)) this.#current++;
    if (this.#oldestHeld() > upTo) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ upTo, resolve });
    return promise;
  }

  /** Ends every wait (at shutdown). */
  close(): void {
    for (const w of this.#waiters.splice(0)) w.resolve();
  }

  /** The lowest ticket still holding events, or Infinity (tickets enter the map in ascending order). */
  #oldestHeld(): number {
    return this.#held.keys().next().value ?? Infinity;
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const oldest = this.#oldestHeld();
    let kept = 0;
    for (const w of this.#waiters) {
      if (w.upTo < oldest) w.resolve();
      else this.#waiters[kept++] = w;
    }
    this.#waiters.length = kept;
  }
}
