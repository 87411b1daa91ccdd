export { ModelRegistry } from './registry/index.js';
export type {
  DownloadOptions, GarbageReport, ListFilter, ModelChanges, ModelFile, ModelFramework, ModelKind, ModelRecord,
  ModelUsage, RecordedUsage, RegisterOptions, TagFilter, UsageKind, VerifyProblem, VerifyReport,
} from './registry/index.js';
export { isProcessAlive, resolveWorkspace } from './workspace.js';
export { registryCatalogue } from './errors.js';
export { ScoringClient, scoreBatch, defaultErrorsPath, clientCatalogue } from './scoring-client/index.js';
export type { BatchOptions, BatchProgress, BatchSummary, ClientErrorCode, ScoreOptions, ScoreRejection, ScoreResult, ScoringClientOptions } from './scoring-client/index.js';
export { profile, formatProfileTable, profileTags, startServeProcess, nearestRank } from './profiler/index.js';
export type { LatencySummary, ProfileLevel, ProfileOptions, ProfileProgress, ProfileReport, Recommendation, ServeCommand, ServeProcess, ServeTarget } from './profiler/index.js';
