/**
 * The Quick start's anomaly model, run in onnxruntime-node: its scores against the distance computed here
 * from the sensor's normal operation, and its answers against the generator's ground truth.
 */
import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { SENSOR_FEATURES, TelemetryGenerator, readOnnxModelInfo } from '@ferry/module';
import { ANOMALY_THRESHOLD, buildAnomalyModel } from '../src/quickstart/anomaly-model.js';

/** Mean, sd per column written out here (not read from the code under test): temperature, pressure, ambient, humidity. */
const NORMAL = [[70, 2], [6.5, 0.25], [21, 0.5], [25, 1.5]] as const;

function distance(row: readonly number[]): number {
  return Math.sqrt(row.reduce((s, x, i) => s + ((x - NORMAL[i]![0]) / NORMAL[i]![1]) ** 2, 0));
}

async function run(rows: number[][]): Promise<{ score: number[]; anomaly: boolean[]; dims: { score: readonly number[]; anomaly: readonly number[] } }> {
  const session = await ort.InferenceSession.create(buildAnomalyModel(), { logSeverityLevel: 3 });
  try {
    const out = await session.run({ data: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 4]) });
    return {
      score: Array.from(out['score']!.data as Float32Array),
      anomaly: Array.from(out['anomaly']!.data as Uint8Array, (v) => v === 1),
      dims: { score: out['score']!.dims, anomaly: out['anomaly']!.dims },
    };
  } finally {
    await session.release();
  }
}

describe('the anomaly model', () => {
  it('has input data float32 [batch, 4] and outputs score float32 [batch], anomaly bool [batch]', () => {
    const info = readOnnxModelInfo(buildAnomalyModel());
    expect(info.inputs).toEqual([expect.objectContaining({ name: 'data', elementType: 'float32', shape: ['batch', 4] })]);
    expect(info.outputs).toEqual([
      expect.objectContaining({ name: 'score', elementType: 'float32', shape: ['batch'] }),
      expect.objectContaining({ name: 'anomaly', elementType: 'bool', shape: ['batch'] }),
    ]);
    expect(SENSOR_FEATURES.map((f) => [f.mean, f.sd])).toEqual(NORMAL.map((n) => [...n]));
  });

  it('scores the distance from normal operation and flags what lies beyond the threshold', async () => {
    const rows = [
      [70, 6.5, 21, 25], // exactly normal: 0
      [72, 6.75, 21.5, 26.5], // 1 sd in each: 2
      [84, 6.5, 21, 25], // 7 sd in temperature: at the threshold, not above
      [70, 6.5, 21, 35.6], // humidity 7.07 sd
      [95, 6.5, 21, 25], // a temperature spike: 12.5
      [70, 10, 21, 25], // a pressure spike: 14
      [64, 5.75, 19.5, 20.5], // 3 sd below in each: 6
    ];
    const { score, anomaly, dims } = await run(rows);
    expect(dims).toEqual({ score: [7], anomaly: [7] });
    rows.forEach((row, i) => expect(score[i]).toBeCloseTo(distance(row), 4));
    expect(anomaly).toEqual([false, false, false, true, true, true, false]);
    expect(anomaly).toEqual(score.map((s) => s > ANOMALY_THRESHOLD));
  });

  it('tells the generator\'s spikes from its normal readings without a miss or a false alarm', async () => {
    const g = new TelemetryGenerator({ seed: 2024, anomalyRate: 0.2 });
    const generated = Array.from({ length: 5000 }, () => g.next());
    const rows = generated.map(({ reading: r }) => [r.machine.temperature, r.machine.pressure, r.ambient.temperature, r.ambient.humidity]);
    const { score, anomaly } = await run(rows);
    const truth = generated.map((x) => x.anomaly !== null);
    expect(truth.filter(Boolean).length).toBeGreaterThan(800);
    expect(anomaly).toEqual(truth);
    rows.forEach((row, i) => expect(Math.abs(score[i]! - distance(row))).toBeLessThan(1e-3 * Math.max(1, distance(row))));
    // The margins the generator promises: normal within 6, spikes beyond 8.
    expect(Math.max(...score.filter((_, i) => !truth[i]))).toBeLessThanOrEqual(6.01);
    expect(Math.min(...score.filter((_, i) => truth[i]))).toBeGreaterThanOrEqual(7.99);
  });
});
