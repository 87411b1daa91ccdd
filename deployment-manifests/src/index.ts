// Coded errors: the machinery (shared with @ferry/simulator) and this package's catalogue.
export { FerryError, defineCatalogue, isFerryError, deploymentCatalogue } from './errors.js';
export type { Catalogue, CatalogueEntry, ErrorCode, FerryErrorOptions } from './errors.js';
// Routes and conditions (PROTOCOLS.md §6).
export { compileRoute, compileCondition, isRouteText } from './routes/route.js';
export type { CompiledRoute, CompiledCondition, RouteResult, RouteSink } from './routes/route.js';
export { parseRouteMessage, parseRouteMessageText } from './routes/message.js';
export type { RouteMessage } from './routes/message.js';
// Deployment manifests (PROTOCOLS.md §5).
export { parseDeploymentManifest, parseDeploymentManifestText } from './manifest/parse-manifest.js';
export { parseLayeredDeployment, readLayeredDeployment } from './manifest/layered-deployment.js';
export { deploymentDocument, moduleEntry } from './manifest/deployment-document.js';
export type { DeploymentDocument, DeploymentDocumentOptions, ModuleEntryOptions } from './manifest/deployment-document.js';
export type { ManifestSource, LayeredManifestProblem } from './manifest/layered-deployment.js';
export { MAX_MODULES, DEFAULT_STORE_TTL_SECS, DEFAULT_ROUTE_PRIORITY } from './manifest/manifest-types.js';
export type { DeploymentManifest, ManifestProblem, ManifestRoute, ModuleSpec, ModuleSettings, SystemModuleSpec, RegistryCredential, ModuleStatus, RestartPolicy, ImagePullPolicy, EnvValue } from './manifest/manifest-types.js';
