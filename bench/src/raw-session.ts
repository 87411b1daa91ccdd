/**
 * Baseline (a): onnxruntime-node's InferenceSession.run in a loop in this process, on the same
 * inputs the service gets, one run at a time, with onnxruntime's default session options.
 */
import ort from 'onnxruntime-node';

export interface RawLoopResult {
  runs: number;
  runsPerSec: number;
  p50Ms: number;
  p99Ms: number;
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

  /** Runs back to back for `durationMs` after `warmupMs`; latency percentiles by nearest rank. */
  async measure(durationMs: number, warmupMs = 300): Promise<RawLoopResult> {
    const warmEnd = performance.now() + warmupMs;
    while (performance.now() < warmEnd) await this.#session.run(this.#feeds);
    const samples: number[] = [];
    const start = performance.now();
    let now = start;
    while (now < start + durationMs) {
      const t0 = performance.now();
      await this.#session.run(this.#feeds);
      now = performance.now();
      samples.push(now - t0);
    }
    samples.sort((a, b) => a - b);
    const rank = (p: number) => samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)] ?? NaN;
    return { runs: samples.length, runsPerSec: (samples.length * 1000) / (now - start), p50Ms: rank(50), p99Ms: rank(99) };
  }

  close(): Promise<void> {
    return this.#session.release();
  }
}
