import type { ElementType } from './model-info.js';

/** onnx.TensorProto.DataType codes (onnx/onnx.proto), keyed by the names onnxruntime-node uses. */
export const ONNX_DATA_TYPES: Readonly<Record<ElementType, number>> = {
  undefined: 0,
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  complex64: 14,
  complex128: 15,
  bfloat16: 16,
  float8e4m3fn: 17,
  float8e4m3fnuz: 18,
  float8e5m2: 19,
  float8e5m2fnuz: 20,
  uint4: 21,
  int4: 22,
  float4e2m1: 23,
};

const BY_CODE: readonly ElementType[] = (() => {
  const table: ElementType[] = [];
  for (const [name, code] of Object.entries(ONNX_DATA_TYPES)) table[code] = name as ElementType;
  return table;
})();

/** The element type for a TensorProto.DataType code; codes this version does not know give 'undefined'. */
export function elementTypeFromOnnx(code: number): ElementType {
  return BY_CODE[code] ?? 'undefined';
}

/** The TensorProto.DataType code of an element type (e.g. for Cast's `to` attribute). */
export function onnxDataType(elementType: ElementType): number {
  const code = ONNX_DATA_TYPES[elementType];
  if (code === undefined) throw new RangeError(`unknown element type ${String(elementType)}`);
  return code;
}
