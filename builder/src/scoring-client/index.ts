export { ScoringClient } from './scoring-client.js';
export type { ScoringClientOptions, ScoreOptions, ScoreResult, ScoreRejection } from './scoring-client.js';
export { scoreBatch, defaultErrorsPath } from './score-batch.js';
export type { BatchOptions, BatchProgress, BatchSummary } from './score-batch.js';
export { clientCatalogue } from './errors.js';
export type { ClientErrorCode } from './errors.js';
