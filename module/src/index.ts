export { FerryError, isFerryError, defineCatalogue, scoringCatalogue } from './errors.js';
export type { Catalogue, CatalogueEntry, ErrorCode, FerryErrorOptions } from './errors.js';
export { MODEL_NAME_PATTERN, isValidModelName, parseModelRef, formatModelRef } from './model-ref.js';
export type { ModelRef, ResolvedModel, ModelResolver } from './model-ref.js';
export type { OnnxModelInfo, ValueSignature, ElementType, Dimension, OpsetImport } from './onnx/model-info.js';
export * from './onnx/index.js';
export { startScoringServer, installSignalHandlers, ServiceKeys, httpCatalogue } from './http/index.js';
export type { ScoringServer, ScoringServerOptions, ServerEvent, RequestEvent, SignalHandlerOptions, ServiceKeyName } from './http/index.js';
export { loadInferenceConfig, parseInferenceConfig, noCodeConfig } from './config/index.js';
export type { InferenceConfig, RuntimeOptions, ParseInferenceConfigOptions } from './config/index.js';
export { createScoringRuntime } from './runtime/index.js';
export type {
  ScoringRuntime, ScoreRequest, ScoreResult, ScoreOptions, ScoringLimits, ScoringStats, SwaggerOptions,
  CreateScoringRuntimeOptions, EntryContext, EntryScript,
} from './runtime/index.js';
export { inputFromQuery } from './openapi/index.js';
