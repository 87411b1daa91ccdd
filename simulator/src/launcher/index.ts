// The module launcher's public surface (issue 3 §6: running a solution's modules).
export { ModuleLauncher } from './module-launcher.js';
export type { LauncherEvents, LauncherOptions, LogsOptions, ModuleState, ModuleStatus } from './module-launcher.js';
export { DEFAULT_STARTUP_ORDER } from './module-spec.js';
export type { ContainerRun, DesiredStatus, ModuleRun, ModuleSpec, ProcessRun, RestartPolicy } from './module-spec.js';
export { compareStartupOrder, planStart, planStop, validateModuleSpecs } from './launch-plan.js';
export type { ExtraEnv, KeepStoppedStep, LaunchStep, StartContainerStep, StartProcessStep, StartStep, StopCandidate, StopStep } from './launch-plan.js';
export { DEFAULT_RESTART_OPTIONS, coolOffMs, isFailure, planRestart } from './restart-policy.js';
export type { ModuleExit, RestartDecision, RestartOptions, RestartStep, RunRecord, SettleDecision } from './restart-policy.js';
export type { LogLine, LogStream } from './log-buffer.js';
export { containerName, planContainer } from './container-config.js';
export type { ContainerPlan, ContainerScope } from './container-config.js';
export { connectDockerEngine, locateDockerEngine, removeLeftoverContainers } from './container-engine.js';
export type { DockerAddress } from './container-engine.js';
export { ProcessRegistry, endRecordedProcess, processStartTime } from './process-registry.js';
export type { LeftoverOutcome, RecordedProcess } from './process-registry.js';
