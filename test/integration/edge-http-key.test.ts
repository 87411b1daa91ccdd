/**
 * The edge module's local HTTP endpoint with key auth (issue 4 §3, Azure ML web service parity): requests
 * without the key or with a wrong one get 401, the primary and secondary keys kept in the module's cache volume
 * both work, and the answers match onnxruntime-node.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceKeys } from '@ferry/module';
import { Simulation } from '@ferry/simulator';
import { ortRun } from '@ferry/test';
import { FIXTURES, connectionEnv, edgeManifest, edgeModels, scorerEnv, spawnModule, until, type ModuleProcess } from './edge-fixture.js';

let dir: string;
let sim: Simulation;
let module: ModuleProcess | undefined;
let models: Awaited<ReturnType<typeof edgeModels>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-edge-key-'));
  models = await edgeModels(dir);
  sim = await Simulation.start({
    workspace: join(dir, 'ws'), name: 'edge-key', manifest: edgeManifest({}, { up: 'FROM /messages/* INTO $upstream' }, ['scorer']),
    mqttPort: 0, httpsPort: null, dashboardPort: null, stopGraceMs: 2000,
  });
});

afterAll(async () => {
  if (module && module.child.exitCode === null) {
    module.child.kill('SIGTERM');
    await module.exited;
  }
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the edge module HTTP endpoint with key auth', () => {
  it('refuses requests without a valid key and answers with either stored key', async () => {
    const m = spawnModule({ ...scorerEnv('scorer-http-key.yaml', models.modelsDir, models.cacheDir), ...connectionEnv(sim, 'scorer'), FERRY_MODULE_CONFIG: join(FIXTURES, 'scorer-http-key.yaml') });
    module = m;
    await until(() => m.logs.some((l) => l['msg'] === 'http endpoint listening'), 20_000, 'the HTTP endpoint');
    const url = m.logs.find((l) => l['msg'] === 'http endpoint listening')?.['url'] as string;
    const keys = ServiceKeys.open(join(models.cacheDir, 'http'), 'scorer');
    const row = [0.5, -1, 2, 0.25];
    const score = (key?: string): Promise<Response> => fetch(`${url}/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) },
      body: JSON.stringify({ data: [row] }),
    });
    expect((await score()).status).toBe(401);
    expect((await score('not-the-key')).status).toBe(401);
    const expected = await ortRun(models.fixtures.linear.path, { data: { type: 'float32', dims: [1, 4], data: row } });
    for (const key of [keys.primary, keys.secondary]) {
      const res = await score(key);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { scores: number[][] };
      (body.scores[0] as number[]).forEach((v, j) => expect(v).toBeCloseTo(((expected['scores']?.value as number[][])[0] as number[])[j] as number, 5));
    }
    expect(await (await fetch(`${url}/`)).text()).toBe('Healthy');
  });
});
