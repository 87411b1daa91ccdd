/**
 * Reading and validating a deployment manifest (PROTOCOLS.md §5). Field names and rules follow SchemaStore's
 * azure-iot-edge-deployment-2.0.json (additionalProperties: false everywhere) and Azure/iotedge's
 * EdgeHubDesiredProperties (schema 1.0-1.3) and edgeAgent's desired properties (schema 1.0, 1.1).
 */
import { deploymentError } from '../errors.js';
import { readRoutes } from './hub-routes.js';
import { Problems, describe, isObject, pointerTo, type JsonObject } from './json-fields.js';
import { DEFAULT_STORE_TTL_SECS, MAX_MODULES } from './manifest-types.js';
import type { DeploymentManifest, ManifestRoute, ModuleSpec, RegistryCredential, SystemModuleSpec } from './manifest-types.js';
import { readEnv, readSettings } from './module-settings.js';

const MODULE_ID = /^[a-zA-Z0-9_-]+$/;
const CREDENTIAL_NAME = /^[^.$# ]+$/;
const STATUSES = ['running', 'stopped'] as const;
const RESTART_POLICIES = ['never', 'on-failure', 'on-unhealthy', 'always'] as const;
const PULL_POLICIES = ['on-create', 'never'] as const;
const UINT32_MAX = 4294967295;
/** IoT Hub's limit on a twin's desired section (PROTOCOLS.md §5). */
const MAX_DESIRED_BYTES = 32 * 1024;

/**
 * Validates a deployment manifest (`{"modulesContent": ...}`, or an IoT Hub deployment's
 * `{"content": {"modulesContent": ...}}`) and returns its model, every route compiled.
 * `where` names the manifest in the message (e.g. its file path).
 * @throws FERRY_E_MANIFEST_INVALID with details { pointer, line?, column?, errors: ManifestProblem[] }
 */
export function parseDeploymentManifest(json: unknown, where = 'deployment manifest'): DeploymentManifest {
  const problems = new Problems();
  const manifest = readManifest(json, problems);
  if (problems.list.length > 0 || manifest === undefined) {
    const first = problems.list[0] ?? { pointer: '', message: 'not a deployment manifest' };
    const position = first.line === undefined ? '' : ` (line ${first.line}, column ${first.column} of the route)`;
    const more = problems.list.length > 1 ? ` (and ${problems.list.length - 1} more problem${problems.list.length > 2 ? 's' : ''})` : '';
    throw deploymentError('FERRY_E_MANIFEST_INVALID', `${where} is invalid at ${first.pointer || '/'}${position}: ${first.message}${more}.`, {
      details: { pointer: first.pointer, ...(first.line === undefined ? {} : { line: first.line, column: first.column }), errors: problems.list },
    });
  }
  return manifest;
}

/**
 * Reads a deployment manifest from JSON text (a `deployment.json` file).
 * @throws FERRY_E_MANIFEST_INVALID, also when the text is not JSON (pointer '')
 */
export function parseDeploymentManifestText(text: string, where = 'deployment manifest'): DeploymentManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw deploymentError('FERRY_E_MANIFEST_INVALID', `${where} is not JSON: ${(e as Error).message}.`, { details: { pointer: '', errors: [{ pointer: '', message: 'not JSON' }] } });
  }
  return parseDeploymentManifest(json, where);
}

function readManifest(json: unknown, problems: Problems): DeploymentManifest | undefined {
  if (!isObject(json)) return problems.add('', `a deployment manifest is a JSON object, not ${describe(json)}`);
  let root = json;
  let base = '';
  if (json['content'] !== undefined && json['modulesContent'] === undefined) {
    // An IoT Hub deployment (az iot edge deployment create): the manifest sits under "content".
    const content = problems.object(json, 'content', '');
    if (!content) return undefined;
    root = content;
    base = '/content';
  }
  problems.onlyKeys(root, base, ['modulesContent'], 'the manifest');
  const modulesContent = problems.object(root, 'modulesContent', base);
  if (!modulesContent) return undefined;
  const mc = pointerTo(base, 'modulesContent');
  const agentDesired = desiredOf(modulesContent, '$edgeAgent', mc, problems);
  const hubDesired = desiredOf(modulesContent, '$edgeHub', mc, problems);
  const twins: Record<string, Record<string, unknown>> = {};
  for (const key of Object.keys(modulesContent)) {
    if (key === '$edgeAgent' || key === '$edgeHub') continue;
    const at = pointerTo(mc, key);
    if (!MODULE_ID.test(key)) {
      problems.add(at, `"${key}" is not a module id (letters, digits, '-' and '_'; system modules are $edgeAgent and $edgeHub)`);
      continue;
    }
    const desired = desiredOf(modulesContent, key, mc, problems);
    if (!desired) continue;
    const bytes = Buffer.byteLength(JSON.stringify(desired));
    if (bytes > MAX_DESIRED_BYTES) problems.add(pointerTo(at, 'properties.desired'), `the desired properties are ${bytes} bytes, over IoT Hub's limit of ${MAX_DESIRED_BYTES}`);
    twins[key] = desired;
  }
  const agent = agentDesired ? readAgent(agentDesired, pointerTo(mc, '$edgeAgent', 'properties.desired'), problems) : undefined;
  // Routes are checked against every module the manifest names, also one whose own fields are wrong.
  const declared = agentDesired?.['modules'];
  const moduleIds = isObject(declared) ? Object.keys(declared) : [];
  const hub = hubDesired ? readHub(hubDesired, pointerTo(mc, '$edgeHub', 'properties.desired'), moduleIds, problems) : undefined;
  if (!agent || !hub) return undefined;
  return { agent: agent.agent, modules: agent.modules, hub, twins };
}

function desiredOf(modulesContent: JsonObject, key: string, pointer: string, problems: Problems): JsonObject | undefined {
  const section = problems.object(modulesContent, key, pointer);
  if (!section) return undefined;
  const at = pointerTo(pointer, key);
  problems.onlyKeys(section, at, ['properties.desired'], `${key}`);
  return problems.object(section, 'properties.desired', at);
}

/** Major 1 and a minor in range; a patch number is tolerated ("1.1.0", as iotedge's design doc writes). */
function schemaMinor(desired: JsonObject, pointer: string, maxMinor: number, what: string, problems: Problems): number | undefined {
  const version = problems.string(desired, 'schemaVersion', pointer);
  if (version === undefined) return undefined;
  const m = /^1\.(\d+)(\.\d+)?$/.exec(version);
  const minor = m ? Number(m[1]) : NaN;
  if (!(minor <= maxMinor)) {
    return problems.add(pointerTo(pointer, 'schemaVersion'), `${what} schemaVersion "${version}" is not one Ferry knows (1.0 to 1.${maxMinor})`);
  }
  return minor;
}

function readAgent(desired: JsonObject, p: string, problems: Problems): { agent: DeploymentManifest['agent']; modules: ModuleSpec[] } | undefined {
  problems.onlyKeys(desired, p, ['schemaVersion', 'runtime', 'systemModules', 'modules'], '$edgeAgent desired properties');
  const minor = schemaMinor(desired, p, 1, '$edgeAgent', problems);
  const runtime = readRuntime(desired, p, problems);
  const systemModules = problems.object(desired, 'systemModules', p);
  let edgeAgent: SystemModuleSpec | undefined;
  let edgeHub: SystemModuleSpec | undefined;
  if (systemModules) {
    const sp = pointerTo(p, 'systemModules');
    problems.onlyKeys(systemModules, sp, ['edgeAgent', 'edgeHub'], 'systemModules');
    const a = problems.object(systemModules, 'edgeAgent', sp);
    if (a) edgeAgent = readSystemModule(a, pointerTo(sp, 'edgeAgent'), false, problems);
    const h = problems.object(systemModules, 'edgeHub', sp);
    if (h) edgeHub = readSystemModule(h, pointerTo(sp, 'edgeHub'), true, problems);
  }
  const modules: ModuleSpec[] = [];
  const modulesObject = problems.object(desired, 'modules', p, false) ?? {};
  const mp = pointerTo(p, 'modules');
  const ids = Object.keys(modulesObject);
  if (ids.length > MAX_MODULES) problems.add(mp, `the manifest has ${ids.length} modules; a deployment holds at most ${MAX_MODULES}`);
  for (const id of ids) {
    const at = pointerTo(mp, id);
    if (!MODULE_ID.test(id)) problems.add(at, `the module id "${id}" may hold only letters, digits, '-' and '_'`);
    const spec = modulesObject[id];
    if (!isObject(spec)) {
      problems.add(at, `a module is an object, not ${describe(spec)}`);
      continue;
    }
    const module = readModule(id, spec, at, problems);
    if (module) modules.push(module);
  }
  if (minor === undefined || !runtime || !edgeAgent || !edgeHub) return undefined;
  return { agent: { schemaVersion: desired['schemaVersion'] as string, runtime, systemModules: { edgeAgent, edgeHub } }, modules };
}

function readRuntime(desired: JsonObject, p: string, problems: Problems): DeploymentManifest['agent']['runtime'] | undefined {
  const runtime = problems.object(desired, 'runtime', p);
  if (!runtime) return undefined;
  const rp = pointerTo(p, 'runtime');
  problems.onlyKeys(runtime, rp, ['type', 'settings'], 'runtime');
  const type = problems.oneOf(runtime, 'type', rp, ['docker'] as const);
  const settings = problems.object(runtime, 'settings', rp);
  const registryCredentials: Record<string, RegistryCredential> = {};
  let minDockerVersion: string | undefined;
  let loggingOptions: string | undefined;
  if (settings) {
    const sp = pointerTo(rp, 'settings');
    problems.onlyKeys(settings, sp, ['minDockerVersion', 'loggingOptions', 'registryCredentials'], 'runtime settings');
    minDockerVersion = problems.string(settings, 'minDockerVersion', sp, false);
    loggingOptions = problems.string(settings, 'loggingOptions', sp, false);
    const creds = problems.object(settings, 'registryCredentials', sp, false) ?? {};
    const cp = pointerTo(sp, 'registryCredentials');
    for (const [name, cred] of Object.entries(creds)) {
      const at = pointerTo(cp, name);
      if (!CREDENTIAL_NAME.test(name)) problems.add(at, `the credential name "${name}" may not hold '.', '$', '#' or spaces`);
      if (!isObject(cred)) {
        problems.add(at, `a registry credential is {"username", "password", "address"}, not ${describe(cred)}`);
        continue;
      }
      problems.onlyKeys(cred, at, ['username', 'password', 'address'], 'a registry credential');
      const username = problems.string(cred, 'username', at);
      const password = problems.string(cred, 'password', at);
      const address = problems.string(cred, 'address', at);
      if (address !== undefined && !/^\S+$/.test(address)) problems.add(pointerTo(at, 'address'), 'the registry address must be non-empty and hold no spaces');
      if (username !== undefined && password !== undefined && address !== undefined) registryCredentials[name] = { username, password, address };
    }
  }
  if (type === undefined || !settings) return undefined;
  return { type, minDockerVersion, loggingOptions, registryCredentials };
}

function readSystemModule(spec: JsonObject, p: string, isHub: boolean, problems: Problems): SystemModuleSpec | undefined {
  const allowed = isHub ? ['type', 'settings', 'env', 'status', 'restartPolicy', 'imagePullPolicy', 'startupOrder'] : ['type', 'settings', 'env', 'imagePullPolicy'];
  problems.onlyKeys(spec, p, allowed, isHub ? 'systemModules.edgeHub' : 'systemModules.edgeAgent');
  const type = problems.oneOf(spec, 'type', p, ['docker'] as const);
  const settingsObject = problems.object(spec, 'settings', p);
  const settings = settingsObject ? readSettings(settingsObject, pointerTo(p, 'settings'), problems) : undefined;
  const env = readEnv(spec, p, problems);
  const imagePullPolicy = problems.oneOf(spec, 'imagePullPolicy', p, PULL_POLICIES, false);
  const status = isHub ? problems.oneOf(spec, 'status', p, STATUSES) : undefined;
  const restartPolicy = isHub ? problems.oneOf(spec, 'restartPolicy', p, RESTART_POLICIES) : undefined;
  const startupOrder = isHub ? problems.integer(spec, 'startupOrder', p, 0, UINT32_MAX, false) : undefined;
  if (type === undefined || !settings || (isHub && (status === undefined || restartPolicy === undefined))) return undefined;
  return {
    type,
    settings,
    env,
    ...(status === undefined ? {} : { status }),
    ...(restartPolicy === undefined ? {} : { restartPolicy }),
    ...(imagePullPolicy === undefined ? {} : { imagePullPolicy }),
    ...(startupOrder === undefined ? {} : { startupOrder }),
  };
}

function readModule(id: string, spec: JsonObject, p: string, problems: Problems): ModuleSpec | undefined {
  problems.onlyKeys(spec, p, ['version', 'type', 'status', 'restartPolicy', 'env', 'settings', 'imagePullPolicy', 'startupOrder'], `module "${id}"`);
  const version = problems.string(spec, 'version', p, false);
  const type = problems.oneOf(spec, 'type', p, ['docker'] as const);
  const status = problems.oneOf(spec, 'status', p, STATUSES);
  const restartPolicy = problems.oneOf(spec, 'restartPolicy', p, RESTART_POLICIES);
  const startupOrder = problems.integer(spec, 'startupOrder', p, 0, UINT32_MAX, false);
  const imagePullPolicy = problems.oneOf(spec, 'imagePullPolicy', p, PULL_POLICIES, false);
  const env = readEnv(spec, p, problems);
  const settingsObject = problems.object(spec, 'settings', p);
  const settings = settingsObject ? readSettings(settingsObject, pointerTo(p, 'settings'), problems) : undefined;
  if (type === undefined || status === undefined || restartPolicy === undefined || !settings) return undefined;
  return { id, version, type, status, restartPolicy, startupOrder, imagePullPolicy, env, settings };
}

function readHub(desired: JsonObject, p: string, modules: readonly string[], problems: Problems): DeploymentManifest['hub'] | undefined {
  const minor = schemaMinor(desired, p, 3, '$edgeHub', problems);
  // 1.2 added mqttBroker (authorizations and bridges of the MQTT broker); Ferry accepts and ignores it.
  problems.onlyKeys(desired, p, ['schemaVersion', 'routes', 'storeAndForwardConfiguration', ...(minor !== undefined && minor >= 2 ? ['mqttBroker'] : [])], '$edgeHub desired properties');
  const routesObject = problems.object(desired, 'routes', p);
  let routes: ManifestRoute[] = [];
  if (routesObject && minor !== undefined) routes = readRoutes(routesObject, pointerTo(p, 'routes'), minor, modules, problems);
  let timeToLiveSecs = DEFAULT_STORE_TTL_SECS;
  const sf = problems.object(desired, 'storeAndForwardConfiguration', p, false);
  if (sf) {
    const sp = pointerTo(p, 'storeAndForwardConfiguration');
    problems.onlyKeys(sf, sp, ['timeToLiveSecs'], 'storeAndForwardConfiguration');
    timeToLiveSecs = problems.integer(sf, 'timeToLiveSecs', sp, 1, UINT32_MAX) ?? DEFAULT_STORE_TTL_SECS;
  }
  if (minor === undefined || !routesObject) return undefined;
  return { schemaVersion: desired['schemaVersion'] as string, routes, storeAndForward: { timeToLiveSecs } };
}
