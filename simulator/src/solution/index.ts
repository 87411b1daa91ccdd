// Running a solution (`ferry simulate`, issue 3 §6) and its control channel.
export { Simulation, DEFAULT_HUB_HOST_NAME, DEFAULT_DEVICE_ID } from './simulation.js';
export type { SimulationOptions, SimulationStatus, SimulationModuleStatus, ManifestReloadResult } from './simulation.js';
export { ManifestWatcher } from './manifest-watch.js';
export type { ManifestReloadTarget, ManifestWatcherOptions, ManifestWatcherEvents } from './manifest-watch.js';
export { ControlServer, monitorEvent } from './control-server.js';
export type { ControlTarget, ModuleCredentials, MonitorEvent } from './control-server.js';
export { ControlClient } from './control-client.js';
export { readSolutionFile, parseSolution } from './solution-file.js';
export type { Solution, SolutionModule } from './solution-file.js';
export { simulationDir, controlSocketPath, DEFAULT_SIMULATION_NAME } from './simulation-paths.js';
