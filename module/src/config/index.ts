export { loadInferenceConfig, parseInferenceConfig, noCodeConfig } from './parse-config.js';
export type { ParseInferenceConfigOptions } from './parse-config.js';
export type { InferenceConfig, RuntimeOptions } from './inference-config.js';
