/**
 * `ferry quickstart` end to end as the real command (issue 4 §5): sample model, sensor and scorer processes on
 * a simulated device, results at the local IoT Hub. The summary is checked against what this test computes
 * itself: the sensor's readings regenerated from the seed, scored by onnxruntime-node directly on the model
 * file the command wrote.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelemetryGenerator } from '@ferry/module';
import { ferry, ortRun, type FerryRun } from '@ferry/test';

const MESSAGES = 150;
const SEED = 7;

interface Summary {
  ok: boolean; sent: number; scored: number; errors: number; upstreamReceived: number; duplicates: number; missing: number;
  anomalies: { true: number; detected: number; truePositives: number; falsePositives: number; falseNegatives: number };
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  model: string; sensorReported: Record<string, unknown>; files: Record<string, string>; problem: string | null;
}

let ws: string;
let first: FerryRun;

beforeAll(async () => {
  ws = mkdtempSync(join(tmpdir(), 'ferry-quickstart-'));
  first = await ferry(['--json', 'quickstart', '--messages', String(MESSAGES), '--rate', '100', '--seed', String(SEED), '--no-dashboard'], { workspace: ws, timeoutMs: 50_000 });
});

afterAll(() => {
  rmSync(ws, { recursive: true, force: true });
});

describe('ferry quickstart', () => {
  it('scores every reading and reports it reached the local IoT Hub; exit 0', () => {
    expect(first.code, first.stderr).toBe(0);
    const s = first.json as Summary;
    expect(s).toMatchObject({ ok: true, sent: MESSAGES, scored: MESSAGES, errors: 0, upstreamReceived: MESSAGES, duplicates: 0, missing: 0, model: 'anomaly:1', problem: null });
    expect(s.sensorReported).toMatchObject({ status: 'done', sent: MESSAGES, failed: 0, seed: SEED });
    expect(s.latencyMs.p50).toBeGreaterThan(0);
    expect(s.latencyMs.p50).toBeLessThanOrEqual(s.latencyMs.p90);
    expect(s.latencyMs.p90).toBeLessThanOrEqual(s.latencyMs.p99);
    expect(s.latencyMs.p99).toBeLessThanOrEqual(s.latencyMs.max);
    expect(s.latencyMs.max).toBeLessThan(30_000);
  });

  it('counts the true and detected anomalies this test recomputes from the seed and onnxruntime', async () => {
    const s = first.json as Summary;
    const g = new TelemetryGenerator({ seed: SEED });
    const readings = Array.from({ length: MESSAGES }, () => g.next());
    const rows = readings.map(({ reading: r }) => [r.machine.temperature, r.machine.pressure, r.ambient.temperature, r.ambient.humidity]);
    const out = await ortRun(join(ws, 'quickstart', 'anomaly.onnx'), { data: { type: 'float32', dims: [MESSAGES, 4], data: rows.flat() } });
    const detected = out['anomaly']!.data as boolean[];
    const truth = readings.map((r) => r.anomaly !== null);
    const tp = detected.filter((d, i) => d && truth[i]).length;
    expect(truth.filter(Boolean).length).toBeGreaterThan(0);
    expect(s.anomalies).toEqual({
      true: truth.filter(Boolean).length,
      detected: detected.filter(Boolean).length,
      truePositives: tp,
      falsePositives: detected.filter((d, i) => d && !truth[i]).length,
      falseNegatives: truth.filter((t, i) => t && !detected[i]).length,
    });
    expect(s.sensorReported['anomaliesSent']).toBe(truth.filter(Boolean).length);
  });

  it('wrote the deployment with both modules and the routes, the scorer config and the models folder', () => {
    const s = first.json as Summary;
    const deployment = JSON.parse(readFileSync(s.files['deployment']!, 'utf8')) as { modulesContent: Record<string, Record<string, { modules?: Record<string, unknown>; routes?: Record<string, string> }>> };
    const agent = deployment.modulesContent['$edgeAgent']!['properties.desired']!;
    expect(Object.keys(agent.modules ?? {}).sort()).toEqual(['scorer', 'sensor']);
    expect(Object.values(deployment.modulesContent['$edgeHub']!['properties.desired']!.routes ?? {}).sort()).toEqual([
      'FROM /messages/modules/scorer/outputs/amlOutput INTO $upstream',
      'FROM /messages/modules/scorer/outputs/errors INTO $upstream',
      'FROM /messages/modules/sensor/outputs/temperatureOutput INTO BrokeredEndpoint("/modules/scorer/inputs/amlInput")',
    ]);
    const config = JSON.parse(readFileSync(s.files['scorerConfig']!, 'utf8')) as { models: string[]; edge: { features: Record<string, string[]> } };
    expect(config.models).toEqual(['anomaly:1']);
    expect(config.edge.features['data']).toEqual(['/machine/temperature', '/machine/pressure', '/ambient/temperature', '/ambient/humidity']);
    expect(existsSync(join(s.files['modelsDir']!, 'anomaly', '1', 'ferry-model.json'))).toBe(true);
  });

  it('reuses the registered model on a second run, and fails with FERRY_E_QUICKSTART_INCOMPLETE when time runs out', async () => {
    const again = await ferry(['--json', 'quickstart', '--messages', '2000', '--rate', '100', '--timeout', '3', '--no-dashboard'], { workspace: ws, timeoutMs: 30_000 });
    expect(again.code).toBe(1);
    expect(again.error?.code).toBe('FERRY_E_QUICKSTART_INCOMPLETE');
    const s = again.json as Summary;
    expect(s.ok).toBe(false);
    expect(s.model).toBe('anomaly:1');
    expect(s.sent).toBeLessThan(2000);
    expect(s.problem).toMatch(/timed out/);
    const list = await ferry(['--json', 'model', 'list'], { workspace: ws });
    expect((list.json as Array<{ name: string }>).filter((m) => m.name === 'anomaly')).toHaveLength(1);
  });

  it('refuses bad option values with FERRY_E_USAGE (exit 2) before writing or starting anything', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'ferry-quickstart-bad-'));
    try {
      for (const args of [['--messages', 'abc'], ['--messages', '0'], ['--rate', '-5'], ['--timeout', 'soon']]) {
        const run = await ferry(['--json', 'quickstart', ...args, '--no-dashboard'], { workspace: empty, timeoutMs: 30_000 });
        expect(run.code, args.join(' ')).toBe(2);
        expect(run.error?.code).toBe('FERRY_E_USAGE');
      }
      expect(existsSync(join(empty, 'quickstart'))).toBe(false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
