/**
 * Baseline (a): onnxruntime-node's InferenceSession.run in a loop in this process, on the same
 * inputs the service gets, one run at a time, with onnxruntime's default session options.
 */
import ort from 'onnxruntime-node';
import { percentile } from './stats.js';

export interface RawLoopResult {
  runs: number;
  runsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of this process (every thread, onnxruntime's included) per run. */
  cpuMsPerRun: number;
}

export class RawSession {
  readonly #session: ort.InferenceSession;
  readonly #feeds: Record<string, ort.Tensor>;

  private constructor(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>) {
    this.#session = session;
    this.#feeds = feeds;
  }

  /** `threads` undefined: onnxruntime's defaults (one intra-op thread per core), as a user's own loop would. */
  static async open(modelPath: string, feeds: Record<string, { dims: number[]; data: Float32Array }>, threads?: number): Promise<RawSession> {
    const session = await ort.InferenceSession.create(modelPath, threads === undefined ? {} : { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) tensors[name] = new ort.Tensor('float32', f.data, f.dims);
    return new RawSession(session, tensors);
  }

  /** Runs back to back for `durationMs` after `warmupMs`; latency percentiles by nearest rank (stats.ts). */
  async measure(durationMs: number, warmupMs = 300): Promise<RawLoopResult> {
    const warmEnd = performance.now() + warmupMs;
    while (performance.now() < warmEnd) await this.#session.run(this.#feeds);
    const samples: number[] = [];
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    let now = start;
    while (now < start + durationMs) {
      const t0 = performance.now();
      await this.#session.run(this.#feeds);
      now = performance.now();
      samples.push(now - t0);
    }
    const cpu = process.cpuUsage(cpu0);
    return {
      runs: samples.length, runsPerSec: (samples.length * 1000) / (now - start), p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99),
      cpuMsPerRun: (cpu.user + cpu.system) / 1000 / samples.length,
    };
  }

  /**
   * One run every 1000/`rate` ms on a fixed schedule for `durationMs`, as paced messages arrive: between runs
   * the cores idle, so a run starts with colder caches than back to back (the fair baseline for a pipeline's
   * latency at that rate).
   */
  async paced(rate: number, durationMs: number): Promise<RawLoopResult> {
    const samples: number[] = [];
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const total = Math.round((rate * durationMs) / 1000);
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t0 = performance.now();
      await this.#session.run(this.#feeds);
      samples.push(performance.now() - t0);
    }
    const cpu = process.cpuUsage(cpu0);
    return {
      runs: samples.length, runsPerSec: (samples.length * 1000) / (performance.now() - start), p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99),
      cpuMsPerRun: (cpu.user + cpu.system) / 1000 / samples.length,
    };
  }

  close(): Promise<void> {
    return this.#session.release();
  }
}
