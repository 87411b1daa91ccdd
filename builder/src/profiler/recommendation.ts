/**
 * The profiler's resource recommendation (what Azure ML's profiler calls recommended CPU and memory).
 *
 * CPU: take the best level (highest measured queries per second); the basis is the LOWEST concurrency level
 * that reaches at least 95% of that throughput (past that knee more concurrency only adds queueing). The
 * recommendation is the cores the serve process actually used during the basis level (CPU seconds / wall
 * seconds) plus 20% headroom, rounded up to 0.1 core, at least 0.1.
 *
 * Memory: the serve process's peak RSS over the whole profile (start-up included: VmHWM) plus 20% headroom,
 * rounded up to a multiple of 64 MiB (`memoryMb`), and the same figure rounded up to 0.1 GB (`memoryGb`,
 * GB = 10^9 bytes, as deployment forms ask for it).
 */
export const HEADROOM = 1.2;
export const KNEE_FRACTION = 0.95;

export interface LevelFigures {
  concurrency: number;
  qps: number;
  avgCpuCores: number | null;
}

export interface Recommendation {
  cpuCores: number;
  memoryMb: number;
  memoryGb: number;
  basis: { concurrency: number; qps: number; usedCpuCores: number; peakMemoryMb: number };
}

/** Null when there was no throughput or no process to measure. */
export function recommend(levels: readonly LevelFigures[], peakRssBytes: number | null): Recommendation | null {
  if (peakRssBytes === null || peakRssBytes <= 0) return null;
  const best = Math.max(0, ...levels.map((l) => l.qps));
  if (best <= 0) return null;
  const basis = [...levels].sort((a, b) => a.concurrency - b.concurrency).find((l) => l.qps >= KNEE_FRACTION * best);
  if (!basis || basis.avgCpuCores === null) return null;
  const mib = 1_024 * 1_024;
  const memoryBytes = peakRssBytes * HEADROOM;
  return {
    cpuCores: Math.max(0.1, roundUp(basis.avgCpuCores * HEADROOM, 0.1)),
    memoryMb: Math.ceil(memoryBytes / (64 * mib)) * 64,
    memoryGb: roundUp(memoryBytes / 1e9, 0.1),
    basis: { concurrency: basis.concurrency, qps: basis.qps, usedCpuCores: basis.avgCpuCores, peakMemoryMb: peakRssBytes / mib },
  };
}

/** Rounds up to a multiple of `step`, immune to binary noise (0.30000000000000004 stays 0.3). */
export function roundUp(value: number, step: number): number {
  const units = Math.ceil(Number((value / step).toFixed(9)));
  return Number((units * step).toFixed(10));
}
