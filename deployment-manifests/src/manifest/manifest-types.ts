/** The deployment manifest as Ferry reads it (PROTOCOLS.md §5; SchemaStore azure-iot-edge-deployment-2.0.json). */
import type { CompiledRoute } from '../routes/route.js';

export type ModuleStatus = 'running' | 'stopped';
export type RestartPolicy = 'never' | 'on-failure' | 'on-unhealthy' | 'always';
export type ImagePullPolicy = 'on-create' | 'never';
export type EnvValue = string | number | boolean;

/** The most modules a deployment may hold (IoT Edge's limit, PROTOCOLS.md §5). */
export const MAX_MODULES = 50;
/** `storeAndForwardConfiguration.timeToLiveSecs` when the manifest gives none. */
export const DEFAULT_STORE_TTL_SECS = 7200;
/** The priority of a route that gives none: the lowest (iotedge's default, 2,000,000,000, is below every 0-9). */
export const DEFAULT_ROUTE_PRIORITY = 9;

export interface RegistryCredential {
  readonly username: string;
  readonly password: string;
  readonly address: string;
}

/** A module's Docker settings: the image and its create options (joined from the createOptionsNN chunks). */
export interface ModuleSettings {
  readonly image: string;
  /** The create options as written (chunks joined), or undefined when there are none. */
  readonly createOptionsText: string | undefined;
  /** The create options parsed (Docker's container create body: `Env`, `HostConfig`, ...); {} when none. */
  readonly createOptions: Readonly<Record<string, unknown>>;
}

export interface SystemModuleSpec {
  readonly type: 'docker';
  readonly settings: ModuleSettings;
  readonly env: Readonly<Record<string, EnvValue>>;
  readonly status?: ModuleStatus;
  readonly restartPolicy?: RestartPolicy;
  readonly imagePullPolicy?: ImagePullPolicy;
  readonly startupOrder?: number;
}

export interface ModuleSpec {
  /** The module id (the key under `modules`, `^[a-zA-Z0-9_-]+$`). */
  readonly id: string;
  readonly version: string | undefined;
  readonly type: 'docker';
  readonly status: ModuleStatus;
  readonly restartPolicy: RestartPolicy;
  /** Lower starts first; modules without one start last (edgeAgent's default is 4294967295). */
  readonly startupOrder: number | undefined;
  readonly imagePullPolicy: ImagePullPolicy | undefined;
  /** `env.<NAME>.value`. */
  readonly env: Readonly<Record<string, EnvValue>>;
  readonly settings: ModuleSettings;
}

/** One route of `$edgeHub` (a string, or from schema 1.1 on `{route, priority, timeToLiveSecs}`). */
export interface ManifestRoute {
  /** The route's name (its key under `routes`). */
  readonly name: string;
  /** The route text as written. */
  readonly text: string;
  readonly compiled: CompiledRoute;
  /** 0 (highest) to 9; DEFAULT_ROUTE_PRIORITY when the route gives none. */
  readonly priority: number;
  /** The route's own time to live, or undefined (also for 0, iotedge's "not given") to use storeAndForward's. */
  readonly timeToLiveSecs: number | undefined;
  /** The JSON pointer of the route in the manifest. */
  readonly pointer: string;
}

export interface DeploymentManifest {
  readonly agent: {
    readonly schemaVersion: string;
    readonly runtime: {
      readonly type: 'docker';
      readonly minDockerVersion: string | undefined;
      readonly loggingOptions: string | undefined;
      readonly registryCredentials: Readonly<Record<string, RegistryCredential>>;
    };
    readonly systemModules: { readonly edgeAgent: SystemModuleSpec; readonly edgeHub: SystemModuleSpec };
  };
  /** The modules, in the order the manifest lists them. */
  readonly modules: readonly ModuleSpec[];
  readonly hub: {
    readonly schemaVersion: string;
    /** The routes, in the order the manifest lists them. */
    readonly routes: readonly ManifestRoute[];
    readonly storeAndForward: { readonly timeToLiveSecs: number };
  };
  /** `<module>.properties.desired` sections: twin seeds by module id. */
  readonly twins: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** One thing wrong with a manifest, with where it is. */
export interface ManifestProblem {
  /** RFC 6901 JSON pointer into the manifest, e.g. `/modulesContent/$edgeHub/properties.desired/routes/toScorer`. */
  readonly pointer: string;
  readonly message: string;
  /** For routes: 1-based line and column inside the route text. */
  readonly line?: number;
  readonly column?: number;
}
