/**
 * Issue 4 §1, §2, §7: the scorer module (`node module/dist/edge/main.js`) run by a real Simulation as
 * a process, fed by a real SDK module through routes, its results counted at the local IoT Hub
 * ($upstream) and compared with onnxruntime-node run directly on the same inputs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type device from 'azure-iot-device';
import { Simulation } from '@ferry/simulator';
import type { CloudMessage } from '@ferry/simulator';
import { ortRun, type FixtureModels } from '@ferry/test';
import { edgeManifest, edgeModels, handModule, scorerEnv, scorerSolution, send, simulationReport, until } from './edge-fixture.js';

let dir: string;
let sim: Simulation;
let sender: device.ModuleClient;
let fixtures: FixtureModels;
const upstream: CloudMessage[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-edge-module-'));
  const models = await edgeModels(dir);
  fixtures = models.fixtures;
  sim = await Simulation.start({
    workspace: join(dir, 'ws'),
    name: 'edge',
    manifest: edgeManifest({
      scorer: scorerEnv('scorer.yaml', models.modelsDir, models.cacheDir),
      features: scorerEnv('features.yaml', models.modelsDir, models.cacheDir),
    }, {
      toScorer: 'FROM /messages/modules/sender/outputs/toScorer INTO BrokeredEndpoint("/modules/scorer/inputs/amlInput")',
      toFeatures: 'FROM /messages/modules/sender/outputs/toFeatures INTO BrokeredEndpoint("/modules/features/inputs/telemetry")',
      scorerUp: 'FROM /messages/modules/scorer/outputs/* INTO $upstream',
      featuresUp: 'FROM /messages/modules/features/outputs/* INTO $upstream',
    }),
    solution: scorerSolution(['scorer', 'features']),
    mqttPort: 0,
    httpsPort: null,
    dashboardPort: null,
    stopGraceMs: 5000,
  });
  sim.onUpstream((m) => upstream.push(m));
  sender = await handModule(sim, 'sender');
  try {
    // The hand-started sender counts as connected too: check the two scorers by name.
    await until(() => ['scorer', 'features'].every((id) => sim.status().modules.some((m) => m.id === id && m.connected)), 30_000, 'both scorer modules connected');
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await simulationReport(sim, ['scorer', 'features'])}`);
  }
});

afterAll(async () => {
  await sender?.close().catch(() => undefined);
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function answerTo(messageId: string): CloudMessage | undefined {
  return upstream.find((m) => m.systemProperties['correlationId'] === messageId);
}

async function answer(messageId: string): Promise<CloudMessage> {
  await until(() => answerTo(messageId) !== undefined, 20_000, `the answer to ${messageId}`);
  return answerTo(messageId) as CloudMessage;
}

function rows(n: number, seed: number): number[][] {
  return Array.from({ length: n }, (_, i) => [0, 1, 2, 3].map((j) => ((i * 7 + j * 3 + seed) % 11) / 4 - 1.25));
}

describe('the edge module scores messages routed through edgeHub', () => {
  it('scores JSON inputs: result on amlOutput, correlated, carried properties, model and timing; equal to onnxruntime', async () => {
    const inputs = rows(40, 1);
    await Promise.all(inputs.map((row, i) => send(sender, 'toScorer', JSON.stringify({ data: [row] }), {
      contentType: 'application/json', contentEncoding: 'utf-8', messageId: `json-${i}`, properties: { seq: String(i), other: 'not carried' },
    })));
    const expected = await ortRun(fixtures.linear.path, { data: { type: 'float32', dims: [inputs.length, 4], data: inputs.flat() } });
    const scores = expected['scores']?.value as number[][];
    for (let i = 0; i < inputs.length; i++) {
      const m = await answer(`json-${i}`);
      expect(m.moduleId).toBe('scorer');
      expect(m.systemProperties['outputName']).toBe('amlOutput');
      expect(m.systemProperties['contentType']).toBe('application/json');
      expect(m.systemProperties['contentEncoding']).toBe('utf-8');
      expect(m.properties).toMatchObject({ seq: String(i), modelName: 'linear', modelVersion: '1' });
      expect(m.properties['other']).toBeUndefined();
      expect(Number(m.properties['scoreMs'])).toBeGreaterThan(0);
      const body = JSON.parse(m.body.toString('utf8')) as { scores: number[][] };
      expect(body.scores[0]).toHaveLength(3);
      (body.scores[0] as number[]).forEach((v, j) => expect(v).toBeCloseTo((scores[i] as number[])[j] as number, 5));
    }
  });

  it('builds a one-row tensor from JSON pointers into telemetry (edge.features) on configured input and output names', async () => {
    const reading = { machine: { temperature: 21.5, pressure: 1.25 }, ambient: { temperature: 20.75, humidity: 26 }, timeCreated: '2024-01-01T00:00:00Z' };
    await send(sender, 'toFeatures', JSON.stringify(reading), { contentType: 'application/json', contentEncoding: 'utf-8', messageId: 'feat-1', properties: { seq: '1' } });
    const m = await answer('feat-1');
    expect(m.moduleId).toBe('features');
    expect(m.systemProperties['outputName']).toBe('scores');
    const expected = await ortRun(fixtures.linear.path, { data: { type: 'float32', dims: [1, 4], data: [21.5, 1.25, 20.75, 26] } });
    const body = JSON.parse(m.body.toString('utf8')) as { probabilities: number[][] };
    (body.probabilities[0] as number[]).forEach((v, j) => expect(v).toBeCloseTo(((expected['probabilities']?.value as number[][])[0] as number[])[j] as number, 5));

    await send(sender, 'toFeatures', JSON.stringify({ machine: { temperature: 'hot' } }), { contentType: 'application/json', messageId: 'feat-bad' });
    const err = await answer('feat-bad');
    expect(err.systemProperties['outputName']).toBe('errors');
    expect(JSON.parse(err.body.toString('utf8'))).toMatchObject({ code: 'FERRY_E_EDGE_FEATURE_INVALID', messageId: 'feat-bad', details: { pointer: '/machine/temperature' } });
  });

  it('scores a raw float32 tensor (application/octet-stream, ferry-shape property)', async () => {
    const row = [0.5, -1, 2, 0.25];
    await send(sender, 'toScorer', Buffer.from(new Float32Array(row).buffer), { contentType: 'application/octet-stream', messageId: 'bin-1', properties: { 'ferry-shape': '1,4' } });
    const m = await answer('bin-1');
    expect(m.systemProperties['outputName']).toBe('amlOutput');
    const expected = await ortRun(fixtures.linear.path, { data: { type: 'float32', dims: [1, 4], data: row } });
    const body = JSON.parse(m.body.toString('utf8')) as { scores: number[][] };
    (body.scores[0] as number[]).forEach((v, j) => expect(v).toBeCloseTo(((expected['scores']?.value as number[][])[0] as number[])[j] as number, 5));
  });

  it('turns bad input into a message on `errors` (code, reason, messageId) and keeps scoring the rest (§7)', async () => {
    const big = JSON.stringify({ data: [[1, 2, 3, 4]], pad: 'x'.repeat(250 * 1024) });
    const cases: { id: string; body: Buffer | string; o: Parameters<typeof send>[3]; code: string | null }[] = [
      { id: 'bad-notjson', body: 'this is not { json', o: { contentType: 'application/json' }, code: 'FERRY_E_REQUEST_MALFORMED' },
      { id: 'bad-encoding', body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), o: { contentType: 'application/json', contentEncoding: 'utf-8' }, code: 'FERRY_E_EDGE_BODY_UNDECODABLE' },
      { id: 'bad-gzip', body: '{"data":[[1,2,3,4]]}', o: { contentType: 'application/json', contentEncoding: 'gzip' }, code: 'FERRY_E_EDGE_BODY_UNDECODABLE' },
      { id: 'bad-empty', body: Buffer.alloc(0), o: { contentType: 'application/json' }, code: 'FERRY_E_EDGE_BODY_UNDECODABLE' },
      { id: 'bad-shape', body: JSON.stringify({ data: [[1, 2, 3]] }), o: { contentType: 'application/json' }, code: 'FERRY_E_REQUEST_INVALID' },
      { id: 'bad-type', body: JSON.stringify({ data: [['a', 'b', 'c', 'd']] }), o: { contentType: 'application/json' }, code: 'FERRY_E_REQUEST_INVALID' },
      { id: 'bad-ctype', body: 'hello', o: { contentType: 'text/plain' }, code: 'FERRY_E_EDGE_CONTENT_TYPE_UNSUPPORTED' },
      { id: 'bad-binshape', body: Buffer.alloc(16), o: { contentType: 'application/octet-stream', properties: { 'ferry-shape': 'two,by,two' } }, code: 'FERRY_E_EDGE_SHAPE_INVALID' },
      { id: 'bad-binsize', body: Buffer.alloc(10), o: { contentType: 'application/octet-stream' }, code: 'FERRY_E_REQUEST_INVALID' },
      // 250 KiB of an unknown parameter: refused by the input schema, nothing stalls.
      { id: 'bad-big', body: big, o: { contentType: 'application/json' }, code: 'FERRY_E_REQUEST_INVALID' },
      // ~100 KiB in, 4000 rows of scores and probabilities out: more than a message may hold.
      { id: 'bad-result-size', body: JSON.stringify({ data: rows(4000, 3) }), o: { contentType: 'application/json' }, code: 'FERRY_E_EDGE_RESULT_TOO_LARGE' },
      { id: 'utf16-ok', body: Buffer.from('{"data":[[1,2,3,4]]}', 'utf16le'), o: { contentType: 'application/json', contentEncoding: 'utf-16' }, code: null },
    ];
    for (const c of cases) await send(sender, 'toScorer', c.body, { ...c.o, messageId: c.id });
    await send(sender, 'toScorer', JSON.stringify({ data: [[1, 1, 1, 1]] }), { contentType: 'application/json', messageId: 'after-bad' });
    for (const c of cases) {
      const m = await answer(c.id);
      if (c.code === null) {
        expect(m.systemProperties['outputName'], c.id).toBe('amlOutput');
        continue;
      }
      expect(m.systemProperties['outputName'], c.id).toBe('errors');
      expect(m.systemProperties['contentType']).toBe('application/json');
      const body = JSON.parse(m.body.toString('utf8')) as { code: string; reason: string; messageId: string };
      expect(body.code, c.id).toBe(c.code);
      expect(body.messageId).toBe(c.id);
      expect(body.reason.length).toBeGreaterThan(0);
      expect(m.properties['errorCode']).toBe(c.code);
    }
    expect((await answer('after-bad')).systemProperties['outputName']).toBe('amlOutput');
    expect(sim.status().modules.find((m) => m.id === 'scorer')).toMatchObject({ state: 'running', connected: true });
  });

  it('reports its counters to the twin (in, out, errors) after the messages above', async () => {
    // 40 + 1 + 12 + 1 messages reached `scorer`; 11 of them could not be scored.
    const counters = (): { in: number; out: number; errors: number } | undefined => (sim.twin('scorer').reported as { counters?: { in: number; out: number; errors: number } }).counters;
    await until(() => counters()?.in === 54, 15_000, 'reported counters');
    expect(counters()).toEqual({ in: 54, out: 43, errors: 11 });
  });
});
