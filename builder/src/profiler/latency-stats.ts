/**
 * Exact latency statistics: every sample is kept (8 bytes each, so a million requests cost 8 MB) and
 * percentiles are read from the sorted samples by the nearest-rank rule (the smallest sample such that at
 * least p% of the samples are ≤ it), so p50 ≤ p90 ≤ p95 ≤ p99 ≤ p99.9 ≤ max always holds.
 */
export interface LatencySummary {
  count: number;
  avgMs: number;
  minMs: number;
  maxMs: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
}

export class LatencyRecorder {
  #values = new Float64Array(1_024);
  #count = 0;

  add(ms: number): void {
    if (this.#count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#count++] = ms;
  }

  /** Adds every sample of another recorder (for the overall figures). */
  addAll(other: LatencyRecorder): void {
    for (const ms of other.values()) this.add(ms);
  }

  get count(): number {
    return this.#count;
  }

  values(): Float64Array {
    return this.#values.subarray(0, this.#count);
  }

  /** Null when there are no samples. */
  summarize(): LatencySummary | null {
    if (this.#count === 0) return null;
    const sorted = Float64Array.from(this.values()).sort();
    let sum = 0;
    for (const ms of sorted) sum += ms;
    return {
      count: sorted.length,
      avgMs: sum / sorted.length,
      minMs: sorted[0] as number,
      maxMs: sorted[sorted.length - 1] as number,
      p50Ms: nearestRank(sorted, 50),
      p90Ms: nearestRank(sorted, 90),
      p95Ms: nearestRank(sorted, 95),
      p99Ms: nearestRank(sorted, 99),
      p999Ms: nearestRank(sorted, 99.9),
    };
  }
}

/** Nearest-rank percentile of ascending samples (n ≥ 1). */
export function nearestRank(sorted: Float64Array, percent: number): number {
  // In integer per-mille so that e.g. 99.9% of 1000 is rank 999 exactly (0.999 * 1000 is not 999 in binary).
  const perMille = Math.round(percent * 10);
  const rank = Math.ceil((perMille * sorted.length) / 1_000);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}
