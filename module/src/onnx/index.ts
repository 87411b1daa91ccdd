export { readOnnxModelInfo, readOnnxModelFile } from './onnx-reader.js';
export { buildOnnxModel, DEFAULT_IR_VERSION, DEFAULT_OPSETS } from './onnx-writer.js';
export type {
  OnnxModelSpec,
  OnnxValueSpec,
  OnnxTensorSpec,
  OnnxNodeSpec,
  OnnxAttributeValue,
  TensorData,
  WritableElementType,
} from './onnx-writer.js';
export { ONNX_DATA_TYPES, elementTypeFromOnnx, onnxDataType } from './element-type.js';
export type { OnnxModelInfo, ValueSignature, ElementType, Dimension, OpsetImport } from './model-info.js';
