/**
 * The sensor module (issue 4 §4) as a real process (`node module/dist/sensor/main.js`) speaking the real SDK
 * to an in-process Simulation: its telemetry on `temperatureOutput` routed to the local IoT Hub, the twin's
 * desired rate/count/enabled, the reported counts, and SIGTERM.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentDocument, parseDeploymentManifest } from '@ferry/deployment-manifests';
import { SENSOR_FEATURES, TelemetryGenerator } from '@ferry/module';
import { Simulation, parseSolution, type CloudMessage } from '@ferry/simulator';

const SENSOR_MAIN = fileURLToPath(new URL('../../module/dist/sensor/main.js', import.meta.url));
const SEED = 1234;
const FIRST_COUNT = 40;

let workspace: string;
let sim: Simulation;
const received: CloudMessage[] = [];

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const reported = (): Record<string, unknown> => sim.twin('sensor').reported as Record<string, unknown>;

beforeAll(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'ferry-sensor-'));
  const manifest = parseDeploymentManifest(deploymentDocument({
    modules: {
      sensor: {
        image: 'ferry/sensor:test', restartPolicy: 'never',
        env: { FERRY_SENSOR_RATE: 200, FERRY_SENSOR_COUNT: FIRST_COUNT, FERRY_SENSOR_SEED: SEED, FERRY_SENSOR_ANOMALY_RATE: '0.25', FERRY_SENSOR_REPORT_INTERVAL_MS: 200 },
      },
    },
    routes: { up: 'FROM /messages/modules/sensor/outputs/temperatureOutput INTO $upstream' },
  }));
  sim = await Simulation.start({
    workspace, name: 'sensor', manifest, mqttPort: 0, httpsPort: 0, dashboardPort: null, stopGraceMs: 5000,
    solution: parseSolution({ modules: { sensor: { command: [process.execPath, SENSOR_MAIN] } } }, workspace),
  });
  sim.onUpstream((m) => received.push(m));
});

afterAll(async () => {
  await sim?.stop();
  rmSync(workspace, { recursive: true, force: true });
});

describe('the sensor module', () => {
  it('sends FERRY_SENSOR_COUNT JSON readings on temperatureOutput, the seed\'s readings in order, with ground truth', async () => {
    await until(() => received.length >= FIRST_COUNT, 20_000, `${FIRST_COUNT} messages upstream`);
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toHaveLength(FIRST_COUNT);
    const expected = new TelemetryGenerator({ seed: SEED, anomalyRate: 0.25 });
    const ids = new Set<string>();
    const bySequence = [...received].sort((a, b) => Number(a.properties['sequence']) - Number(b.properties['sequence']));
    for (const [i, m] of bySequence.entries()) {
      expect(m.moduleId).toBe('sensor');
      expect(m.systemProperties).toMatchObject({ outputName: 'temperatureOutput', contentType: 'application/json', contentEncoding: 'utf-8' });
      ids.add(m.systemProperties['messageId'] ?? '');
      const body = JSON.parse(m.body.toString('utf8')) as { machine: Record<string, number>; ambient: Record<string, number>; timeCreated: string };
      const want = expected.next();
      expect(m.properties['sequence']).toBe(String(i + 1));
      expect({ machine: body.machine, ambient: body.ambient }).toEqual({ machine: want.reading.machine, ambient: want.reading.ambient });
      expect(m.properties['anomaly']).toBe(want.anomaly === null ? 'false' : 'true');
      expect(Math.abs(Date.parse(body.timeCreated) - m.receivedAt)).toBeLessThan(5000);
      // Ground truth against the reading itself: a spike puts a machine field beyond 8 sd.
      const z = [body.machine['temperature']!, body.machine['pressure']!].map((x, f) => (x - SENSOR_FEATURES[f]!.mean) / SENSOR_FEATURES[f]!.sd);
      expect(Math.max(...z) > 7.99).toBe(m.properties['anomaly'] === 'true');
    }
    expect(ids.size).toBe(FIRST_COUNT);
    expect(received.filter((m) => m.properties['anomaly'] === 'true').length).toBeGreaterThan(3);
  });

  it('reports its counts and settings in the twin', async () => {
    await until(() => reported()['status'] === 'done', 10_000, 'reported status done');
    const truth = received.filter((m) => m.properties['anomaly'] === 'true').length;
    expect(reported()).toMatchObject({ status: 'done', sent: FIRST_COUNT, anomaliesSent: truth, failed: 0, rate: 200, count: FIRST_COUNT, enabled: true, seed: SEED });
  });

  it('sends more when the twin raises count, at the desired rate', async () => {
    const before = received.length;
    const t0 = Date.now();
    await sim.patchTwin('sensor', { count: FIRST_COUNT + 20, rate: 50 });
    await until(() => received.length >= before + 20, 10_000, '20 more messages');
    // 20 messages at 50/s take about 0.4 s.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    await until(() => reported()['sent'] === FIRST_COUNT + 20, 5000, 'reported sent');
    expect(reported()).toMatchObject({ rate: 50, count: FIRST_COUNT + 20, status: 'done' });
  });

  it('pauses while enabled is false, and resumes', async () => {
    await sim.patchTwin('sensor', { enabled: false, count: 0, rate: 100 });
    await until(() => reported()['status'] === 'paused', 5000, 'reported paused');
    const paused = received.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(received.length).toBe(paused);
    await sim.patchTwin('sensor', { enabled: true });
    await until(() => received.length >= paused + 10, 5000, 'messages after resuming');
    expect(reported()['status']).toBe('sending');
    await sim.patchTwin('sensor', { enabled: false });
  });

  it('keeps its settings and reports FERRY_E_SENSOR_DESIRED_INVALID for a desired value it cannot use', async () => {
    await sim.patchTwin('sensor', { rate: 'fast' });
    await until(() => (reported()['lastError'] as { code?: string } | undefined)?.code === 'FERRY_E_SENSOR_DESIRED_INVALID', 5000, 'reported lastError');
    expect(reported()['rate']).toBe(100);
  });

  it('exits 0 on SIGTERM', async () => {
    await sim.launcher.stopModule('sensor');
    const status = sim.launcher.status().find((m) => m.id === 'sensor');
    expect(status).toMatchObject({ exitCode: 0 });
  });
});
