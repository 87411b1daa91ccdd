/** Summaries of measured samples (nearest-rank percentiles as the profiler computes them). */
import { nearestRank } from '@ferry/builder';

export function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Nearest-rank percentile (`p` in 0..100) of unsorted samples (at least one). */
export function percentile(values: readonly number[], p: number): number {
  return nearestRank(Float64Array.from(values).sort(), p);
}
