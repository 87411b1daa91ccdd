/** Counts events and their rate over the last few seconds (for router.stats() and the dashboard). */

const WINDOW_SECS = 10;

export class RateMeter {
  readonly #now: () => number;
  /** Events per whole second, a ring indexed by second % WINDOW_SECS. */
  readonly #buckets = new Array<number>(WINDOW_SECS).fill(0);
  readonly #bucketSecond = new Array<number>(WINDOW_SECS).fill(-1);
  #total = 0;

  constructor(now: () => number) {
    this.#now = now;
  }

  get total(): number {
    return this.#total;
  }

  add(n = 1): void {
    this.#total += n;
    const second = Math.floor(this.#now() / 1000);
    const i = second % WINDOW_SECS;
    if (this.#bucketSecond[i] !== second) {
      this.#bucketSecond[i] = second;
      this.#buckets[i] = 0;
    }
    this.#buckets[i] = (this.#buckets[i] as number) + n;
  }

  /** Events per second over the last WINDOW_SECS whole seconds (the current, partial second left out). */
  perSecond(): number {
    const now = Math.floor(this.#now() / 1000);
    let sum = 0;
    for (let i = 0; i < WINDOW_SECS; i++) {
      const s = this.#bucketSecond[i] as number;
      if (s < now && s >= now - WINDOW_SECS) sum += this.#buckets[i] as number;
    }
    return sum / WINDOW_SECS;
  }
}
