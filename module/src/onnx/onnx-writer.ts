/**
 * Writes small ONNX models (a serialized onnx.ModelProto, onnx/onnx.proto) from a plain description:
 * inputs, outputs, initializers and nodes. Used for Ferry's demo model, the edge module's sample
 * model and test fixtures. It checks the description's form (names, shapes, data sizes and value
 * ranges) but not the graph's meaning: onnxruntime does that when it loads the model.
 *
 * Fields are written in field-number order, as protobuf's own serializers do. Tensor data is
 * written as little-endian `raw_data` (strings as `string_data`).
 */
import { onnxDataType } from './element-type.js';
import type { Dimension, ElementType, OpsetImport } from './model-info.js';
import { WireWriter } from './protobuf-wire.js';

/** A graph input or output (a tensor). */
export interface OnnxValueSpec {
  name: string;
  elementType: ElementType;
  /** Numbers for fixed sizes, strings for symbolic ones (`'batch'`), null for unnamed unknown ones;
   *  omit (or null) for a tensor of unknown rank. */
  shape?: readonly Dimension[] | null;
  docString?: string;
}

/** Element types `buildOnnxModel` can write tensor data for. */
export type WritableElementType =
  | 'float32' | 'float64' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'bool' | 'string';

export type TensorData =
  | readonly number[]
  | readonly bigint[]
  | readonly boolean[]
  | readonly string[]
  | Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

/** A constant tensor: a graph initializer, or the value of a `tensor` attribute (name optional there). */
export interface OnnxTensorSpec {
  name?: string;
  elementType: WritableElementType;
  /** The shape; [] for a scalar. The data's length must be the product of the dims. */
  dims: readonly number[];
  /** Row-major values: numbers (or bigints) for numeric types, booleans (or 0/1) for bool, strings for string. */
  data: TensorData;
  docString?: string;
}

/** A node attribute: one of the AttributeProto kinds, e.g. `{ type: 'int', value: 1 }`. */
export type OnnxAttributeValue =
  | { type: 'int'; value: number | bigint }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: OnnxTensorSpec }
  | { type: 'ints'; value: readonly (number | bigint)[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'strings'; value: readonly string[] };

export interface OnnxNodeSpec {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  /** Operator set domain; '' (the default) is ai.onnx. */
  domain?: string;
  attributes?: Readonly<Record<string, OnnxAttributeValue>>;
  docString?: string;
}

export interface OnnxModelSpec {
  /** ModelProto.ir_version, default 8 (ONNX 1.10+; onnxruntime 1.30 reads up to 11). */
  irVersion?: number;
  /** Default `[{ domain: '', version: 17 }]`. */
  opsets?: readonly OpsetImport[];
  /** Default 'ferry'. */
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  /** Default 'main'. */
  graphName?: string;
  graphDocString?: string;
  inputs: readonly OnnxValueSpec[];
  outputs: readonly OnnxValueSpec[];
  initializers?: readonly OnnxTensorSpec[];
  nodes?: readonly OnnxNodeSpec[];
  /** ModelProto.metadata_props. */
  metadata?: Readonly<Record<string, string>>;
}

export const DEFAULT_IR_VERSION = 8;
export const DEFAULT_OPSETS: readonly OpsetImport[] = Object.freeze([Object.freeze({ domain: '', version: 17 })]);

/**
 * Serializes a model description as an onnx.ModelProto.
 * @throws TypeError or RangeError when the description is malformed (an empty name, a negative
 *   dimension, data whose length does not match the dims or whose values do not fit the type).
 */
export function buildOnnxModel(spec: OnnxModelSpec): Uint8Array {
  const irVersion = spec.irVersion ?? DEFAULT_IR_VERSION;
  if (!Number.isSafeInteger(irVersion) || irVersion < 1) throw new RangeError(`irVersion must be a positive integer, got ${irVersion}`);
  if (spec.outputs.length === 0) throw new TypeError('a model needs at least one output');

  // ModelProto: ir_version=1, producer_name=2, producer_version=3, domain=4, model_version=5,
  // doc_string=6, graph=7, opset_import=8, metadata_props=14.
  const model = new WireWriter();
  model.int64Field(1, irVersion);
  model.stringField(2, spec.producerName ?? 'ferry');
  if (spec.producerVersion) model.stringField(3, spec.producerVersion);
  if (spec.domain) model.stringField(4, spec.domain);
  if (spec.modelVersion !== undefined) model.int64Field(5, spec.modelVersion);
  if (spec.docString) model.stringField(6, spec.docString);
  model.messageField(7, writeGraph(spec));
  for (const opset of spec.opsets ?? DEFAULT_OPSETS) {
    // OperatorSetIdProto: domain=1, version=2.
    const w = new WireWriter();
    if (opset.domain) w.stringField(1, opset.domain);
    w.int64Field(2, opset.version);
    model.messageField(8, w);
  }
  for (const [key, value] of Object.entries(spec.metadata ?? {})) {
    // StringStringEntryProto: key=1, value=2.
    model.messageField(14, new WireWriter().stringField(1, key).stringField(2, value));
  }
  return model.finish();
}

/** GraphProto: node=1, name=2, initializer=5, doc_string=10, input=11, output=12. */
function writeGraph(spec: OnnxModelSpec): WireWriter {
  const graph = new WireWriter();
  for (const node of spec.nodes ?? []) graph.messageField(1, writeNode(node));
  graph.stringField(2, spec.graphName ?? 'main');
  for (const tensor of spec.initializers ?? []) {
    if (!tensor.name) throw new TypeError('every initializer needs a name');
    graph.messageField(5, writeTensor(tensor));
  }
  if (spec.graphDocString) graph.stringField(10, spec.graphDocString);
  for (const input of spec.inputs) graph.messageField(11, writeValueInfo(input));
  for (const output of spec.outputs) graph.messageField(12, writeValueInfo(output));
  return graph;
}

/** ValueInfoProto: name=1, type=2, doc_string=3; TypeProto.tensor_type=1; Tensor: elem_type=1, shape=2. */
function writeValueInfo(value: OnnxValueSpec): WireWriter {
  requireName(value.name, 'graph input or output');
  const tensorType = new WireWriter().int64Field(1, onnxDataType(value.elementType));
  if (value.shape) {
    // TensorShapeProto: dim=1; Dimension: dim_value=1 | dim_param=2.
    const shape = new WireWriter();
    for (const d of value.shape) {
      const dim = new WireWriter();
      if (typeof d === 'number') {
        if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`${value.name}: dimension ${d} is not a non-negative integer`);
        dim.int64Field(1, d);
      } else if (typeof d === 'string' && d !== '') {
        dim.stringField(2, d);
      }
      shape.messageField(1, dim);
    }
    tensorType.messageField(2, shape);
  }
  const info = new WireWriter().stringField(1, value.name);
  info.messageField(2, new WireWriter().messageField(1, tensorType));
  if (value.docString) info.stringField(3, value.docString);
  return info;
}

/** NodeProto: input=1, output=2, name=3, op_type=4, attribute=5, doc_string=6, domain=7. */
function writeNode(node: OnnxNodeSpec): WireWriter {
  requireName(node.opType, 'node opType');
  const w = new WireWriter();
  // An empty input name is how ONNX marks an omitted optional input: allowed.
  for (const input of node.inputs) w.stringField(1, input);
  for (const output of node.outputs) w.stringField(2, output);
  if (node.name) w.stringField(3, node.name);
  w.stringField(4, node.opType);
  for (const [name, value] of Object.entries(node.attributes ?? {})) w.messageField(5, writeAttribute(name, value));
  if (node.docString) w.stringField(6, node.docString);
  if (node.domain) w.stringField(7, node.domain);
  return w;
}

/**
 * AttributeProto: name=1, f=2, i=3, s=4, t=5, floats=7, ints=8, strings=9, type=20
 * (AttributeType FLOAT=1, INT=2, STRING=3, TENSOR=4, FLOATS=6, INTS=7, STRINGS=8).
 * Repeated scalars are written unpacked, as the proto2 declarations say.
 */
function writeAttribute(name: string, value: OnnxAttributeValue): WireWriter {
  requireName(name, 'attribute name');
  const w = new WireWriter().stringField(1, name);
  let type: number;
  switch (value.type) {
    case 'int':
      w.int64Field(3, value.value);
      type = 2;
      break;
    case 'float':
      w.floatField(2, value.value);
      type = 1;
      break;
    case 'string':
      w.stringField(4, value.value);
      type = 3;
      break;
    case 'tensor':
      w.messageField(5, writeTensor(value.value));
      type = 4;
      break;
    case 'ints':
      for (const v of value.value) w.int64Field(8, v);
      type = 7;
      break;
    case 'floats':
      for (const v of value.value) w.floatField(7, v);
      type = 6;
      break;
    case 'strings':
      for (const v of value.value) w.stringField(9, v);
      type = 8;
      break;
    default:
      throw new TypeError(`attribute ${name}: unknown type ${String((value as { type?: unknown }).type)}`);
  }
  return w.uint64Field(20, type);
}

/** TensorProto: dims=1, data_type=2, string_data=6, name=8, raw_data=9, doc_string=12. */
function writeTensor(tensor: OnnxTensorSpec): WireWriter {
  const what = tensor.name ? `tensor ${tensor.name}` : 'tensor';
  let count = 1;
  for (const d of tensor.dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`${what}: dimension ${d} is not a non-negative integer`);
    count *= d;
  }
  if (tensor.data.length !== count) {
    throw new RangeError(`${what}: dims [${tensor.dims.join(', ')}] need ${count} values, data has ${tensor.data.length}`);
  }
  const w = new WireWriter();
  for (const d of tensor.dims) w.int64Field(1, d);
  w.int64Field(2, onnxDataType(tensor.elementType));
  if (tensor.elementType === 'string') {
    for (const s of tensor.data) {
      if (typeof s !== 'string') throw new TypeError(`${what}: string tensors need string values, got ${typeof s}`);
      w.stringField(6, s);
    }
  }
  if (tensor.name) w.stringField(8, tensor.name);
  if (tensor.elementType !== 'string') w.bytesField(9, rawData(tensor.elementType, tensor.data, what));
  if (tensor.docString) w.stringField(12, tensor.docString);
  return w;
}

type NumericType = Exclude<WritableElementType, 'string'>;

const TYPED_ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
} as const;

const INTEGER_RANGES: Partial<Record<NumericType, readonly [number, number]>> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint8: [0, 255],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The tensor's values as little-endian bytes (raw_data: "fixed-width, little-endian order"). */
function rawData(type: NumericType, data: TensorData, what: string): Uint8Array {
  const Typed = TYPED_ARRAYS[type];
  if (!Typed) throw new TypeError(`${what}: element type ${type} cannot be written`);
  let typed: ArrayBufferView & { length: number; [i: number]: number | bigint };
  if (type !== 'bool' && data instanceof Typed) {
    typed = data;
  } else {
    const out = new Typed(data.length);
    for (let i = 0; i < data.length; i++) out[i] = convert(type, data[i], what, i) as never;
    typed = out;
  }
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  if (LITTLE_ENDIAN || (typed as Uint8Array).BYTES_PER_ELEMENT === 1) return bytes;
  const size = (typed as Uint8Array).BYTES_PER_ELEMENT;
  const swapped = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size) for (let j = 0; j < size; j++) swapped[i + j] = bytes[i + size - 1 - j] as number;
  return swapped;
}

function convert(type: NumericType, v: unknown, what: string, i: number): number | bigint {
  const bad = (why: string): never => {
    throw new RangeError(`${what}: value ${String(v)} at index ${i} ${why}`);
  };
  switch (type) {
    case 'bool':
      if (v === true || v === 1) return 1;
      if (v === false || v === 0) return 0;
      return bad('is not a boolean (true/false or 1/0)');
    case 'float32':
    case 'float64':
      if (typeof v === 'number') return v;
      return bad(`is not a number for ${type}`);
    case 'int64':
    case 'uint64': {
      let big: bigint;
      if (typeof v === 'bigint') big = v;
      else if (typeof v === 'number' && Number.isSafeInteger(v)) big = BigInt(v);
      else return bad(`is not a safe integer or bigint for ${type}`);
      const [min, max] = type === 'int64' ? [-(1n << 63n), (1n << 63n) - 1n] : [0n, (1n << 64n) - 1n];
      if (big < min || big > max) bad(`is out of range for ${type}`);
      return big;
    }
    default: {
      const range = INTEGER_RANGES[type] as readonly [number, number];
      const n = typeof v === 'bigint' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n)) return bad(`is not an integer for ${type}`);
      if (n < range[0] || n > range[1]) bad(`is out of range for ${type}`);
      return n;
    }
  }
}

function requireName(name: string, what: string): void {
  if (typeof name !== 'string' || name === '') throw new TypeError(`${what} must be a non-empty string`);
}
