/**
 * ModelSlot (issue 4 §3): model swaps under concurrent load with real onnxruntime worker threads and
 * two real model versions in a real DeviceModelStore. Every answer is checked against onnxruntime-node
 * run directly on the model the slot says computed it; none is lost; a failed load keeps the old model.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ortRun } from '@ferry/test';
import { DeviceModelStore } from '../src/device-models/index.js';
import type { InferenceConfig } from '../src/config/index.js';
import { ModelSlot } from '../src/edge/model-slot.js';
import type { ResolvedModel } from '../src/model-ref.js';
import { inputRows, linearModelBytes } from './fixtures/edge-models.js';
import { failure } from './fixtures/rejection.js';

let dir: string;
let store: DeviceModelStore;
const slots: ModelSlot[] = [];
const logger = pino({ level: 'silent' });
/** Expected `y` rows of every input, per model version, computed by onnxruntime-node directly. */
const expected = new Map<number, number[][]>();
const ROWS = inputRows(7, 240);

async function slot(config: Partial<InferenceConfig> = {}): Promise<ModelSlot> {
  const s = await ModelSlot.create({
    config: { name: 'edge', models: ['lin:1'], runtime: { workers: 2, maxBatchSize: 8, batchWindowMs: 1 }, ...config },
    resolver: store, cacheDir: join(dir, 'cache'), logger,
  });
  slots.push(s);
  return s;
}


function scoreRow(s: ModelSlot, i: number): Promise<{ y: number[]; model: ResolvedModel }> {
  return s.score({ kind: 'json-bytes', body: Buffer.from(JSON.stringify({ x: [ROWS[i]] })) }).then(({ result, model }) => ({
    y: (JSON.parse(result.json) as { y: number[][] }).y[0] as number[],
    model,
  }));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-edge-slot-'));
  const models = join(dir, 'models');
  for (const [version, seed] of [[1, 101], [2, 202]] as const) {
    const file = join(dir, `lin-${version}.onnx`);
    await writeFile(file, linearModelBytes(seed));
    DeviceModelStore.writeModel(models, { name: 'lin', version, path: file });
    const out = await ortRun(file, { x: { type: 'float32', dims: [ROWS.length, 4], data: ROWS.flat() } });
    expected.set(version, out['y']!.value as number[][]);
  }
  store = DeviceModelStore.open(models);
  // The versions must disagree on every input, or attribution would prove nothing.
  ROWS.forEach((_, i) => expect(expected.get(1)![i]).not.toEqual(expected.get(2)![i]));
});

afterAll(async () => {
  await Promise.all(slots.map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('ModelSlot', () => {
  it('swaps under concurrent load: every answer comes from the model it names, none is lost', async () => {
    const s = await slot();
    expect(s.model.id).toBe('lin:1');
    expect(s.sha256).toMatch(/^[0-9a-f]{64}$/);
    const sha1 = s.sha256;

    const answers: Array<Promise<{ i: number; y: number[]; model: ResolvedModel }>> = [];
    const versionsAtSubmit: number[] = [];
    const fire = (n: number): void => {
      for (let k = 0; k < n; k++) {
        const i = answers.length;
        versionsAtSubmit[i] = s.model.version;
        answers.push(scoreRow(s, i % ROWS.length).then((a) => ({ i, ...a })));
      }
    };
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    // Waves of requests every millisecond while the model swaps 1 -> 2 -> 1 -> 2.
    const pump = setInterval(() => fire(3), 1);
    try {
      for (const target of ['lin:2', 'lin:1', 'lin:2']) {
        await sleep(40);
        const swapped = await s.reconfigure({ model: target });
        expect(swapped).toMatchObject({ changed: true, model: { id: target } });
      }
      await sleep(40);
    } finally {
      clearInterval(pump);
    }
    const done = await Promise.all(answers);
    expect(done).toHaveLength(answers.length);
    expect(done.length).toBeGreaterThan(300);
    const byVersion = new Map<number, number>();
    for (const a of done) {
      expect(a.y, `request ${a.i} scored by ${a.model.id}`).toEqual(expected.get(a.model.version)![a.i % ROWS.length]);
      // A request is scored by the model that was current when it was submitted: no retroactive swap.
      expect(a.model.version, `row ${a.i}`).toBe(versionsAtSubmit[a.i]);
      byVersion.set(a.model.version, (byVersion.get(a.model.version) ?? 0) + 1);
    }
    // Both versions really scored part of the load.
    expect(byVersion.get(1) ?? 0).toBeGreaterThan(50);
    expect(byVersion.get(2) ?? 0).toBeGreaterThan(50);
    expect(s.model.id).toBe('lin:2');
    expect(s.sha256).not.toBe(sha1);
    expect(s.status).toBe('ready');
    // The replaced runtimes are closed once drained.
    for (let t = 0; t < 100 && s.draining > 0; t++) await new Promise((r) => setTimeout(r, 20));
    expect(s.draining).toBe(0);
  });

  it('keeps the old model scoring when the new one fails to load, and reports why', async () => {
    const s = await slot();
    const statuses: string[] = [];
    s.onStatus((st) => statuses.push(st));
    const err = await failure(s.reconfigure({ model: 'lin:9' }));
    expect(err.code).toBe('FERRY_E_MODEL_NOT_FOUND');
    expect(s.status).toBe('error');
    expect(s.statusCode).toBe('FERRY_E_MODEL_NOT_FOUND');
    expect(s.statusReason).toContain('FERRY_E_MODEL_NOT_FOUND');
    expect(statuses).toEqual(['loading', 'error']);
    expect(s.model.id).toBe('lin:1');
    const a = await scoreRow(s, 3);
    expect(a.model.id).toBe('lin:1');
    expect(a.y).toEqual(expected.get(1)![3]);

    expect((await failure(s.reconfigure({ model: 'no such:ref' }))).code).toBe('FERRY_E_MODEL_REF_INVALID');
    expect((await failure(s.reconfigure({ model: { url: 42 } as never }))).code).toBe('FERRY_E_EDGE_DESIRED_INVALID');
    expect(s.model.id).toBe('lin:1');

    // Back to what runs: nothing rebuilt, the error clears.
    await expect(s.reconfigure({ model: 'lin:1' })).resolves.toMatchObject({ changed: false, model: { id: 'lin:1' } });
    expect(s.status).toBe('ready');
    expect(s.statusReason).toBeUndefined();
  });

  it('applies batching changes as a rebuild and reload rebuilds the same model', async () => {
    const s = await slot();
    const r = await s.reconfigure({ batching: { maxBatchSize: 1, batchWindowMs: 0 } });
    expect(r.changed).toBe(true);
    expect(s.applied.batching).toEqual({ maxBatchSize: 1, batchWindowMs: 0 });
    expect(s.asRuntime().limits.maxBatchSize).toBe(1);
    await expect(s.reconfigure({ batching: { maxBatchSize: 1, batchWindowMs: 0 } })).resolves.toMatchObject({ changed: false });
    await expect(s.reload()).resolves.toMatchObject({ changed: true, model: { id: 'lin:1' } });
    const a = await s.asRuntime().score({ kind: 'json', value: { x: [ROWS[5]] } });
    expect((JSON.parse(a.json) as { y: number[][] }).y[0]).toEqual(expected.get(1)![5]);
  });

  it('hands settings to the entry script; a value init rejects is a failed load and the old settings keep scoring', async () => {
    const script = join(dir, 'scaled.mjs');
    await writeFile(script, [
      'let session; let scale;',
      'export async function init(context) {',
      '  scale = context.settings.scale;',
      "  if (typeof scale !== 'number' || scale <= 0) throw new Error(`settings.scale must be a positive number, got ${scale}`);",
      "  session = await context.createSession(context.modelPath('lin'));",
      '}',
      'export async function run(input, context) {',
      "  const out = await session.run({ x: new context.ort.Tensor('float32', Float32Array.from(input.x.flat()), [input.x.length, 4]) });",
      '  return { y: Array.from(out.y.data, (v) => v * scale), scale };',
      '}',
    ].join('\n'));
    const s = await slot({ entryScript: script, settings: { scale: 2 } });
    const run = async (): Promise<{ y: number[]; scale: number; model: string }> => {
      const { result, model } = await s.score({ kind: 'json', value: { x: [ROWS[0]] } });
      return { ...(JSON.parse(result.json) as { y: number[]; scale: number }), model: model.id };
    };
    expect(await run()).toEqual({ y: expected.get(1)![0]!.map((v) => v * 2), scale: 2, model: 'lin:1' });

    const err = await failure(s.reconfigure({ settings: { scale: -1 } }));
    expect(err.code).toBe('FERRY_E_ENTRY_INIT_FAILED');
    expect(s.status).toBe('error');
    expect(await run()).toMatchObject({ scale: 2, model: 'lin:1' });

    await s.reconfigure({ model: 'lin:2', settings: { scale: 3 } });
    expect(s.status).toBe('ready');
    expect(await run()).toEqual({ y: expected.get(2)![0]!.map((v) => v * 3), scale: 3, model: 'lin:2' });
  });

  it('refuses to score once closed', async () => {
    const s = await slot();
    await s.close();
    expect((await failure(scoreRow(s, 0))).code).toBe('FERRY_E_SHUTTING_DOWN');
    expect((await failure(s.reconfigure({ model: 'lin:2' }))).code).toBe('FERRY_E_SHUTTING_DOWN');
  });
});
