/** A token bucket that holds one second of its rate, full at the start: a quota as AWS services meter one. */
export class QuotaBucket {
  #tokens: number;
  #last = performance.now();
  constructor(public rate: number) {
    this.#tokens = rate;
  }
  /** Changes the rate (a bucket that was unlimited starts full). */
  setRate(rate: number): void {
    if (this.rate === Infinity) this.#tokens = rate;
    this.rate = rate;
  }
  /** Takes `amount` if the bucket holds it. */
  take(amount: number): boolean {
    if (this.rate === Infinity) return true;
    const now = performance.now();
    this.#tokens = Math.min(this.rate, this.#tokens + this.rate * (now - this.#last) / 1000);
    this.#last = now;
    if (this.#tokens < amount) return false;
    this.#tokens -= amount;
    return true;
  }
  /** Gives back what a take took (the record failed on another quota); false, for chaining. */
  give(amount: number): false {
    if (this.rate === Infinity) return false;
    this.#tokens = Math.min(this.rate, this.#tokens + amount);
    return false;
  }
}
