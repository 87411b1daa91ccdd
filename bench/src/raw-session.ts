/**
 * Baseline (a): onnxruntime-node's InferenceSession.run in a loop in this process, on the same
 * inputs the service gets, one run at a time, with onnxruntime's default session options.
 */
import ort from 'onnxruntime-node';

export interface RawLoopResult {
  runs: number;
  elapsedMs: number;
  runsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

export async function rawSessionLoop(modelPath: string, feeds: Record<string, { type: 'float32'; dims: number[]; data: Float32Array }>, durationMs: number, warmupMs = 500): Promise<RawLoopResult> {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) inputs[name] = new ort.Tensor(f.type, f.data, f.dims);
    const warmEnd = performance.now() + warmupMs;
    while (performance.now() < warmEnd) await session.run(inputs);
    const samples: number[] = [];
    const start = performance.now();
    const end = start + durationMs;
    let now = start;
    while (now < end) {
      const t0 = performance.now();
      await session.run(inputs);
      now = performance.now();
      samples.push(now - t0);
    }
    const elapsedMs = now - start;
    samples.sort((a, b) => a - b);
    const rank = (p: number) => samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)] ?? NaN;
    return { runs: samples.length, elapsedMs, runsPerSec: (samples.length * 1000) / elapsedMs, p50Ms: rank(50), p99Ms: rank(99) };
  } finally {
    await session.release();
  }
}
