/**
 * No-code mode end to end: real onnxruntime-node in worker threads, real models (Ferry's fixtures
 * and the third-party PaddleOCR classifier), answers compared with onnxruntime-node run directly.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ortRun, seededRandom, thirdPartyModels, writeFixtureModels } from '@ferry/test';
import type { FixtureModels, OrtOutput } from '@ferry/test';
import { noCodeConfig } from '../src/config/index.js';
import type { InferenceConfig } from '../src/config/index.js';
import { buildOnnxModel } from '../src/onnx/index.js';
import { inputFromQuery } from '../src/openapi/index.js';
import { createScoringRuntime } from '../src/runtime/index.js';
import type { ScoreRequest, ScoringRuntime } from '../src/runtime/index.js';
import { FolderResolver } from './fixtures/folder-resolver.js';
import { failure } from './fixtures/rejection.js';

let dir: string;
let fx: FixtureModels;
let resolver: FolderResolver;
const runtimes: ScoringRuntime[] = [];

async function start(config: InferenceConfig, r = resolver): Promise<ScoringRuntime> {
  const rt = await createScoringRuntime(config, { resolver: r });
  runtimes.push(rt);
  return rt;
}

const json = (value: unknown): ScoreRequest => ({ kind: 'json-bytes', body: Buffer.from(JSON.stringify(value)) });

async function answer(rt: ScoringRuntime, req: ScoreRequest): Promise<unknown> {
  return JSON.parse((await rt.score(req)).json) as unknown;
}


/** onnxruntime's answer as Ferry writes it: int64 past 2^53 as strings. */
function expected(out: Record<string, OrtOutput>): Record<string, unknown> {
  const conv = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(conv);
    if (typeof v === 'bigint') return v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER) ? v.toString() : Number(v);
    return v;
  };
  return Object.fromEntries(Object.entries(out).map(([k, o]) => [k, conv(o.value)]));
}

function randomFloats(seed: number, n: number): number[] {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, () => Math.fround(rand() * 2 - 1));
}

function nestRows(flat: number[], dims: number[]): unknown {
  if (dims.length === 1) return flat;
  const inner = dims.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: dims[0] as number }, (_, i) => nestRows(flat.slice(i * inner, (i + 1) * inner), dims.slice(1)));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-nocode-'));
  fx = await writeFixtureModels(join(dir, 'fixtures'));
  resolver = new FolderResolver(join(dir, 'registry'));
  for (const m of ['linear', 'int64', 'multiInput', 'allTypes', 'fixedShape', 'bytes'] as const) await resolver.add(m, fx[m].path);
  await resolver.add('cls', thirdPartyModels().ocrCls);
  await resolver.add('corrupt', fx.corrupt.truncated);
  await writeFile(join(dir, 'int16.onnx'), buildOnnxModel({
    graphName: 'int16', inputs: [{ name: 'v', elementType: 'int16', shape: [2] }], outputs: [{ name: 'w', elementType: 'int16', shape: [2] }],
    nodes: [{ opType: 'Identity', inputs: ['v'], outputs: ['w'] }],
  }));
  await resolver.add('int16', join(dir, 'int16.onnx'));
  await writeFile(join(dir, 'weights.bin'), 'not a model');
  await resolver.add('custom', join(dir, 'weights.bin'));
});

afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('answers match onnxruntime-node', () => {
  it('linear float32 model, {"data": ...}', async () => {
    const rt = await start(noCodeConfig('linear'));
    expect(rt.mode).toBe('no-code');
    expect(rt.models.map((m) => m.id)).toEqual(['linear:1']);
    const rows = [[1, 2, 3, 4], [0.25, -1.5, 0, 7], [-3, 0.125, 2, -0.5]];
    const ort = await ortRun(fx.linear.path, { data: { type: 'float32', dims: [3, 4], data: rows.flat() } });
    expect(await answer(rt, json({ data: rows }))).toEqual(expected(ort));
    // The same through an already-parsed value (GET /score?data=...).
    const viaQuery = inputFromQuery(new URLSearchParams({ data: JSON.stringify(rows) }));
    expect(await answer(rt, { kind: 'json', value: viaQuery })).toEqual(expected(ort));
  });

  it('accepts the input by its own name as well as "data"', async () => {
    const rt = await start(noCodeConfig('fixedShape'));
    const x = [[-1, 2.5, -3, 4]];
    const ort = expected(await ortRun(fx.fixedShape.path, { x: { type: 'float32', dims: [1, 4], data: x.flat() } }));
    expect(await answer(rt, json({ x }))).toEqual(ort);
    expect(await answer(rt, json({ data: x }))).toEqual(ort);
  });

  it('multi-input model', async () => {
    const rt = await start(noCodeConfig('multiInput'));
    const a = [[1.5, -2], [3, 4]];
    const b = [[0.5, 8], [-1, 0.25]];
    const ort = await ortRun(fx.multiInput.path, { a: { type: 'float32', dims: [2, 2], data: a.flat() }, b: { type: 'float32', dims: [2, 2], data: b.flat() } });
    expect(await answer(rt, json({ a, b }))).toEqual(expected(ort));
  });

  it('float64, int32, uint8 and bool inputs and outputs', async () => {
    const rt = await start(noCodeConfig('allTypes'));
    const req = { f64: [1.0000000000000002, -2.5e300], i32: [2147483647, -2147483648], u8: [0, 128, 255], flag: [true, false] };
    const ort = await ortRun(fx.allTypes.path, {
      f64: { type: 'float64', dims: [2], data: req.f64 }, i32: { type: 'int32', dims: [2], data: req.i32 },
      u8: { type: 'uint8', dims: [3], data: req.u8 }, flag: { type: 'bool', dims: [2], data: req.flag },
    });
    expect(await answer(rt, json(req))).toEqual(expected(ort));
  });

  it('int64 values past 2^53 travel as strings, both ways', async () => {
    const rt = await start(noCodeConfig('int64'));
    const ids = [['9007199254740993', '-9223372036854775807', 5], [1, 2, '9223372036854775806']];
    const big = ids.map((r) => r.map((v) => BigInt(v)));
    const ort = await ortRun(fx.int64.path, { ids: { type: 'int64', dims: [2, 3], data: big.flat() } });
    const got = await answer(rt, json({ ids })) as { shifted: unknown[][] };
    expect(got).toEqual(expected(ort));
    expect(got.shifted[0]?.[0]).toBe('9007199254740994');
    expect(got.shifted[1]?.[2]).toBe('9223372036854775807');
  });

  it('the third-party PaddleOCR classifier (x [N,3,48,192])', async () => {
    const rt = await start(noCodeConfig('cls'));
    const flat = randomFloats(7, 2 * 3 * 48 * 192);
    const ort = await ortRun(thirdPartyModels().ocrCls, { x: { type: 'float32', dims: [2, 3, 48, 192], data: flat } });
    expect(await answer(rt, json({ x: nestRows(flat, [2, 3, 48, 192]) }))).toEqual(expected(ort));
    // The same tensor as raw bytes with an explicit shape (the model has three symbolic dimensions).
    const bytes = Buffer.from(new Float32Array(flat).buffer);
    expect(await answer(rt, { kind: 'binary', body: bytes, shape: [2, 3, 48, 192] })).toEqual(expected(ort));
    expect(bytes.buffer.byteLength).toBe(0); // transferred to the worker, not copied
    const swagger = rt.swagger(3) as { components: { schemas: { ServiceInput: { properties: Record<string, unknown> } } } };
    expect(Object.keys(swagger.components.schemas.ServiceInput.properties)).toEqual(['data', 'x']);
  });

  it('works without the registry signature (session metadata only)', async () => {
    const bare = new FolderResolver(resolver.root, { withSignature: false });
    const rt = await start(noCodeConfig('linear'), bare);
    const rows = [[4, 3, 2, 1]];
    const ort = await ortRun(fx.linear.path, { data: { type: 'float32', dims: [1, 4], data: rows.flat() } });
    expect(await answer(rt, json({ data: rows }))).toEqual(expected(ort));
  });
});

describe('application/octet-stream bodies', () => {
  it('feed raw bytes to a single-input model, inferring the symbolic dimension', async () => {
    const bytes = await start(noCodeConfig('bytes'));
    const raw = [0, 1, 2, 250, 255, 17, 42];
    const ort = await ortRun(fx.bytes.path, { raw: { type: 'uint8', dims: [raw.length], data: raw } });
    expect(await answer(bytes, { kind: 'binary', body: Buffer.from(raw) })).toEqual(expected(ort));

    const linear = await start(noCodeConfig('linear'));
    const flat = [1, 2, 3, 4, -1, -2, -3, -4];
    const ortLinear = await ortRun(fx.linear.path, { data: { type: 'float32', dims: [2, 4], data: flat } });
    expect(await answer(linear, { kind: 'binary', body: Buffer.from(new Float32Array(flat).buffer) })).toEqual(expected(ortLinear));
    // An unaligned view is copied, not refused.
    const padded = Buffer.alloc(flat.length * 4 + 1);
    Buffer.from(new Float32Array(flat).buffer).copy(padded, 1);
    expect(await answer(linear, { kind: 'binary', body: padded.subarray(1) })).toEqual(expected(ortLinear));
  });

  it('refuses lengths that are not whole elements or rows, and multi-input models', async () => {
    const linear = await start(noCodeConfig('linear'));
    const e1 = await failure(linear.score({ kind: 'binary', body: Buffer.alloc(10) }));
    expect([e1.code, e1.status, e1.details?.pointer]).toEqual(['FERRY_E_REQUEST_INVALID', 400, '']);
    const e2 = await failure(linear.score({ kind: 'binary', body: Buffer.alloc(12) }));
    expect(e2.code).toBe('FERRY_E_REQUEST_INVALID');
    const e3 = await failure(linear.score({ kind: 'binary', body: Buffer.alloc(32), shape: [4, 2] }));
    expect(e3.code).toBe('FERRY_E_REQUEST_INVALID');
    const multi = await start(noCodeConfig('multiInput'));
    const e4 = await failure(multi.score({ kind: 'binary', body: Buffer.alloc(16) }));
    expect([e4.code, e4.status]).toEqual(['FERRY_E_BINARY_NOT_SUPPORTED', 415]);
  });
});

describe('binary answers (output: "binary")', () => {
  it('give the one output tensor\'s raw bytes, batched or not', async () => {
    const rt = await start({ ...noCodeConfig('cls'), runtime: { maxBatchSize: 4, batchWindowMs: 50 } });
    const shape = [1, 3, 48, 192];
    const inputs = [0, 1, 2].map((i) => randomFloats(500 + i, 3 * 48 * 192));
    const got = await Promise.all(inputs.map((flat) => rt.score({ kind: 'binary', body: Buffer.from(new Float32Array(flat).buffer), shape }, { output: 'binary' })));
    expect(got[0]?.execMs).toBe(got[2]?.execMs); // one batch
    for (let i = 0; i < inputs.length; i++) {
      const r = got[i];
      const ort = await ortRun(thirdPartyModels().ocrCls, { x: { type: 'float32', dims: shape, data: inputs[i] as number[] } });
      const o = ort['softmax_0.tmp_0'] as OrtOutput;
      expect(r?.contentType).toBe('application/octet-stream');
      expect(r?.tensor).toEqual({ name: 'softmax_0.tmp_0', elementType: 'float32', dims: o.dims });
      const body = r?.body as Buffer;
      expect(Array.from(new Float32Array(body.buffer, body.byteOffset, body.byteLength / 4))).toEqual(o.data);
    }
    const alone = await rt.score(json({ x: nestRows(inputs[0] as number[], shape) }), { output: 'binary' });
    expect(alone.body.equals(got[0]?.body as Buffer)).toBe(true);
  });

  it('are refused for models with several outputs (406)', async () => {
    const rt = await start(noCodeConfig('linear'));
    const e = await failure(rt.score(json({ data: [[1, 2, 3, 4]] }), { output: 'binary' }));
    expect([e.code, e.status]).toEqual(['FERRY_E_NOT_ACCEPTABLE', 406]);
    const ok = await rt.score(json({ data: [[1, 2, 3, 4]] }));
    expect(ok.contentType).toBe('application/json');
  });
});

describe('bad requests are refused with a code and a JSON pointer', () => {
  let linear: ScoringRuntime;
  let multi: ScoringRuntime;
  let types: ScoringRuntime;
  let int64: ScoringRuntime;
  let fixed: ScoringRuntime;
  beforeAll(async () => {
    [linear, multi, types, int64, fixed] = await Promise.all(['linear', 'multiInput', 'allTypes', 'int64', 'fixedShape'].map((m) => start(noCodeConfig(m)))) as ScoringRuntime[] as [ScoringRuntime, ScoringRuntime, ScoringRuntime, ScoringRuntime, ScoringRuntime];
  });

  it('malformed JSON', async () => {
    for (const body of ['{"data": [1,', 'not json', '', '\xff\xfe']) {
      const e = await failure(linear.score({ kind: 'json-bytes', body: Buffer.from(body, 'latin1') }));
      expect([e.code, e.status]).toEqual(['FERRY_E_REQUEST_MALFORMED', 400]);
    }
  });

  const allTypes = { f64: [1, 2], i32: [1, 2], u8: [1, 2, 3], flag: [true, false] };
  it.each([
    ['a JSON array, not an object', 'linear', [[1, 2, 3, 4]], ''],
    ['a missing single input', 'linear', {}, '/data'],
    ['an extra key next to "data"', 'linear', { data: [[1, 2, 3, 4]], extra: 1 }, '/extra'],
    ['a missing input', 'multi', { a: [[1, 2]] }, '/b'],
    ['an extra input', 'multi', { a: [[1, 2]], b: [[1, 2]], c: [[1, 2]] }, '/c'],
    ['a wrong fixed dimension', 'linear', { data: [[1, 2, 3]] }, '/data/0'],
    ['a wrong rank (too few)', 'linear', { data: [1, 2, 3, 4] }, '/data'],
    ['a wrong rank (too many)', 'linear', { data: [[[1, 2, 3, 4]]] }, '/data'],
    ['a scalar for a tensor', 'linear', { data: 5 }, '/data'],
    ['ragged nested arrays', 'linear', { data: [[1, 2, 3, 4], [1, 2, 3]] }, '/data/1'],
    ['a nested array where a number belongs', 'linear', { data: [[1, 2, 3, 4], [1, [2], 3, 4]] }, '/data/1/1'],
    ['a string in a float32 tensor', 'linear', { data: [[1, 2, '3', 4]] }, '/data/0/2'],
    ['null in a float32 tensor', 'linear', { data: [[1, null, 3, 4]] }, '/data/0/1'],
    ['a float32 out of range', 'linear', { data: [[1, 1e39, 3, 4]] }, '/data/0/1'],
    ['a fixed batch dimension exceeded', 'fixed', { x: [[1, 2, 3, 4], [1, 2, 3, 4]] }, '/x'],
    ['a non-integer int32', 'types', { ...allTypes, i32: [1.5, 2] }, '/i32/0'],
    ['an int32 out of range', 'types', { ...allTypes, i32: [1, 2147483648] }, '/i32/1'],
    ['a uint8 out of range', 'types', { ...allTypes, u8: [1, 2, 256] }, '/u8/2'],
    ['a negative uint8', 'types', { ...allTypes, u8: [-1, 2, 3] }, '/u8/0'],
    ['a number for a bool', 'types', { ...allTypes, flag: [1, false] }, '/flag/0'],
    ['a string for a float64', 'types', { ...allTypes, f64: ['1', 2] }, '/f64/0'],
    ['too many elements for a fixed [2]', 'types', { ...allTypes, f64: [1, 2, 3] }, '/f64'],
    ['an int64 number past 2^53', 'int64', { ids: [[1, 2 ** 60, 3]] }, '/ids/0/1'],
    ['an int64 string past 2^63', 'int64', { ids: [[1, '9223372036854775808', 3]] }, '/ids/0/1'],
    ['a non-decimal int64 string', 'int64', { ids: [[1, '0x10', 3]] }, '/ids/0/1'],
    ['a non-integer int64', 'int64', { ids: [[1, 2, 3.5]] }, '/ids/0/2'],
  ])('%s', async (_what, which, body, pointer) => {
    const rt = { linear, multi, types, int64, fixed }[which] as ScoringRuntime;
    const e = await failure(rt.score(json(body)));
    expect([e.code, e.status, e.details?.pointer]).toEqual(['FERRY_E_REQUEST_INVALID', 400, pointer]);
  });

  it('a bad request in a batch does not spoil the others', async () => {
    const rt = await start({ ...noCodeConfig('linear'), runtime: { batchWindowMs: 50 } });
    const results = await Promise.allSettled([json({ data: [[1, 2, 3, 4]] }), json({ data: [[1, 2]] }), json({ data: [[5, 6, 7, 8]] })].map((r) => rt.score(r)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const ort = await ortRun(fx.linear.path, { data: { type: 'float32', dims: [1, 4], data: [5, 6, 7, 8] } });
    expect(JSON.parse((results[2] as PromiseFulfilledResult<{ json: string }>).value.json)).toEqual(expected(ort));
  });
});

describe('micro-batching', () => {
  it('does not hold a request that came alone for the batching window', async () => {
    const rt = await start({ ...noCodeConfig('linear'), runtime: { maxBatchSize: 8, batchWindowMs: 400 } });
    await rt.score(json({ data: [[1, 2, 3, 4]] })); // warm
    await new Promise((r) => setTimeout(r, 450));
    const t0 = performance.now();
    const lone = await rt.score(json({ data: [[1, 2, 3, 4]] }));
    const loneMs = performance.now() - t0;
    // Waiting for the window would take 400 ms; a lone request goes after its own event-loop turn.
    expect(loneMs).toBeLessThan(200);
    // Requests sent together still share one run, and one coming right behind them waits to join the next.
    const together = await Promise.all([1, 2, 3].map((v) => rt.score(json({ data: [[v, v, v, v]] }))));
    expect(new Set(together.map((r) => r.execMs)).size).toBe(1);
    expect(lone.json).toBe((await rt.score(json({ data: [[1, 2, 3, 4]] }))).json);
  });

  it('answers batched requests exactly as unbatched runs and onnxruntime do', async () => {
    const batched = await start({ ...noCodeConfig('linear'), runtime: { maxBatchSize: 8, batchWindowMs: 100 } });
    const single = await start({ ...noCodeConfig('linear'), runtime: { maxBatchSize: 1 } });
    expect(batched.limits.maxBatchSize).toBe(8);
    expect(single.limits.maxBatchSize).toBe(1);
    // Requests of 1 to 3 rows each: 8 requests in one batch of 16 rows.
    const reqs = Array.from({ length: 8 }, (_, i) => {
      const rows = (i % 3) + 1;
      return nestRows(randomFloats(100 + i, rows * 4).map((v) => v * 10), [rows, 4]);
    });
    const got = await Promise.all(reqs.map((data) => batched.score(json({ data }))));
    // One session.run served them all: they share its execution time.
    expect(new Set(got.map((r) => r.execMs)).size).toBe(1);
    const alone = await Promise.all(reqs.map((data) => single.score(json({ data }))));
    expect(new Set(alone.map((r) => r.execMs)).size).toBe(alone.length);
    for (let i = 0; i < reqs.length; i++) {
      expect(got[i]?.json).toBe(alone[i]?.json);
      const data = reqs[i] as number[][];
      const ort = await ortRun(fx.linear.path, { data: { type: 'float32', dims: [data.length, 4], data: data.flat() } });
      expect(JSON.parse(got[i]?.json as string)).toEqual(expected(ort));
    }
  });

  it('groups requests by shape: the classifier with different image widths in one job', async () => {
    const batched = await start({ ...noCodeConfig('cls'), runtime: { maxBatchSize: 4, batchWindowMs: 100 } });
    const shapes = [[1, 3, 48, 192], [2, 3, 48, 192], [1, 3, 48, 96], [1, 3, 48, 192]];
    const inputs = shapes.map((s, i) => randomFloats(300 + i, s.reduce((a, b) => a * b, 1)));
    const got = await Promise.all(inputs.map((flat, i) => batched.score({ kind: 'binary', body: Buffer.from(new Float32Array(flat).buffer), shape: shapes[i] as number[] })));
    for (let i = 0; i < shapes.length; i++) {
      const ort = await ortRun(thirdPartyModels().ocrCls, { x: { type: 'float32', dims: shapes[i] as number[], data: inputs[i] as number[] } });
      expect(JSON.parse(got[i]?.json as string)).toEqual(expected(ort));
    }
    // The three 48x192 requests ran together; the 48x96 one alone.
    expect(got[0]?.execMs).toBe(got[1]?.execMs);
    expect(got[0]?.execMs).toBe(got[3]?.execMs);
    expect(got[2]?.execMs).not.toBe(got[0]?.execMs);
  });
});

describe('models no-code mode cannot serve', () => {
  it.each([
    ['an unknown model', 'nope', 'FERRY_E_MODEL_NOT_FOUND'],
    ['an unknown version', 'linear:9', 'FERRY_E_MODEL_NOT_FOUND'],
    ['a corrupt ONNX file', 'corrupt', 'FERRY_E_MODEL_INVALID'],
    ['an int16 input', 'int16', 'FERRY_E_MODEL_UNSUPPORTED'],
    ['a custom (non-ONNX) model', 'custom', 'FERRY_E_MODEL_UNSUPPORTED'],
  ])('%s', async (_what, ref, code) => {
    await expect(createScoringRuntime(noCodeConfig(ref), { resolver })).rejects.toMatchObject({ code });
  });

  it('several models without an entry script', async () => {
    await expect(createScoringRuntime({ name: 'two', models: ['linear', 'int64'] }, { resolver })).rejects.toMatchObject({ code: 'FERRY_E_MODEL_UNSUPPORTED' });
  });
});

describe('lifecycle', () => {
  it('close() lets in-flight work finish, then refuses new requests', async () => {
    const rt = await createScoringRuntime(noCodeConfig('linear'), { resolver });
    const pending = rt.score(json({ data: [[1, 2, 3, 4]] }));
    const closing = rt.close();
    await expect(pending).resolves.toHaveProperty('execMs');
    await closing;
    const e = await failure(rt.score(json({ data: [[1, 2, 3, 4]] })));
    expect([e.code, e.status]).toEqual(['FERRY_E_SHUTTING_DOWN', 503]);
    expect(rt.stats()).toEqual({ inFlight: 0, queued: 0 });
  });
});
