import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readOnnxModelInfo } from '../src/onnx/onnx-reader.js';
import { buildOnnxModel } from '../src/onnx/onnx-writer.js';
import type { OnnxModelSpec, OnnxTensorSpec } from '../src/onnx/onnx-writer.js';

/** Runs a model's bytes in onnxruntime-node and returns each output's type, dims and plain values. */
async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor> = {}): Promise<Record<string, { type: string; dims: number[]; data: unknown[] }>> {
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const results = await session.run(feeds);
    const out: Record<string, { type: string; dims: number[]; data: unknown[] }> = {};
    for (const [name, t] of Object.entries(results)) out[name] = { type: t.type, dims: [...t.dims], data: Array.from(t.data as ArrayLike<unknown>) };
    return out;
  } finally {
    await session.release();
  }
}

describe('buildOnnxModel -> readOnnxModelInfo', () => {
  it('writes the defaults', () => {
    const info = readOnnxModelInfo(buildOnnxModel({
      inputs: [{ name: 'x', elementType: 'float32', shape: [1] }],
      outputs: [{ name: 'y', elementType: 'float32', shape: [1] }],
      nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }],
    }));
    expect(info).toMatchObject({ irVersion: 8, opsets: [{ domain: '', version: 17 }], opset: 17, producerName: 'ferry', graphName: 'main', metadata: {} });
  });

  it('round-trips every field the reader reports', () => {
    const spec: OnnxModelSpec = {
      irVersion: 9,
      opsets: [{ domain: '', version: 19 }, { domain: 'ai.onnx.ml', version: 3 }],
      producerName: 'round-trip',
      producerVersion: '0.0.1-α',
      domain: 'dev.ferry',
      modelVersion: 7,
      docString: 'A model about nothing.',
      graphName: 'rt',
      graphDocString: 'graph docs',
      inputs: [
        { name: 'images', elementType: 'uint8', shape: ['batch', 'height', 'width', 3], docString: 'RGB' },
        { name: 'ids', elementType: 'int64', shape: [null, 5] },
        { name: 'any', elementType: 'float64' },
        { name: 'scalar', elementType: 'bool', shape: [] },
        { name: 'w', elementType: 'float32', shape: [2] }, // also an initializer: not a required input
      ],
      outputs: [{ name: 'out', elementType: 'float32', shape: [2] }],
      initializers: [{ name: 'w', elementType: 'float32', dims: [2], data: [1, 2] }],
      nodes: [{ opType: 'Identity', inputs: ['w'], outputs: ['out'] }],
      metadata: { author: 'tests', 'ünïcode': '✓' },
    };
    const info = readOnnxModelInfo(buildOnnxModel(spec));
    expect(info).toEqual({
      irVersion: spec.irVersion,
      opsets: spec.opsets,
      opset: 19,
      producerName: spec.producerName,
      producerVersion: spec.producerVersion,
      domain: spec.domain,
      modelVersion: spec.modelVersion,
      docString: spec.docString,
      graphName: spec.graphName,
      inputs: spec.inputs.filter((i) => i.name !== 'w').map((i) => ({
        name: i.name, kind: 'tensor', elementType: i.elementType, shape: i.shape ?? null, ...(i.docString ? { docString: i.docString } : {}),
      })),
      outputs: spec.outputs.map((o) => ({ name: o.name, kind: 'tensor', elementType: o.elementType, shape: o.shape })),
      metadata: spec.metadata,
    });
  });

  it('writes the same bytes for the same spec', () => {
    const spec: OnnxModelSpec = {
      inputs: [{ name: 'x', elementType: 'float32', shape: ['n'] }],
      outputs: [{ name: 'y', elementType: 'float32', shape: ['n'] }],
      nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }],
    };
    expect(Buffer.from(buildOnnxModel(spec)).equals(Buffer.from(buildOnnxModel(spec)))).toBe(true);
  });
});

describe('buildOnnxModel -> onnxruntime-node', () => {
  it('writes initializers of every supported element type exactly', async () => {
    const tensors: OnnxTensorSpec[] = [
      { name: 'f32', elementType: 'float32', dims: [2, 2], data: [1.5, -2.25, 3.4e38, Math.fround(0.1)] },
      { name: 'f32_typed', elementType: 'float32', dims: [3], data: new Float32Array([0.5, -0, 7]) },
      { name: 'f64', elementType: 'float64', dims: [3], data: [Math.PI, -1e-300, 1e300] },
      { name: 'i8', elementType: 'int8', dims: [2], data: [-128, 127] },
      { name: 'i16', elementType: 'int16', dims: [2], data: [-32768, 32767] },
      { name: 'i32', elementType: 'int32', dims: [3], data: [-2147483648, 0, 2147483647] },
      { name: 'i64', elementType: 'int64', dims: [4], data: [-(2n ** 63n), -1n, 2n ** 53n + 1n, 2n ** 63n - 1n] },
      { name: 'i64_numbers', elementType: 'int64', dims: [2], data: [-5, Number.MAX_SAFE_INTEGER] },
      { name: 'u8', elementType: 'uint8', dims: [3], data: [0, 128, 255] },
      { name: 'u16', elementType: 'uint16', dims: [2], data: [0, 65535] },
      { name: 'u32', elementType: 'uint32', dims: [2], data: [0, 4294967295] },
      { name: 'u64', elementType: 'uint64', dims: [2], data: [0n, 2n ** 64n - 1n] },
      { name: 'flag', elementType: 'bool', dims: [3], data: [true, false, true] },
      { name: 'text', elementType: 'string', dims: [2], data: ['héllo', ''] },
      { name: 'scalar', elementType: 'float32', dims: [], data: [42] },
      { name: 'empty', elementType: 'float32', dims: [0, 3], data: [] },
    ];
    const bytes = buildOnnxModel({
      inputs: [],
      outputs: tensors.map((t) => ({ name: `out_${t.name}`, elementType: t.elementType, shape: t.dims })),
      initializers: tensors,
      nodes: tensors.map((t) => ({ opType: 'Identity', inputs: [t.name as string], outputs: [`out_${t.name}`] })),
    });
    const out = await run(bytes);
    for (const t of tensors) {
      const got = out[`out_${t.name}`];
      expect(got?.dims, t.name).toEqual(t.dims);
      expect(got?.type, t.name).toBe(t.elementType);
      let expected: unknown[] = Array.from(t.data as ArrayLike<unknown>);
      if (t.elementType === 'bool') {
        // onnxruntime-node returns bool tensors as bytes.
        expected = expected.map((v) => (v ? 1 : 0));
      } else if (t.elementType === 'int64' || t.elementType === 'uint64') {
        expected = expected.map((v) => BigInt(v as number | bigint));
      } else if (t.elementType === 'float32') {
        expected = expected.map((v) => Math.fround(v as number));
      }
      expect(got?.data, t.name).toEqual(expected);
    }
  });

  it('writes every attribute kind so that onnxruntime computes with it', async () => {
    const bytes = buildOnnxModel({
      inputs: [{ name: 'x', elementType: 'float32', shape: [2, 3] }],
      outputs: [
        { name: 'leaky', elementType: 'float32', shape: [2, 3] },
        { name: 'transposed', elementType: 'float32', shape: [3, 2] },
        { name: 'c_int', elementType: 'int64', shape: [] },
        { name: 'c_ints', elementType: 'int64', shape: [3] },
        { name: 'c_float', elementType: 'float32', shape: [] },
        { name: 'c_floats', elementType: 'float32', shape: [2] },
        { name: 'c_string', elementType: 'string', shape: [] },
        { name: 'c_strings', elementType: 'string', shape: [2] },
        { name: 'c_tensor', elementType: 'int32', shape: [2, 2] },
        { name: 'as_int', elementType: 'int32', shape: [2, 3] },
      ],
      nodes: [
        { opType: 'LeakyRelu', inputs: ['x'], outputs: ['leaky'], attributes: { alpha: { type: 'float', value: 0.25 } } },
        { opType: 'Transpose', inputs: ['x'], outputs: ['transposed'], attributes: { perm: { type: 'ints', value: [1, 0] } } },
        { opType: 'Constant', inputs: [], outputs: ['c_int'], attributes: { value_int: { type: 'int', value: -(2n ** 40n) } } },
        { opType: 'Constant', inputs: [], outputs: ['c_ints'], attributes: { value_ints: { type: 'ints', value: [3, -4, 2n ** 60n] } } },
        { opType: 'Constant', inputs: [], outputs: ['c_float'], attributes: { value_float: { type: 'float', value: 0.125 } } },
        { opType: 'Constant', inputs: [], outputs: ['c_floats'], attributes: { value_floats: { type: 'floats', value: [1.5, -8] } } },
        { opType: 'Constant', inputs: [], outputs: ['c_string'], attributes: { value_string: { type: 'string', value: 'ferry ⛴' } } },
        { opType: 'Constant', inputs: [], outputs: ['c_strings'], attributes: { value_strings: { type: 'strings', value: ['a', 'b c'] } } },
        {
          opType: 'Constant', inputs: [], outputs: ['c_tensor'], name: 'const_tensor', docString: 'a 2x2 int32 tensor',
          attributes: { value: { type: 'tensor', value: { elementType: 'int32', dims: [2, 2], data: new Int32Array([1, -2, 3, -4]) } } },
        },
        // Cast's `to` is a TensorProto.DataType: INT32 = 6.
        { opType: 'Cast', inputs: ['x'], outputs: ['as_int'], attributes: { to: { type: 'int', value: 6 } } },
      ],
    });
    const x = [-4, -1, 0, 2, 3.5, -0.5];
    const out = await run(bytes, { x: new ort.Tensor('float32', Float32Array.from(x), [2, 3]) });
    expect(out.leaky?.data).toEqual(x.map((v) => (v < 0 ? 0.25 * v : v)));
    expect(out.transposed?.data).toEqual([0, 1, 2].flatMap((c) => [0, 1].map((r) => x[r * 3 + c])));
    expect(out.c_int?.data).toEqual([-(2n ** 40n)]);
    expect(out.c_ints?.data).toEqual([3n, -4n, 2n ** 60n]);
    expect(out.c_float?.data).toEqual([0.125]);
    expect(out.c_floats?.data).toEqual([1.5, -8]);
    expect(out.c_string?.data).toEqual(['ferry ⛴']);
    expect(out.c_strings?.data).toEqual(['a', 'b c']);
    expect(out.c_tensor).toEqual({ type: 'int32', dims: [2, 2], data: [1, -2, 3, -4] });
    expect(out.as_int?.data).toEqual(x.map((v) => Math.trunc(v) + 0));
  });

  it('writes node domains and custom opsets that onnxruntime resolves', async () => {
    // ai.onnx.ml's Normalizer (domain-qualified node), next to a default-domain node.
    const bytes = buildOnnxModel({
      opsets: [{ domain: '', version: 17 }, { domain: 'ai.onnx.ml', version: 1 }],
      inputs: [{ name: 'x', elementType: 'float32', shape: [1, 2] }],
      outputs: [{ name: 'y', elementType: 'float32', shape: [1, 2] }],
      nodes: [
        { opType: 'Normalizer', domain: 'ai.onnx.ml', inputs: ['x'], outputs: ['n'], attributes: { norm: { type: 'string', value: 'L1' } } },
        { opType: 'Identity', inputs: ['n'], outputs: ['y'] },
      ],
    });
    const out = await run(bytes, { x: new ort.Tensor('float32', Float32Array.from([1, 3]), [1, 2]) });
    expect(out.y?.data).toEqual([1 / 4, 3 / 4]);
  });
});

describe('buildOnnxModel refuses malformed descriptions', () => {
  const base: OnnxModelSpec = {
    inputs: [{ name: 'x', elementType: 'float32', shape: [1] }],
    outputs: [{ name: 'y', elementType: 'float32', shape: [1] }],
    nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }],
  };
  const withInit = (t: OnnxTensorSpec): OnnxModelSpec => ({ ...base, initializers: [t] });

  it.each([
    ['no outputs', { ...base, outputs: [] }, TypeError],
    ['an empty input name', { ...base, inputs: [{ name: '', elementType: 'float32' }] }, TypeError],
    ['a negative dimension', { ...base, inputs: [{ name: 'x', elementType: 'float32', shape: [-1] }] }, RangeError],
    ['a fractional dimension', { ...base, inputs: [{ name: 'x', elementType: 'float32', shape: [1.5] }] }, RangeError],
    ['irVersion 0', { ...base, irVersion: 0 }, RangeError],
    ['an unnamed initializer', withInit({ elementType: 'float32', dims: [1], data: [1] }), TypeError],
    ['too few values', withInit({ name: 'w', elementType: 'float32', dims: [2, 2], data: [1, 2, 3] }), RangeError],
    ['an int8 out of range', withInit({ name: 'w', elementType: 'int8', dims: [1], data: [128] }), RangeError],
    ['a fractional int32', withInit({ name: 'w', elementType: 'int32', dims: [1], data: [1.5] }), RangeError],
    ['an unsafe int64 number', withInit({ name: 'w', elementType: 'int64', dims: [1], data: [2 ** 53] }), RangeError],
    ['a negative uint64', withInit({ name: 'w', elementType: 'uint64', dims: [1], data: [-1n] }), RangeError],
    ['a bool that is 2', withInit({ name: 'w', elementType: 'bool', dims: [1], data: [2] }), RangeError],
    ['a number in a string tensor', withInit({ name: 'w', elementType: 'string', dims: [1], data: [1] }), TypeError],
  ])('refuses %s', (_what, spec, errorClass) => {
    expect(() => buildOnnxModel(spec as OnnxModelSpec)).toThrow(errorClass);
  });

  it('refuses an unknown attribute type', () => {
    const spec = { ...base, nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'], attributes: { a: { type: 'graph', value: 1 } } }] };
    expect(() => buildOnnxModel(spec as unknown as OnnxModelSpec)).toThrow(TypeError);
  });
});
