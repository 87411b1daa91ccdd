/**
 * A container module's Docker create request, as a pure function of its start step (plan, then execute:
 * ARCHITECTURE.md). edgeAgent's Docker module (Azure/iotedge edge-agent `Docker/`) creates each module's
 * container from the deployment's `createOptions`, adds the module's env and its own labels, and runs it;
 * the simulator does the same, with these differences:
 * - the container is named `ferry-<simulation>-<scope hash>-<module>` (edgeAgent names it after the module
 *   alone), so several simulations, and several workspaces, share one engine;
 * - its labels are the simulator's own (`dev.ferry.*`), never edgeAgent's `net.azure-devices.edge.owner`,
 *   so a real edgeAgent on the same engine does not take these containers for its modules and remove them;
 * - it always runs on the host network: the simulator listens on loopback and hands modules
 *   `localhost:<port>`, which a bridged container cannot reach (and the reference machines have no bridge).
 *   A `PortBindings` entry publishing a container port on the same host port is honoured by that (the port
 *   is the host's); one that maps it to another host port, a `NetworkMode` other than host and
 *   `NetworkingConfig` endpoints cannot be, and are reported as warnings (FERRY_E_SIM_CONTAINER_OPTION_IGNORED);
 * - `HostConfig.RestartPolicy` is dropped: the launcher applies the module's restartPolicy itself.
 * Env: `createOptions.Env`, overlaid by the manifest env, overlaid by the simulator's module env
 * (EdgeHubConnectionString, EdgeModuleCACertificateFile, IOTEDGE_*), as edgeAgent adds its env last.
 * The CA file and the workload socket those name are bind-mounted read-only at the same paths.
 */
import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import type { FerryError } from '@ferry/deployment-manifests';
import { simulatorError } from '../errors.js';
import type { StartContainerStep } from './launch-plan.js';

/** Which simulation a launcher's containers belong to. */
export interface ContainerScope {
  /** The simulation's name (`ferry simulate --name`). */
  readonly simulation: string;
  /** What makes the name unique on the machine: the simulation's folder. */
  readonly scope: string;
}

/** Labels on every container the simulator creates (the owner value marks them as Ferry's). */
export const LABEL_OWNER = 'dev.ferry.owner';
export const LABEL_SIMULATION = 'dev.ferry.simulation';
export const LABEL_SCOPE = 'dev.ferry.scope';
export const LABEL_MODULE = 'dev.ferry.module';
export const OWNER = 'ferry-simulator';

export interface ContainerPlan {
  readonly name: string;
  readonly image: string;
  /** The body of `POST /containers/create`. */
  readonly create: Docker.ContainerCreateOptions;
  /** Whether the container has a TTY (its log stream is then not multiplexed). */
  readonly tty: boolean;
  /** Settings that host networking cannot honour (FERRY_E_SIM_CONTAINER_OPTION_IGNORED). */
  readonly warnings: readonly FerryError[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Docker container names allow `[a-zA-Z0-9][a-zA-Z0-9_.-]`; simulation names and module ids already fit. */
export function containerName(scope: ContainerScope, moduleId: string): string {
  return `ferry-${scope.simulation}-${scopeHash(scope)}-${moduleId}`;
}

export function scopeHash(scope: ContainerScope): string {
  return createHash('sha256').update(scope.scope).digest('hex').slice(0, 8);
}

export function containerLabels(scope: ContainerScope, moduleId: string): Record<string, string> {
  return { [LABEL_OWNER]: OWNER, [LABEL_SIMULATION]: scope.simulation, [LABEL_SCOPE]: scope.scope, [LABEL_MODULE]: moduleId };
}

/** The label filter that finds every container of a simulation (`GET /containers/json?filters=`). */
export function scopeFilter(scope: ContainerScope): { label: string[] } {
  return { label: [`${LABEL_OWNER}=${OWNER}`, `${LABEL_SCOPE}=${scope.scope}`] };
}

function invalid(moduleId: string, what: string): never {
  throw simulatorError('FERRY_E_SIM_CONTAINER_FAILED', `Module "${moduleId}": createOptions ${what}`, { details: { module: moduleId } });
}

function stringArray(moduleId: string, value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) invalid(moduleId, `${what} must be an array of strings`);
  return value as string[];
}

/** `K=V` entries in order, later ones winning, as Docker reads `Env`. */
function envEntries(list: readonly string[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of list) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/** The container paths of `host:container[:mode]` binds (a volume name or host path, then the target). */
function bindTargets(binds: readonly string[]): Set<string> {
  return new Set(binds.map((b) => b.split(':')[1]).filter((t): t is string => t !== undefined));
}

/** Files the module env names that must exist inside the container at the same path. */
function simulatorBinds(env: Readonly<Record<string, string>>): string[] {
  const binds: string[] = [];
  const ca = env.EdgeModuleCACertificateFile;
  if (ca?.startsWith('/')) binds.push(`${ca}:${ca}:ro`);
  const workload = env.IOTEDGE_WORKLOADURI;
  if (workload?.startsWith('unix://')) {
    const path = workload.slice('unix://'.length);
    if (path.startsWith('/')) binds.push(`${path}:${path}`);
  }
  return binds;
}

function portWarnings(moduleId: string, portBindings: unknown): FerryError[] {
  if (portBindings === undefined || portBindings === null) return [];
  if (!isRecord(portBindings)) invalid(moduleId, 'HostConfig.PortBindings must be an object');
  const warnings: FerryError[] = [];
  for (const [key, list] of Object.entries(portBindings)) {
    const containerPort = key.split('/')[0] ?? key;
    for (const binding of Array.isArray(list) ? list : []) {
      const hostPort = isRecord(binding) && typeof binding.HostPort === 'string' ? binding.HostPort : '';
      if (hostPort === '' || hostPort === containerPort) continue; // the container's port is the host's
      warnings.push(simulatorError('FERRY_E_SIM_CONTAINER_OPTION_IGNORED',
        `Module "${moduleId}": PortBindings maps container port ${key} to host port ${hostPort}; on the host network the module listens on ${containerPort} itself`,
        { details: { module: moduleId, option: 'HostConfig.PortBindings', containerPort: key, hostPort } }));
    }
  }
  return warnings;
}

/** Builds the create request; throws FERRY_E_SIM_CONTAINER_FAILED when createOptions has the wrong shape. */
export function planContainer(scope: ContainerScope, step: StartContainerStep): ContainerPlan {
  const id = step.moduleId;
  const options = step.createOptions;
  const hostConfig = options.HostConfig ?? {};
  if (!isRecord(hostConfig)) invalid(id, 'HostConfig must be an object');
  const labels = options.Labels ?? {};
  if (!isRecord(labels) || Object.values(labels).some((v) => typeof v !== 'string')) invalid(id, 'Labels must be an object of strings');

  const env = envEntries(stringArray(id, options.Env, 'Env'));
  for (const [k, v] of Object.entries(step.env)) env.set(k, v);

  const binds = stringArray(id, hostConfig.Binds, 'HostConfig.Binds');
  const targets = bindTargets(binds);
  const extraBinds = simulatorBinds(step.env).filter((b) => !targets.has(b.split(':')[1] ?? ''));

  const warnings = portWarnings(id, hostConfig.PortBindings);
  const mode = hostConfig.NetworkMode;
  if (mode !== undefined && mode !== 'host') {
    warnings.push(simulatorError('FERRY_E_SIM_CONTAINER_OPTION_IGNORED', `Module "${id}": NetworkMode ${JSON.stringify(mode)} is replaced by host (the simulator listens on loopback)`,
      { details: { module: id, option: 'HostConfig.NetworkMode', value: String(mode) } }));
  }
  const endpoints = isRecord(options.NetworkingConfig) ? options.NetworkingConfig.EndpointsConfig : undefined;
  if (isRecord(endpoints) && Object.keys(endpoints).length > 0) {
    warnings.push(simulatorError('FERRY_E_SIM_CONTAINER_OPTION_IGNORED', `Module "${id}": NetworkingConfig endpoints (${Object.keys(endpoints).join(', ')}) are dropped on the host network`,
      { details: { module: id, option: 'NetworkingConfig.EndpointsConfig' } }));
  }

  const rest: Record<string, unknown> = { ...options };
  for (const k of ['name', 'Image', 'Env', 'Labels', 'HostConfig', 'NetworkingConfig', 'Hostname', 'Domainname', 'MacAddress']) delete rest[k];
  const host: Record<string, unknown> = { ...hostConfig };
  for (const k of ['Binds', 'PortBindings', 'NetworkMode', 'RestartPolicy', 'AutoRemove', 'PublishAllPorts']) delete host[k];

  const create: Docker.ContainerCreateOptions = {
    ...(rest as Docker.ContainerCreateOptions),
    name: containerName(scope, id),
    Image: step.image,
    Env: [...env].map(([k, v]) => `${k}=${v}`),
    Labels: { ...(labels as Record<string, string>), ...containerLabels(scope, id) },
    HostConfig: {
      ...(host as Docker.HostConfig),
      Binds: [...binds, ...extraBinds],
      NetworkMode: 'host',
      RestartPolicy: { Name: 'no' },
      AutoRemove: false,
    },
  };
  return { name: containerName(scope, id), image: step.image, create, tty: options.Tty === true, warnings };
}
