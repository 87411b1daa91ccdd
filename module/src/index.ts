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
// The sensor module (module/src/sensor): what the Quick start's model and tests share with it (no SDK import).
export { sensorCatalogue } from './sensor/errors.js';
export { SENSOR_FEATURES, NORMAL_MAX_Z, SPIKE_MIN_Z, SPIKE_MAX_Z } from './sensor/normal-operation.js';
export type { SensorFeature } from './sensor/normal-operation.js';
export { TelemetryGenerator } from './sensor/telemetry-generator.js';
export type { SensorReading, GeneratedReading, AnomalyKind } from './sensor/telemetry-generator.js';
export { SENSOR_OUTPUT } from './sensor/sensor-settings.js';
export { DeviceModelStore, fetchModel, deviceModelCatalogue, DEVICE_MODEL_MANIFEST_FILE } from './device-models/index.js';
export type { DeviceModel, DeviceModelManifest, DeviceModelSource, FetchModelSource, FetchModelOptions } from './device-models/index.js';
// The scorer module (module/src/edge); its process is module/dist/edge/main.js.
export { EdgeModule, loadModuleConfig, parseEdgeConfig, decodeInput, InputAcks, connectModuleClient, noDelayOnConnect, edgeCatalogue } from './edge/index.js';
export type { EdgeModuleOptions, EdgeConfig, EdgeHttpConfig, ModuleConfig, InboundMessage, OutboundMessage, InputAck } from './edge/index.js';
