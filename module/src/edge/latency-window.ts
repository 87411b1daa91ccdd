/**
 * Bounded-memory windows behind ModuleStats (issue 4 §3: p50/p99 and the last minute's rate):
 * a ring of the most recent latencies and per-second counters over the last minute.
 */

/** The most recent `capacity` samples; percentiles are computed over them (nearest rank). */
export class LatencyRing {
  readonly #samples: Float64Array;
  #next = 0;
  #size = 0;

  constructor(capacity = 2048) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.#samples = new Float64Array(capacity);
  }

  add(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#size < this.#samples.length) this.#size++;
  }

  get size(): number {
    return this.#size;
  }

  /** Nearest-rank percentiles (`p` in 0..100) of the samples held, or null when there are none. */
  percentiles(...ps: number[]): (number | null)[] {
    if (this.#size === 0) return ps.map(() => null);
    const sorted = this.#samples.slice(0, this.#size).sort();
    return ps.map((p) => sorted[Math.min(this.#size - 1, Math.max(0, Math.ceil((p / 100) * this.#size) - 1))] as number);
  }
}

/** Events per second over a trailing window, from one counter per second (60 counters for a minute). */
export class RateWindow {
  readonly #buckets: Float64Array;
  /** The second (since the epoch) each bucket counts. */
  readonly #seconds: Float64Array;
  readonly #now: () => number;
  readonly #startedAt: number;

  constructor(windowSeconds = 60, now: () => number = Date.now) {
    this.#buckets = new Float64Array(windowSeconds);
    this.#seconds = new Float64Array(windowSeconds).fill(-1);
    this.#now = now;
    this.#startedAt = now();
  }

  add(count = 1): void {
    const second = Math.floor(this.#now() / 1000);
    const i = second % this.#buckets.length;
    if (this.#seconds[i] !== second) {
      this.#seconds[i] = second;
      this.#buckets[i] = 0;
    }
    this.#buckets[i] = (this.#buckets[i] as number) + count;
  }

  /**
   * Events per second over the last window (the last `windowSeconds` whole seconds before the current
   * one, plus the current one), or over the time since construction when that is shorter.
   */
  perSecond(): number {
    const nowMs = this.#now();
    const current = Math.floor(nowMs / 1000);
    const n = this.#buckets.length;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const s = this.#seconds[i] as number;
      if (s > current - n && s <= current) total += this.#buckets[i] as number;
    }
    const spanSeconds = Math.min(n, Math.max(1, (nowMs - this.#startedAt) / 1000));
    return total / spanSeconds;
  }
}
