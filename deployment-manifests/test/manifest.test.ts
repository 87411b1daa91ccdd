/** Deployment manifests: the examples, every rule with the JSON pointer of what breaks it. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDeploymentManifest, parseDeploymentManifestText } from '../src/manifest/parse-manifest.js';
import type { ManifestProblem } from '../src/manifest/manifest-types.js';
import { isFerryError } from '../src/errors.js';
import { parseRouteMessage } from '../src/routes/message.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const example = (name: string): Json => JSON.parse(readFileSync(new URL(`../examples/${name}`, import.meta.url), 'utf8')) as Json;
const HUB = '/modulesContent/$edgeHub/properties.desired';
const AGENT = '/modulesContent/$edgeAgent/properties.desired';

/** The manifest's error, asserting its code. */
function problemsOf(json: unknown): { pointer: string; line?: number; column?: number; errors: ManifestProblem[]; message: string } {
  try {
    parseDeploymentManifest(json, 'test.json');
  } catch (e) {
    if (!isFerryError(e)) throw e;
    expect(e.code).toBe('FERRY_E_MANIFEST_INVALID');
    expect(e.status).toBe(400);
    return { ...(e.details as { pointer: string; line?: number; column?: number; errors: ManifestProblem[] }), message: e.message };
  }
  throw new Error('the manifest was accepted');
}

function pointersOf(json: unknown): string[] {
  return problemsOf(json).errors.map((p) => p.pointer);
}

describe('the examples', () => {
  it('sensor -> scorer -> upstream (schema 1.1, priorities, TTLs, chunked create options, twins)', () => {
    const m = parseDeploymentManifest(example('sensor-scorer.deployment.json'));
    expect(m.modules.map((x) => x.id)).toEqual(['sensor', 'scorer']);
    const scorer = m.modules[1]!;
    expect(scorer).toMatchObject({ version: '0.3.0', status: 'running', restartPolicy: 'on-failure', startupOrder: 2, imagePullPolicy: undefined });
    expect(scorer.env).toEqual({ FERRY_MODEL: 'defect-classifier:3', FERRY_BATCH: 8, FERRY_VERBOSE: false });
    expect(scorer.settings.image).toBe('ferrycr.azurecr.io/scorer:0.3.0-amd64');
    // Two chunks joined, then parsed.
    expect(scorer.settings.createOptionsText!.length).toBeGreaterThan(512);
    expect(scorer.settings.createOptions).toMatchObject({ HostConfig: { Binds: ['/var/ferry/models:/models:ro', '/var/ferry/scorer-cache:/cache'], Memory: 536870912 } });
    expect(m.modules[0]!.settings.createOptions).toEqual({});
    expect(m.agent.runtime.registryCredentials).toEqual({ ferrycr: { username: 'ferrycr', password: '$CONTAINER_REGISTRY_PASSWORD', address: 'ferrycr.azurecr.io' } });
    expect(m.agent.systemModules.edgeHub.settings.createOptions).toMatchObject({ HostConfig: { PortBindings: { '8883/tcp': [{ HostPort: '8883' }] } } });
    expect(m.hub.storeAndForward.timeToLiveSecs).toBe(7200);
    expect(m.hub.routes.map((r) => [r.name, r.priority, r.timeToLiveSecs])).toEqual([
      ['sensorToScorer', 1, 600],
      ['alertsToCloud', 0, 86400],
      ['scoresToCloud', 5, 3600],
      ['sensorToCloud', 9, undefined], // a string route: the lowest priority, storeAndForward's TTL
    ]);
    expect(m.hub.routes[0]!.compiled.sink).toEqual({ kind: 'module-input', module: 'scorer', input: 'amlInput' });
    expect(m.hub.routes[3]!.pointer).toBe(`${HUB}/routes/sensorToCloud`);
    const alert = parseRouteMessage({ properties: { severity: 'critical' }, systemProperties: { connectionDeviceId: 'd', connectionModuleId: 'scorer', outputName: 'amlOutput' } });
    expect(m.hub.routes[1]!.compiled.evaluate(alert)).toBe('true');
    expect(m.twins).toEqual({ scorer: { threshold: 0.8, labels: { 0: 'ok', 1: 'defect' } }, sensor: { SendData: true, SendInterval: 1 } });
  });

  it('a schema 1.0 manifest with string routes', () => {
    const m = parseDeploymentManifest(example('filter-legacy-1.0.deployment.json'));
    expect(m.hub.schemaVersion).toBe('1.0');
    expect(m.hub.routes.map((r) => r.compiled.endpoint)).toEqual(['$upstream', 'BrokeredEndpoint("/modules/filter/inputs/input1")']);
    expect(m.agent.systemModules.edgeAgent.settings.createOptionsText).toBe('');
    expect(m.twins).toEqual({});
  });

  it('an IoT Hub deployment wrapping the manifest in "content"; storeAndForward defaults to 7200 s', () => {
    const json = example('filter-legacy-1.0.deployment.json');
    delete json.modulesContent.$edgeHub['properties.desired'].storeAndForwardConfiguration;
    const m = parseDeploymentManifest({ content: json });
    expect(m.hub.storeAndForward.timeToLiveSecs).toBe(7200);
    json.modulesContent.$edgeHub['properties.desired'].routes.bad = 'FROM /messages/* INTO $downstream';
    expect(pointersOf({ content: json })).toEqual([`/content${HUB}/routes/bad`]);
  });
});

describe('routes', () => {
  it('refuses a route to a module the manifest does not have, with its pointer, line and column', () => {
    const json = example('sensor-scorer.deployment.json');
    json.modulesContent.$edgeHub['properties.desired'].routes.toScorer = {
      route: 'FROM /messages/modules/sensor/outputs/temperatureOutput\n  INTO BrokeredEndpoint("/modules/scorrer/inputs/amlInput")',
      priority: 2,
    };
    const p = problemsOf(json);
    expect(p.pointer).toBe(`${HUB}/routes/toScorer/route`);
    expect([p.line, p.column]).toEqual([2, 35]); // the 's' of "scorrer"
    expect(p.errors).toHaveLength(1);
    expect(p.message).toContain('scorrer');
  });

  it('refuses a route from an unknown module (source names match ignoring case)', () => {
    const json = example('filter-legacy-1.0.deployment.json');
    const routes = json.modulesContent.$edgeHub['properties.desired'].routes;
    routes.fromCamera = 'FROM /messages/modules/camera/outputs/* INTO $upstream';
    routes.caseless = 'FROM /messages/modules/TEMPSENSOR/* INTO $upstream';
    const p = problemsOf(json);
    expect(p.errors.map((e) => [e.pointer, e.line, e.column])).toEqual([[`${HUB}/routes/fromCamera`, 1, 24]]);
  });

  it('refuses a route that does not compile, with the line and column inside the route', () => {
    const json = example('sensor-scorer.deployment.json');
    json.modulesContent.$edgeHub['properties.desired'].routes.hot = { route: "FROM /messages/* WHERE temp > 30\nINTO $upstream", priority: 0 };
    const p = problemsOf(json);
    expect(p.pointer).toBe(`${HUB}/routes/hot/route`);
    expect(p.line).toBe(1);
    expect(p.column).toBeGreaterThanOrEqual(24);
  });

  it('route objects need schema 1.1; priority 0-9; TTL an integer; names without . $ # or spaces', () => {
    const legacy = example('filter-legacy-1.0.deployment.json');
    legacy.modulesContent.$edgeHub['properties.desired'].routes.obj = { route: 'FROM /messages/* INTO $upstream' };
    expect(pointersOf(legacy)).toEqual([`${HUB}/routes/obj`]);

    const json = example('sensor-scorer.deployment.json');
    const routes = json.modulesContent.$edgeHub['properties.desired'].routes;
    routes.p10 = { route: 'FROM /messages/* INTO $upstream', priority: 10 };
    routes.ttl = { route: 'FROM /messages/* INTO $upstream', timeToLiveSecs: 1.5 };
    routes.extra = { route: 'FROM /messages/* INTO $upstream', Priority: 1 };
    routes.none = { priority: 1 };
    routes['a.b'] = 'FROM /messages/* INTO $upstream';
    routes['a/b'] = 7;
    expect(pointersOf(json)).toEqual([
      `${HUB}/routes/p10/priority`,
      `${HUB}/routes/ttl/timeToLiveSecs`,
      `${HUB}/routes/extra/Priority`,
      `${HUB}/routes/none/route`,
      `${HUB}/routes/a.b`,
      `${HUB}/routes/a~1b`,
    ]);
  });

  it('a route TTL of 0 means "use storeAndForward\'s", as in iotedge; schema 1.2/1.3 and 1.1.0 are read', () => {
    const json = example('sensor-scorer.deployment.json');
    const hub = json.modulesContent.$edgeHub['properties.desired'];
    hub.routes.zero = { route: 'FROM /messages/* INTO $upstream', timeToLiveSecs: 0 };
    hub.schemaVersion = '1.3';
    hub.mqttBroker = { authorizations: [] };
    const m = parseDeploymentManifest(json);
    expect(m.hub.routes.find((r) => r.name === 'zero')).toMatchObject({ priority: 9, timeToLiveSecs: undefined });
    hub.schemaVersion = '1.1.0';
    expect(pointersOf(json)).toEqual([`${HUB}/mqttBroker`]);
    delete hub.mqttBroker;
    expect(parseDeploymentManifest(json).hub.schemaVersion).toBe('1.1.0');
    hub.schemaVersion = '2.0';
    expect(pointersOf(json)).toEqual([`${HUB}/schemaVersion`]);
  });
});

describe('modules and the agent', () => {
  it('module ids, status, restart policy, startup order, image pull policy, env', () => {
    const json = example('sensor-scorer.deployment.json');
    const modules = json.modulesContent.$edgeAgent['properties.desired'].modules;
    modules['bad.id'] = structuredClone(modules.sensor);
    modules.sensor.status = 'paused';
    modules.sensor.restartPolicy = 'sometimes';
    modules.sensor.startupOrder = -1;
    modules.sensor.imagePullPolicy = 'always';
    modules.sensor.env['BAD NAME'] = { value: 'x' };
    modules.sensor.env.OBJ = { value: { a: 1 } };
    modules.sensor.type = 'process';
    modules.scorer.ports = [5001];
    delete modules.scorer.settings.image;
    expect(pointersOf(json)).toEqual([
      `${AGENT}/modules/sensor/type`,
      `${AGENT}/modules/sensor/status`,
      `${AGENT}/modules/sensor/restartPolicy`,
      `${AGENT}/modules/sensor/startupOrder`,
      `${AGENT}/modules/sensor/imagePullPolicy`,
      `${AGENT}/modules/sensor/env/BAD NAME`,
      `${AGENT}/modules/sensor/env/OBJ/value`,
      `${AGENT}/modules/scorer/ports`,
      `${AGENT}/modules/scorer/settings/image`,
      `${AGENT}/modules/bad.id`,
    ]);
  });

  it('create options: a JSON object string, chunks joined in order and without gaps', () => {
    const json = example('filter-legacy-1.0.deployment.json');
    const modules = json.modulesContent.$edgeAgent['properties.desired'].modules;
    modules.filter.settings = { image: 'f:1', createOptions: '{"HostConfig":', createOptions01: '{"Privileged":', createOptions02: 'true}}' };
    expect(parseDeploymentManifest(json).modules[0]!.settings.createOptions).toEqual({ HostConfig: { Privileged: true } });
    modules.filter.settings = { image: 'f:1', createOptions: '{"a":', createOptions02: '1}' };
    modules.tempSensor.settings = { image: 't:1', createOptions: { HostConfig: {} } };
    const p = problemsOf(json);
    expect(p.errors.map((e) => e.pointer)).toEqual([`${AGENT}/modules/filter/settings/createOptions02`, `${AGENT}/modules/tempSensor/settings/createOptions`]);
    expect(p.errors[1]!.message).toContain('JSON string');
    modules.filter.settings = { image: 'f:1', createOptions: '{"a": 1' };
    modules.tempSensor.settings = { image: 't:1', createOptions: '[1]', createOptions08: '' };
    expect(pointersOf(json)).toEqual([`${AGENT}/modules/filter/settings/createOptions`, `${AGENT}/modules/tempSensor/settings/createOptions08`, `${AGENT}/modules/tempSensor/settings/createOptions`]);
  });

  it('at most 50 modules', () => {
    const json = example('filter-legacy-1.0.deployment.json');
    const modules = json.modulesContent.$edgeAgent['properties.desired'].modules;
    for (let i = 0; i < 48; i++) modules[`m${i}`] = structuredClone(modules.filter);
    expect(parseDeploymentManifest(json).modules).toHaveLength(50);
    modules.m48 = structuredClone(modules.filter);
    expect(pointersOf(json)).toEqual([`${AGENT}/modules`]);
  });

  it('system modules, runtime and registry credentials follow the schema', () => {
    const json = example('sensor-scorer.deployment.json');
    const desired = json.modulesContent.$edgeAgent['properties.desired'];
    delete desired.systemModules.edgeHub.restartPolicy;
    desired.systemModules.edgeAgent.status = 'running'; // edgeAgent takes no status
    desired.runtime.settings.registryCredentials.ferrycr.address = 'ferry cr';
    desired.runtime.type = 'moby';
    desired.schemaVersion = '1.2';
    expect(pointersOf(json)).toEqual([
      `${AGENT}/schemaVersion`,
      `${AGENT}/runtime/type`,
      `${AGENT}/runtime/settings/registryCredentials/ferrycr/address`,
      `${AGENT}/systemModules/edgeAgent/status`,
      `${AGENT}/systemModules/edgeHub/restartPolicy`,
    ]);
  });

  it('module twins: ids, exactly properties.desired, at most 32 KB', () => {
    const json = example('sensor-scorer.deployment.json');
    const mc = json.modulesContent;
    mc['$weird'] = { 'properties.desired': {} };
    mc.scorer['properties.reported'] = {};
    mc.sensor['properties.desired'] = { blob: 'x'.repeat(33 * 1024) };
    expect(pointersOf(json)).toEqual(['/modulesContent/scorer/properties.reported', '/modulesContent/sensor/properties.desired', '/modulesContent/$weird']);
  });
});

describe('shape', () => {
  it('not an object, missing sections, unknown top-level keys, not JSON', () => {
    expect(pointersOf([])).toEqual(['']);
    expect(pointersOf({})).toEqual(['/modulesContent']);
    const json = example('filter-legacy-1.0.deployment.json');
    delete json.modulesContent.$edgeHub;
    json.extra = 1;
    expect(pointersOf(json)).toEqual(['/extra', '/modulesContent/$edgeHub']);
    try {
      parseDeploymentManifestText('{"modulesContent": ', 'deployment.json');
      expect.unreachable();
    } catch (e) {
      expect(isFerryError(e) && e.code).toBe('FERRY_E_MANIFEST_INVALID');
      expect((e as Error).message).toContain('deployment.json');
    }
  });
});
