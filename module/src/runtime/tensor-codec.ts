/**
 * JSON (or raw bytes) <-> tensors for no-code mode, checked against the model's signature:
 * element type, rank, every fixed dimension, rectangular nesting, value ranges. Errors are
 * FERRY_E_REQUEST_INVALID with `details.pointer`, the JSON pointer of the offending field.
 * Pure code: runs in the worker threads, next to the session.
 */
import { scoringError } from '../errors.js';
import type { Dimension, ElementType, ValueSignature } from '../onnx/model-info.js';

/** Input element types no-code mode accepts (issue §3). */
export const NO_CODE_INPUT_TYPES: ReadonlySet<ElementType> = new Set(['float32', 'float64', 'int32', 'int64', 'uint8', 'bool']);

export type InputArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** What onnxruntime's Tensor constructor takes: element type, data, dims. */
export interface TensorData {
  type: ElementType;
  data: InputArray;
  dims: number[];
}

const ELEMENT_SIZE: Partial<Record<ElementType, number>> = { float32: 4, float64: 8, int32: 4, int64: 8, uint8: 1, bool: 1 };
/** Smallest magnitude that rounds to Infinity in float32 (max float32 plus half an ulp). */
const F32_OVERFLOW = 3.4028235677973366e38;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

export function invalid(pointer: string, reason: string): never {
  throw scoringError('FERRY_E_REQUEST_INVALID', `${pointer === '' ? 'The request' : `"${pointer}"`} ${reason}`, { details: { pointer } });
}

export function formatShape(shape: readonly Dimension[] | null): string {
  return shape === null ? '(any shape)' : `[${shape.map((d) => (d === null ? '?' : typeof d === 'string' ? d : String(d))).join(', ')}]`;
}

function allocate(type: ElementType, n: number): InputArray {
  switch (type) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int32': return new Int32Array(n);
    case 'int64': return new BigInt64Array(n);
    default: return new Uint8Array(n); // uint8, bool
  }
}

/** Nested JSON arrays -> one tensor of `sig`'s element type and shape. `pointer` is the field's JSON pointer. */
export function decodeJsonTensor(value: unknown, sig: ValueSignature, pointer: string): TensorData {
  const type = sig.elementType;
  const rank = sig.shape?.length;
  // The shape is read along the first elements, then every array is checked against it while filling.
  const dims: number[] = [];
  let v: unknown = value;
  while (Array.isArray(v)) {
    dims.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  if (rank !== undefined && dims.length < rank && dims[dims.length - 1] === 0) {
    // An empty array ends the descent early: the remaining sizes come from the signature (0 when symbolic).
    for (let i = dims.length; i < rank; i++) { const d = sig.shape?.[i]; dims.push(typeof d === 'number' ? d : 0); }
  }
  if (rank !== undefined && dims.length !== rank) {
    invalid(pointer, dims.length === 0
      ? `must be a ${rank}-D array of shape ${formatShape(sig.shape)}, not ${describe(value)}`
      : `has ${dims.length} dimensions but the model expects ${rank}: shape ${formatShape(sig.shape)}`);
  }
  sig.shape?.forEach((d, i) => {
    if (typeof d === 'number' && dims[i] !== d) {
      invalid(pointer + '/0'.repeat(i), `has ${dims[i]} elements along dimension ${i}; the model expects ${d} (shape ${formatShape(sig.shape)})`);
    }
  });
  let size = 1;
  for (const d of dims) size *= d;
  const out = allocate(type, size);
  const idx: number[] = [];
  let k = 0;
  const last = dims.length - 1;

  const fail = (depth: number, i: number, reason: string): never => {
    if (last < 0) invalid(pointer, reason); // a scalar input: the field itself
    let p = pointer;
    for (let d = 0; d < depth; d++) p += `/${idx[d]}`;
    invalid(`${p}/${i}`, reason);
  };
  const leafFail = (depth: number, i: number, x: unknown): never => {
    if (Array.isArray(x)) return fail(depth, i, `is an array where the model expects a ${type} value (the arrays are ${dims.length}-D)`);
    return fail(depth, i, leafProblem(type, x));
  };

  const fillLeaves = (a: unknown[], depth: number): void => {
    const n = a.length;
    switch (type) {
      case 'float32': {
        const o = out as Float32Array;
        for (let i = 0; i < n; i++) {
          const x = a[i];
          if (typeof x !== 'number' || x >= F32_OVERFLOW || x <= -F32_OVERFLOW) leafFail(depth, i, x);
          o[k++] = x as number;
        }
        return;
      }
      case 'float64': {
        const o = out as Float64Array;
        for (let i = 0; i < n; i++) {
          const x = a[i];
          if (typeof x !== 'number') leafFail(depth, i, x);
          o[k++] = x as number;
        }
        return;
      }
      case 'int32': {
        const o = out as Int32Array;
        for (let i = 0; i < n; i++) {
          const x = a[i];
          if (typeof x !== 'number' || (x | 0) !== x) leafFail(depth, i, x);
          o[k++] = x as number;
        }
        return;
      }
      case 'uint8': {
        const o = out as Uint8Array;
        for (let i = 0; i < n; i++) {
          const x = a[i];
          if (typeof x !== 'number' || (x & 255) !== x) leafFail(depth, i, x);
          o[k++] = x as number;
        }
        return;
      }
      case 'bool': {
        const o = out as Uint8Array;
        for (let i = 0; i < n; i++) {
          const x = a[i];
          if (typeof x !== 'boolean') leafFail(depth, i, x);
          o[k++] = x ? 1 : 0;
        }
        return;
      }
      case 'int64': {
        const o = out as BigInt64Array;
        for (let i = 0; i < n; i++) {
          const x = a[i];
          if (typeof x === 'number' && Number.isSafeInteger(x)) { o[k++] = BigInt(x); continue; }
          if (typeof x === 'string' && /^-?[0-9]{1,19}$/.test(x)) {
            const b = BigInt(x);
            if (b >= INT64_MIN && b <= INT64_MAX) { o[k++] = b; continue; }
          }
          leafFail(depth, i, x);
        }
        return;
      }
      default:
        invalid(pointer, `has element type ${type}, which no-code mode does not feed`);
    }
  };

  const walk = (a: unknown[], depth: number): void => {
    if (depth === last) { fillLeaves(a, depth); return; }
    const want = dims[depth + 1] as number;
    for (let i = 0; i < a.length; i++) {
      const c = a[i];
      if (!Array.isArray(c)) fail(depth, i, `must be an array of ${want} elements (nested arrays must be rectangular, shape [${dims.join(', ')}])`);
      if ((c as unknown[]).length !== want) fail(depth, i, `has ${(c as unknown[]).length} elements where ${want} are expected (nested arrays must be rectangular, shape [${dims.join(', ')}])`);
      idx[depth] = i;
      walk(c as unknown[], depth + 1);
    }
  };

  if (last < 0) {
    // A scalar input.
    fillLeaves([value], 0);
  } else {
    walk(value as unknown[], 0);
  }
  return { type, data: out, dims };
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : `a ${typeof x}`;
}

function leafProblem(type: ElementType, x: unknown): string {
  switch (type) {
    case 'float32':
      return typeof x === 'number' ? `is ${x}, out of range for float32` : `must be a number (float32), not ${describe(x)}`;
    case 'float64':
      return `must be a number (float64), not ${describe(x)}`;
    case 'int32':
      if (typeof x !== 'number') return `must be an integer (int32), not ${describe(x)}`;
      return Number.isInteger(x) ? `is ${x}, out of range for int32` : `is ${x}, not an integer (int32)`;
    case 'uint8':
      if (typeof x !== 'number') return `must be an integer 0..255 (uint8), not ${describe(x)}`;
      return Number.isInteger(x) ? `is ${x}, out of range for uint8 (0..255)` : `is ${x}, not an integer (uint8)`;
    case 'bool':
      return `must be true or false (bool), not ${describe(x)}`;
    case 'int64':
      if (typeof x === 'number') {
        return Number.isInteger(x) ? `is ${x}, past 2^53: send int64 values beyond ±9007199254740991 as decimal strings` : `is ${x}, not an integer (int64)`;
      }
      if (typeof x === 'string') return /^-?[0-9]+$/.test(x) ? `is ${x}, out of range for int64` : `is the string ${JSON.stringify(x.slice(0, 40))}, not a decimal integer (int64)`;
      return `must be an integer (int64; a decimal string past 2^53), not ${describe(x)}`;
    default:
      return `has element type ${type}`;
  }
}

/**
 * Raw little-endian bytes -> one tensor. Shape: `shape` when given, else the signature's with its one
 * symbolic dimension inferred, else 1-D (when the model gives no shape).
 */
export function decodeBinaryTensor(bytes: Uint8Array, sig: ValueSignature, shape?: readonly number[]): TensorData {
  const type = sig.elementType;
  const size = ELEMENT_SIZE[type];
  if (size === undefined) invalid('', `cannot be raw bytes: input "${sig.name}" has element type ${type}`);
  if (bytes.byteLength % size !== 0) invalid('', `has ${bytes.byteLength} bytes, not a multiple of the ${size}-byte ${type} element`);
  const n = bytes.byteLength / size;
  const dims = binaryShape(n, sig, shape);
  let src = bytes;
  if (bytes.byteOffset % size !== 0) src = bytes.slice(); // typed arrays need aligned offsets
  let data: InputArray;
  switch (type) {
    case 'float32': data = new Float32Array(src.buffer, src.byteOffset, n); break;
    case 'float64': data = new Float64Array(src.buffer, src.byteOffset, n); break;
    case 'int32': data = new Int32Array(src.buffer, src.byteOffset, n); break;
    case 'int64': data = new BigInt64Array(src.buffer, src.byteOffset, n); break;
    default: data = src;
  }
  return { type, data, dims };
}

function binaryShape(n: number, sig: ValueSignature, shape: readonly number[] | undefined): number[] {
  const sigShape = sig.shape;
  if (shape !== undefined) {
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) invalid('', `has an invalid shape [${shape.join(', ')}]`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== n) invalid('', `has ${n} elements, but shape [${shape.join(', ')}] holds ${count}`);
    if (sigShape) {
      if (shape.length !== sigShape.length || sigShape.some((d, i) => typeof d === 'number' && d !== shape[i])) {
        invalid('', `has shape [${shape.join(', ')}], but the model expects ${formatShape(sigShape)}`);
      }
    }
    return [...shape];
  }
  if (sigShape === null) return [n];
  const free = sigShape.filter((d) => typeof d !== 'number').length;
  const fixed = sigShape.reduce<number>((a, d) => (typeof d === 'number' ? a * d : a), 1);
  if (free > 1) invalid('', `is raw bytes, but the shape ${formatShape(sigShape)} has ${free} symbolic dimensions: give the shape with the request`);
  if (free === 0) {
    if (fixed !== n) invalid('', `has ${n} elements, but shape ${formatShape(sigShape)} holds ${fixed}`);
    return sigShape as number[];
  }
  if (fixed === 0 || n % fixed !== 0) invalid('', `has ${n} elements, not a whole number of ${formatShape(sigShape)} items (${fixed} elements each)`);
  return sigShape.map((d) => (typeof d === 'number' ? d : n / fixed));
}

/** An output tensor's data as onnxruntime-node returns it. */
export type OutputData = ArrayLike<number | bigint | string | boolean> & { length: number };

/** Output tensor -> nested JSON arrays (int64 past 2^53 as strings, bool as true/false, NaN/Infinity as null). */
export function encodeTensorJson(type: ElementType | string, data: OutputData, dims: readonly number[]): string {
  const leaf = leafEncoder(type, data);
  if (dims.length === 0) return data.length > 0 ? leaf(0, 1) : '[]';
  const strides: number[] = new Array<number>(dims.length);
  let s = 1;
  for (let i = dims.length - 1; i >= 0; i--) { strides[i] = s; s *= dims[i] as number; }
  const last = dims.length - 1;
  const rec = (depth: number, offset: number): string => {
    const n = dims[depth] as number;
    if (depth === last) return `[${leaf(offset, n)}]`;
    const stride = strides[depth] as number;
    let out = '[';
    for (let i = 0; i < n; i++) {
      if (i > 0) out += ',';
      out += rec(depth + 1, offset + i * stride);
    }
    return out + ']';
  };
  return rec(0, 0);
}

type LeafEncoder = (offset: number, n: number) => string;

function leafEncoder(type: ElementType | string, data: OutputData): LeafEncoder {
  if (type === 'bool') {
    return (o, n) => {
      let s = '';
      for (let i = 0; i < n; i++) s += (i > 0 ? ',' : '') + (data[o + i] ? 'true' : 'false');
      return s;
    };
  }
  if (type === 'string') {
    return (o, n) => {
      let s = '';
      for (let i = 0; i < n; i++) s += (i > 0 ? ',' : '') + JSON.stringify(String(data[o + i]));
      return s;
    };
  }
  if (type === 'float16' && data instanceof Uint16Array) {
    return (o, n) => {
      let s = '';
      for (let i = 0; i < n; i++) s += (i > 0 ? ',' : '') + jsonNumber(halfToNumber(data[o + i] as number));
      return s;
    };
  }
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    return (o, n) => {
      const sub = data.subarray(o, o + n);
      let safe = true;
      for (let i = 0; i < n; i++) { const b = sub[i] as bigint; if (b > MAX_SAFE_BIG || b < -MAX_SAFE_BIG) { safe = false; break; } }
      if (safe) return sub.join(',');
      let s = '';
      for (let i = 0; i < n; i++) {
        const b = sub[i] as bigint;
        s += (i > 0 ? ',' : '') + (b > MAX_SAFE_BIG || b < -MAX_SAFE_BIG ? `"${b}"` : String(b));
      }
      return s;
    };
  }
  if (ArrayBuffer.isView(data)) {
    const typed = data as unknown as Float32Array;
    // JSON.stringify of a plain number array is V8's fastest number formatting (faster than
    // typed-array join) and writes NaN/Infinity as null; one row buffer is reused.
    const row: number[] = [];
    return (o, n) => {
      row.length = n;
      for (let i = 0; i < n; i++) row[i] = typed[o + i] as number;
      return JSON.stringify(row).slice(1, -1);
    };
  }
  return (o, n) => {
    let s = '';
    for (let i = 0; i < n; i++) { const x = data[o + i]; s += (i > 0 ? ',' : '') + (typeof x === 'number' ? jsonNumber(x) : JSON.stringify(x)); }
    return s;
  };
}

function jsonNumber(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null';
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
