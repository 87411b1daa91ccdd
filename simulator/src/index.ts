export { simulatorCatalogue } from './errors.js';
export type { SimulatorErrorCode } from './errors.js';
export { IdentityStore } from './identity/identity-store.js';
export type { Identity, IdentityStoreOptions } from './identity/identity-store.js';
export { createSasToken, verifySasToken, parseSasToken } from './identity/sas-token.js';
export type { SasResource, SasVerification, ParsedSasToken } from './identity/sas-token.js';
export { ensureGatewayCertificates, gatewaySubjectAltNames } from './certificates/local-ca.js';
export type { GatewayCertificates, CertificateOptions } from './certificates/local-ca.js';
export { EdgeBroker, MAX_MESSAGE_BYTES, WEBSOCKET_PATH } from './broker/edge-broker.js';
export type { ClientMessage, OutboundMessage, Refusal, ClientConnection, EdgeBrokerEvents, EdgeBrokerOptions } from './broker/edge-broker.js';
export type { ClientMessageKind, ClientIdentity } from './broker/topics.js';
export { SessionStore } from './broker/session-store.js';
export type { StoredSession, StoredSubscription } from './broker/session-store.js';
export { decodePropertyBag, encodePropertyBag } from './broker/property-bag.js';
export type { PropertyBag } from './broker/property-bag.js';
export { WorkloadServer, WORKLOAD_API_VERSION } from './workload/workload-server.js';
export type { WorkloadServerOptions } from './workload/workload-server.js';
// Store-and-forward (simulator/src/store): its own public surface.
export { MessageStore, storeCatalogue } from './store/index.js';
export type { Delivery, EndpointStats, Message, MessageStoreOptions, QueuedMessage, StoreStats } from './store/index.js';
// Module launcher (simulator/src/launcher): its own public surface.
export { ModuleLauncher, DEFAULT_STARTUP_ORDER, planStart, planStop, planRestart, coolOffMs, validateModuleSpecs, DEFAULT_RESTART_OPTIONS } from './launcher/index.js';
export { ProcessRegistry, endRecordedProcess, processStartTime } from './launcher/index.js';
export type { LeftoverOutcome, RecordedProcess } from './launcher/index.js';
export { containerName, locateDockerEngine } from './launcher/index.js';
export type { ContainerScope } from './launcher/index.js';
export type { ModuleSpec, ModuleRun, ProcessRun, ContainerRun, RestartPolicy, DesiredStatus, ModuleState, ModuleStatus, LauncherOptions, LauncherEvents, LogsOptions, LogLine, LogStream, LaunchStep, StartStep, StopStep, ExtraEnv, RestartOptions, RestartStep, ModuleExit, RunRecord } from './launcher/index.js';
// Twins and direct methods (simulator/src/twins, simulator/src/methods; PROTOCOLS.md §3).
export { TwinStore } from './twins/twin-store.js';
export type { TwinProperties, DesiredChange, TwinStoreOptions } from './twins/twin-store.js';
export { TwinService } from './twins/twin-service.js';
export type { TwinRefusal, TwinServiceEvents } from './twins/twin-service.js';
export { MAX_TWIN_SECTION_BYTES } from './twins/twin-document.js';
export type { TwinSection } from './twins/twin-document.js';
export { MethodService, MAX_METHOD_PAYLOAD_BYTES } from './methods/method-service.js';
export type { MethodServiceOptions, InvokeOptions, MethodResult } from './methods/method-service.js';
// Routing (simulator/src/router) and the local IoT Hub behind $upstream (simulator/src/upstream).
export { Router } from './router/router.js';
export type { RouterOptions, RouterStats, RouteStats, RouterEndpointStats, AcceptedMessage } from './router/router.js';
export { UPSTREAM_ENDPOINT, endpointName } from './router/route-table.js';
export { LocalIotHub } from './upstream/local-iot-hub.js';
export type { CloudMessage, CloudMessageFilter, LocalIotHubOptions, LocalIotHubEvents } from './upstream/local-iot-hub.js';
export type { UpstreamSink, UpstreamMessage } from './upstream/upstream-sink.js';
export { IotHubUpstream } from './upstream/iothub-upstream.js';
export type { IotHubUpstreamOptions } from './upstream/iothub-upstream.js';
// Running a solution (simulator/src/solution): Simulation, its control socket and the client the CLI uses.
export { ManifestWatcher } from './solution/index.js';
export type { ManifestReloadResult, ManifestReloadTarget, ManifestWatcherOptions, ManifestWatcherEvents } from './solution/index.js';
export { Simulation, DEFAULT_HUB_HOST_NAME, DEFAULT_DEVICE_ID, ControlServer, ControlClient, monitorEvent, readSolutionFile, parseSolution, simulationDir, controlSocketPath, DEFAULT_SIMULATION_NAME } from './solution/index.js';
export type { SimulationOptions, SimulationStatus, SimulationModuleStatus, ControlTarget, ModuleCredentials, MonitorEvent, Solution, SolutionModule } from './solution/index.js';
// Single-module mode, compatible with iotedgehubdev (`ferry simulate -i`).
export { parseInjectRequest, injectedMessage } from './solution/inject-request.js';
export type { InjectRequest } from './solution/inject-request.js';
export { SingleModuleSimulation, singleModuleManifest, SINGLE_MODULE_ID, INJECTOR_MODULE_ID, DEFAULT_SINGLE_MODULE_PORT, MESSAGES_API_PATH } from './solution/single-module.js';
export type { SingleModuleOptions, InjectResult } from './solution/single-module.js';
// The dashboard page a simulation serves (simulator/src/dashboard).
export { DashboardServer, DEFAULT_DASHBOARD_PORT, DASHBOARD_MESSAGES, DASHBOARD_INJECT_PATH, DASHBOARD_STATE_PATH, DASHBOARD_SOURCE_MODULE_ID, parseDashboardInject, BODY_PREVIEW_BYTES } from './dashboard/index.js';
export type { DashboardOptions, DashboardTarget, DashboardState, DashboardInjectRequest, DashboardInjectResult, MessageView } from './dashboard/index.js';
