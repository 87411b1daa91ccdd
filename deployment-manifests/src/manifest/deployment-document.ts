/**
 * Writes a deployment manifest document (PROTOCOLS.md §5, the `{"modulesContent": ...}` shape IoT Hub and
 * `az iot edge set-modules` take) from a short description: the modules with their image, status, restart
 * policy, startup order and environment, the routes, and module twins. The system modules edgeAgent and
 * edgeHub get IoT Edge 1.5's images. What `ferry quickstart`, single-module mode and tests generate.
 */
import type { ModuleStatus, RestartPolicy } from './manifest-types.js';

export interface ModuleEntryOptions {
  /** Default `example/<module id>:1.0`. */
  readonly image?: string;
  /** Default `running`. */
  readonly status?: ModuleStatus;
  /** Default `always`. */
  readonly restartPolicy?: RestartPolicy;
  readonly startupOrder?: number;
  /** `env.<NAME>.value`. */
  readonly env?: Readonly<Record<string, string | number>>;
  /** `settings.createOptions` (written as its JSON string, as IoT Hub stores it). */
  readonly createOptions?: Readonly<Record<string, unknown>>;
}

export interface DeploymentDocumentOptions {
  /** Module id -> entry. */
  readonly modules: Readonly<Record<string, ModuleEntryOptions>>;
  /** Route name -> route: its text, or schema 1.1's `{route, priority, timeToLiveSecs}`. */
  readonly routes: Readonly<Record<string, string | Readonly<Record<string, unknown>>>>;
  /** Module id -> desired properties of its twin. */
  readonly twins?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** `storeAndForwardConfiguration.timeToLiveSecs` (default 7200). */
  readonly timeToLiveSecs?: number;
}

export interface DeploymentDocument {
  readonly modulesContent: Record<string, { 'properties.desired': Record<string, unknown> }>;
}

/** One `$edgeAgent.properties.desired.modules.<id>` entry. */
export function moduleEntry(id: string, o: ModuleEntryOptions = {}): Record<string, unknown> {
  return {
    version: '1.0',
    type: 'docker',
    status: o.status ?? 'running',
    restartPolicy: o.restartPolicy ?? 'always',
    ...(o.startupOrder !== undefined ? { startupOrder: o.startupOrder } : {}),
    ...(o.env ? { env: Object.fromEntries(Object.entries(o.env).map(([k, v]) => [k, { value: String(v) }])) } : {}),
    settings: { image: o.image ?? `example/${id}:1.0`, createOptions: JSON.stringify(o.createOptions ?? {}) },
  };
}

export function deploymentDocument(o: DeploymentDocumentOptions): DeploymentDocument {
  const twins = Object.fromEntries(Object.entries(o.twins ?? {}).map(([id, desired]) => [id, { 'properties.desired': { ...desired } }]));
  return {
    modulesContent: {
      $edgeAgent: {
        'properties.desired': {
          schemaVersion: '1.1',
          runtime: { type: 'docker', settings: { minDockerVersion: 'v1.25' } },
          systemModules: {
            edgeAgent: { type: 'docker', settings: { image: 'mcr.microsoft.com/azureiotedge-agent:1.5', createOptions: '{}' } },
            edgeHub: { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: 'mcr.microsoft.com/azureiotedge-hub:1.5', createOptions: '{}' } },
          },
          modules: Object.fromEntries(Object.entries(o.modules).map(([id, m]) => [id, moduleEntry(id, m)])),
        },
      },
      $edgeHub: {
        'properties.desired': {
          schemaVersion: '1.1',
          routes: { ...o.routes },
          storeAndForwardConfiguration: { timeToLiveSecs: o.timeToLiveSecs ?? 7200 },
        },
      },
      ...twins,
    },
  };
}
