/**
 * What Ferry knows of an ONNX model's signature, read from its ModelProto at registration
 * (see onnx-reader.ts) and used by the no-code scoring mode, request validation and OpenAPI.
 */

/** Element types of ONNX tensors (onnx.TensorProto.DataType), by the names onnxruntime-node uses. */
export type ElementType =
  | 'float32' | 'uint8' | 'int8' | 'uint16' | 'int16' | 'int32' | 'int64' | 'string' | 'bool'
  | 'float16' | 'float64' | 'uint32' | 'uint64' | 'complex64' | 'complex128' | 'bfloat16'
  | 'float8e4m3fn' | 'float8e4m3fnuz' | 'float8e5m2' | 'float8e5m2fnuz' | 'uint4' | 'int4' | 'float4e2m1' | 'undefined';

/** A fixed size, a symbolic name (`"batch"`), or null when the model leaves it unnamed and unknown. */
export type Dimension = number | string | null;

export interface ValueSignature {
  name: string;
  /** 'tensor' for tensors; other ONNX value kinds are recorded so they can be refused clearly. */
  kind: 'tensor' | 'sequence' | 'map' | 'optional' | 'sparse_tensor' | 'unknown';
  /** Element type of a tensor (or of the tensors inside a sequence/optional when known). */
  elementType: ElementType;
  /** Shape of a tensor; null when the model gives no shape (any rank). */
  shape: Dimension[] | null;
  docString?: string;
}

export interface OpsetImport {
  /** '' (or 'ai.onnx') is the default ONNX domain. */
  domain: string;
  version: number;
}

export interface OnnxModelInfo {
  irVersion: number;
  opsets: OpsetImport[];
  /** The default-domain opset, or null when the model imports none. */
  opset: number | null;
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  graphName: string;
  /** Graph inputs that are not initializers: what a caller must feed. */
  inputs: ValueSignature[];
  outputs: ValueSignature[];
  /** metadata_props */
  metadata: Record<string, string>;
}
