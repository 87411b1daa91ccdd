/**
 * Entry-script mode end to end: real worker threads, real onnxruntime-node, JS and TS scripts from
 * test/fixtures, and scripts that throw, never return or loop forever.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ortRun, writeFixtureModels } from '@ferry/test';
import type { FixtureModels } from '@ferry/test';
import type { InferenceConfig } from '../src/config/index.js';
import { createScoringRuntime } from '../src/runtime/index.js';
import type { CreateScoringRuntimeOptions, ScoreRequest, ScoringRuntime } from '../src/runtime/index.js';
import { FolderResolver } from './fixtures/folder-resolver.js';
import { failure } from './fixtures/rejection.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

let dir: string;
let fx: FixtureModels;
let resolver: FolderResolver;
const runtimes: ScoringRuntime[] = [];

async function start(config: Partial<InferenceConfig> & { entryScript: string }, opts: Partial<CreateScoringRuntimeOptions> = {}): Promise<ScoringRuntime> {
  const rt = await createScoringRuntime({ name: 'svc', models: ['linear'], ...config }, { resolver, ...opts });
  runtimes.push(rt);
  return rt;
}

const json = (value: unknown): ScoreRequest => ({ kind: 'json-bytes', body: Buffer.from(JSON.stringify(value)) });

async function answer(rt: ScoringRuntime, value: unknown): Promise<Record<string, unknown>> {
  return JSON.parse((await rt.score(json(value))).json) as Record<string, unknown>;
}


beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-entry-'));
  fx = await writeFixtureModels(join(dir, 'fixtures'));
  resolver = new FolderResolver(join(dir, 'registry'));
  await resolver.add('linear', fx.linear.path);
  await resolver.add('linear', fx.linear.path);
  await mkdir(join(dir, 'folder-model'));
  await writeFile(join(dir, 'folder-model', 'vocab.txt'), 'a\nb\n');
  await resolver.add('vocab', join(dir, 'folder-model'));
});

afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('entry scripts run the models themselves', () => {
  const rows = [[1, 2, 3, 4], [-1, 0.5, 2, 0]];

  it('JavaScript: init once, run per request, settings, modelPath, context.ort', async () => {
    const rt = await start({ entryScript: fixture('entry-linear.mjs'), models: ['linear:1', 'linear:2'], settings: { scale: 2 } });
    expect(rt.mode).toBe('entry-script');
    const ort = await ortRun(fx.linear.path, { data: { type: 'float32', dims: [2, 4], data: rows.flat() } });
    const got = await answer(rt, { data: rows });
    expect(got.scores).toEqual((ort.scores?.data as number[]).map((v) => v * 2));
    const second = await answer(rt, { data: rows });
    expect(second.initCalls).toBe(1);
    expect(got.modelPath).toBe((await resolver.resolveModel({ name: 'linear', version: 1 })).path);
    expect(got.models).toEqual(['linear:1', 'linear:2']);
  });

  it('TypeScript, transpiled at load time', async () => {
    const rt = await start({ entryScript: fixture('entry-linear.ts'), settings: { threshold: 0.5 } });
    const ort = await ortRun(fx.linear.path, { data: { type: 'float32', dims: [2, 4], data: rows.flat() } });
    expect(await answer(rt, { data: rows })).toEqual({ scores: ort.scores?.data, label: 'typescript', threshold: 0.5 });
  });

  it('modelPath resolves like get_model_path: latest configured version, folders, unknown names', async () => {
    const rt = await start({ entryScript: fixture('entry-model-path.mjs'), models: ['linear:1', 'linear:2', 'vocab'] });
    const v2 = (await resolver.resolveModel({ name: 'linear', version: 2 })).path;
    const v1 = (await resolver.resolveModel({ name: 'linear', version: 1 })).path;
    expect(v1).not.toBe(v2);
    expect(await answer(rt, { name: 'linear' })).toEqual({ path: v2 });
    expect(await answer(rt, { name: 'linear', version: 1 })).toEqual({ path: v1 });
    expect(await answer(rt, { name: 'vocab' })).toEqual({ path: (await resolver.resolveModel({ name: 'vocab', version: undefined })).path });
    expect(await answer(rt, { name: 'linear', version: 3 })).toEqual({ code: 'FERRY_E_MODEL_NOT_FOUND' });
    expect(await answer(rt, { name: 'other' })).toEqual({ code: 'FERRY_E_MODEL_NOT_FOUND' });
  });

  it('writes bigints and typed arrays returned by run', async () => {
    const rt = await start({ entryScript: fixture('entry-behaviours.mjs') });
    expect(await answer(rt, { mode: 'bigint' })).toEqual({ big: '1152921504606846976', small: 5, typed: [0.5, 1.5] });
  });
});

describe('requests are checked against the input sample (ajv)', () => {
  it('answers 400 with the JSON pointer of the offending field', async () => {
    const rt = await start({ entryScript: fixture('entry-linear.mjs'), models: ['linear:1'], inputSample: { data: [[1, 2, 3, 4]] }, outputSample: { scores: [1, 2] } });
    const cases: [unknown, string][] = [
      [{}, '/data'],
      [{ data: 'rows' }, '/data'],
      [{ data: [[1, 'a', 3, 4]] }, '/data/0/1'],
      [{ data: [[1, 2, 3, 4]], extra: true }, '/extra'],
      [[1, 2], ''],
    ];
    for (const [body, pointer] of cases) {
      const e = await failure(rt.score(json(body)));
      expect([e.code, e.status, e.details?.pointer]).toEqual(['FERRY_E_REQUEST_INVALID', 400, pointer]);
    }
    await expect(answer(rt, { data: [[1, 2, 3, 4]] })).resolves.toHaveProperty('scores');
    const doc = rt.swagger(2) as { definitions: { ServiceInput: { required: string[] } } };
    expect(doc.definitions.ServiceInput.required).toEqual(['data']);
  });

  it('refuses malformed JSON and binary bodies', async () => {
    const rt = await start({ entryScript: fixture('entry-behaviours.mjs') });
    const e1 = await failure(rt.score({ kind: 'json-bytes', body: Buffer.from('{"mode": ') }));
    expect([e1.code, e1.status]).toEqual(['FERRY_E_REQUEST_MALFORMED', 400]);
    const e2 = await failure(rt.score({ kind: 'binary', body: Buffer.alloc(4) }));
    expect([e2.code, e2.status]).toEqual(['FERRY_E_BINARY_NOT_SUPPORTED', 415]);
    const e3 = await failure(rt.score(json({ mode: 'echo' }), { output: 'binary' }));
    expect([e3.code, e3.status]).toEqual(['FERRY_E_NOT_ACCEPTABLE', 406]);
    // Without a sample the input schema is a permissive object.
    const doc = rt.swagger(3) as { components: { schemas: { ServiceInput: object } } };
    expect(doc.components.schemas.ServiceInput).toEqual({ type: 'object', additionalProperties: true });
  });
});

describe('scripts that fail', () => {
  it('init throwing: FERRY_E_ENTRY_INIT_FAILED with the script\'s message', async () => {
    const e = await failure(createScoringRuntime({ name: 's', models: ['linear'], entryScript: fixture('entry-init-throws.mjs') }, { resolver }));
    expect(e.code).toBe('FERRY_E_ENTRY_INIT_FAILED');
    expect(e.message).toContain('cannot find the vocabulary file');
  });

  it('no run export, or TypeScript that does not compile: FERRY_E_ENTRY_SCRIPT_INVALID', async () => {
    const e1 = await failure(createScoringRuntime({ name: 's', models: ['linear'], entryScript: fixture('entry-no-run.mjs') }, { resolver }));
    expect(e1.code).toBe('FERRY_E_ENTRY_SCRIPT_INVALID');
    const bad = join(dir, 'bad.ts');
    await writeFile(bad, 'export function run(input: { a: number ) { return input; }\n');
    const e2 = await failure(createScoringRuntime({ name: 's', models: ['linear'], entryScript: bad }, { resolver }));
    expect(e2.code).toBe('FERRY_E_ENTRY_SCRIPT_INVALID');
  });

  it('run throwing: 500 with functionFailed, and the service goes on', async () => {
    const rt = await start({ entryScript: fixture('entry-behaviours.mjs') });
    const e = await failure(rt.score(json({ mode: 'throw' })));
    expect([e.code, e.status, e.details?.functionFailed]).toEqual(['FERRY_E_SCORING_FAILED', 500, true]);
    expect(e.message).toContain('the scoring code failed on purpose');
    expect(await answer(rt, { mode: 'echo' })).toMatchObject({ initialized: true });
  });

  for (const mode of ['promise', 'loop'] as const) {
    it(`run never returning (${mode}): 504, then the worker is replaced and init runs again`, async () => {
      const rt = await start({ entryScript: fixture('entry-behaviours.mjs'), runtime: { timeoutMs: 600 } }, { terminateGraceMs: 200 });
      const before = await answer(rt, { mode: 'echo' });
      const t0 = performance.now();
      // The main thread stays free while the worker is stuck.
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 20);
      const e = await failure(rt.score(json({ mode })));
      clearInterval(ticker);
      expect([e.code, e.status]).toEqual(['FERRY_E_SCORING_TIMEOUT', 504]);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(590);
      expect(ticks).toBeGreaterThan(10);
      const after = await answer(rt, { mode: 'echo' });
      expect(after.initialized).toBe(true);
      expect(after.threadId).not.toBe(before.threadId);
      expect(rt.stats()).toEqual({ inFlight: 0, queued: 0 });
    });
  }
});

describe('a worker that dies', () => {
  it('fails its request with 500 and is replaced', async () => {
    const rt = await start({ entryScript: fixture('entry-behaviours.mjs') });
    const before = await answer(rt, { mode: 'echo' });
    const e = await failure(rt.score(json({ mode: 'exit' })));
    expect([e.code, e.status, e.details?.functionFailed]).toEqual(['FERRY_E_SCORING_FAILED', 500, false]);
    const after = await answer(rt, { mode: 'echo' });
    expect(after.initialized).toBe(true);
    expect(after.threadId).not.toBe(before.threadId);
  });
});

describe('limits', () => {
  it('a full queue answers 503 FERRY_E_BUSY with a retry delay', async () => {
    const rt = await start({ entryScript: fixture('entry-behaviours.mjs'), runtime: { maxConcurrent: 1, maxQueue: 1 } });
    expect(rt.limits).toMatchObject({ maxConcurrent: 1, maxQueue: 1, workers: 1, timeoutMs: 30000 });
    const first = rt.score(json({ mode: 'sleep', ms: 300 }));
    const second = rt.score(json({ mode: 'sleep', ms: 10 }));
    const e = await failure(rt.score(json({ mode: 'sleep', ms: 10 })));
    expect([e.code, e.status]).toEqual(['FERRY_E_BUSY', 503]);
    expect(e.details?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(rt.stats()).toEqual({ inFlight: 1, queued: 1 });
    await Promise.all([first, second]);
  });

  it('time spent queued counts against the timeout; aborted queued requests are dropped', async () => {
    const rt = await start({ entryScript: fixture('entry-behaviours.mjs'), runtime: { timeoutMs: 400 } });
    const first = rt.score(json({ mode: 'sleep', ms: 250 }));
    const second = rt.score(json({ mode: 'sleep', ms: 250 }));
    const ac = new AbortController();
    const third = failure(rt.score(json({ mode: 'sleep', ms: 1 }), { signal: ac.signal }));
    ac.abort();
    await expect(first).resolves.toBeDefined();
    expect((await failure(second)).code).toBe('FERRY_E_SCORING_TIMEOUT');
    expect((await third).code).toBe('FERRY_E_SCORING_CANCELLED');
  });

  it('several workers score at once', async () => {
    const rt = await start({ entryScript: fixture('entry-behaviours.mjs'), runtime: { workers: 2 } });
    const t0 = performance.now();
    const both = await Promise.all([answer(rt, { mode: 'sleep', ms: 300 }), answer(rt, { mode: 'sleep', ms: 300 })]);
    expect(performance.now() - t0).toBeLessThan(550);
    expect(both[0]?.threadId).not.toBe(both[1]?.threadId);
  });

  it('close() waits for running and queued requests', async () => {
    const rt = await createScoringRuntime({ name: 's', models: ['linear'], entryScript: fixture('entry-behaviours.mjs') }, { resolver });
    const a = rt.score(json({ mode: 'sleep', ms: 200 }));
    const b = rt.score(json({ mode: 'sleep', ms: 50 }));
    await rt.close();
    await expect(a).resolves.toHaveProperty('execMs');
    await expect(b).resolves.toHaveProperty('execMs');
    expect((await failure(rt.score(json({})))).code).toBe('FERRY_E_SHUTTING_DOWN');
  });
});
