export { createScoringRuntime } from './create-runtime.js';
export type {
  ScoringRuntime, ScoreRequest, ScoreResult, ScoreOptions, ScoringLimits, ScoringStats, SwaggerOptions,
  CreateScoringRuntimeOptions, EntryContext, EntryScript,
} from './types.js';
