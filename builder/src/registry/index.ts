export { ModelRegistry } from './model-registry.js';
export type {
  DownloadOptions, GarbageReport, ListFilter, ModelChanges, ModelFile, ModelFramework, ModelKind, ModelRecord,
  ModelUsage, RecordedUsage, RegisterOptions, TagFilter, UsageKind, VerifyProblem, VerifyReport,
} from './model-record.js';
