/**
 * Runs a model in onnxruntime-node directly (no Ferry code in between) and returns plain arrays,
 * so tests can compare what Ferry answers with what onnxruntime computes on the same inputs.
 */
import ort from 'onnxruntime-node';

export type OrtElementType = 'float32' | 'float64' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'bool' | 'string';

export interface OrtFeed {
  type: OrtElementType;
  dims: readonly number[];
  /** Row-major values; numbers or bigints for int64/uint64, booleans or 0/1 for bool. */
  data: readonly (number | bigint | boolean | string)[] | ArrayLike<number> | ArrayLike<bigint>;
}

export type NestedArray<T> = T | NestedArray<T>[];
export type OrtValue = number | bigint | boolean | string;

export interface OrtOutput {
  type: string;
  dims: number[];
  /** Flat row-major values: numbers, bigints (int64/uint64), booleans (bool) or strings. */
  data: OrtValue[];
  /** The same values nested by `dims` (a scalar for dims []). */
  value: NestedArray<OrtValue>;
}

/** Nests a flat row-major array by `dims`; dims [] gives the single value itself. */
export function nest<T>(flat: readonly T[], dims: readonly number[]): NestedArray<T> {
  if (dims.length === 0) return flat[0] as T;
  const build = (offset: number, axis: number): NestedArray<T>[] => {
    const size = dims[axis] as number;
    if (axis === dims.length - 1) return flat.slice(offset, offset + size) as T[];
    const stride = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: size }, (_, i) => build(offset + i * stride, axis + 1));
  };
  return build(0, 0);
}

function toTensor(feed: OrtFeed): ort.Tensor {
  const dims = [...feed.dims];
  const values = Array.from(feed.data as ArrayLike<number | bigint | boolean | string>);
  switch (feed.type) {
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v as number | bigint)), dims);
    case 'uint64':
      return new ort.Tensor('uint64', BigUint64Array.from(values, (v) => BigInt(v as number | bigint)), dims);
    case 'bool':
      return new ort.Tensor('bool', Uint8Array.from(values, (v) => (v === true || v === 1 ? 1 : 0)), dims);
    case 'string':
      return new ort.Tensor('string', values.map(String), dims);
    default: {
      const Typed = { float32: Float32Array, float64: Float64Array, int8: Int8Array, int16: Int16Array, int32: Int32Array, uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array }[feed.type];
      const typed = new Typed(values.length);
      values.forEach((v, i) => (typed[i] = Number(v)));
      return new ort.Tensor(feed.type, typed, dims);
    }
  }
}

/** Loads `modelPath` in a fresh onnxruntime-node session, runs it once on `feeds`, and releases it. */
export async function ortRun(modelPath: string, feeds: Record<string, OrtFeed>): Promise<Record<string, OrtOutput>> {
  const session = await ort.InferenceSession.create(modelPath, { logSeverityLevel: 3 });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, feed] of Object.entries(feeds)) inputs[name] = toTensor(feed);
    const results = await session.run(inputs);
    const out: Record<string, OrtOutput> = {};
    for (const name of session.outputNames) {
      const tensor = results[name];
      if (!tensor) continue;
      const raw = Array.from(tensor.data as ArrayLike<OrtValue>);
      const data = tensor.type === 'bool' ? raw.map((v) => v === 1 || v === true) : raw;
      const dims = [...tensor.dims];
      out[name] = { type: tensor.type, dims, data, value: nest(data, dims) };
      tensor.dispose();
    }
    return out;
  } finally {
    await session.release();
  }
}
