/**
 * The module's counters for its reported properties and the `stats` method (issue 4 §3): messages in,
 * results out, errors, p50/p99 scoring latency and the last minute's rate, in bounded memory.
 */
import { LatencyRing, RateWindow } from './latency-window.js';

export interface ModuleStatsSnapshot {
  /** Messages received (inputs and `score` calls). */
  in: number;
  /** Results handed to edgeHub. */
  out: number;
  /** Messages that could not be scored. */
  errors: number;
  /** Median scoring latency of the most recent scores (ms), null before the first. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Messages received per second over the last minute (over the uptime during the first minute). */
  lastMinuteRate: number;
}

export class ModuleStats {
  #in = 0;
  #out = 0;
  #errors = 0;
  readonly #latencies: LatencyRing;
  readonly #rate: RateWindow;

  constructor(o: { latencySamples?: number; now?: () => number } = {}) {
    this.#latencies = new LatencyRing(o.latencySamples ?? 2048);
    this.#rate = new RateWindow(60, o.now);
  }

  received(): void {
    this.#in++;
    this.#rate.add();
  }

  scored(ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) this.#latencies.add(ms);
  }

  failed(): void {
    this.#errors++;
  }

  sent(): void {
    this.#out++;
  }

  snapshot(): ModuleStatsSnapshot {
    const [p50, p99] = this.#latencies.percentiles(50, 99);
    return {
      in: this.#in, out: this.#out, errors: this.#errors,
      p50Ms: round(p50 ?? null), p99Ms: round(p99 ?? null),
      lastMinuteRate: Math.round(this.#rate.perSecond() * 100) / 100,
    };
  }
}

function round(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 1000) / 1000;
}
