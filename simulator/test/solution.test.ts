/**
 * `Simulation` in-process with a two-module solution run as real node processes (the real SDK over real
 * TLS): sender -> receiver -> $upstream; status, logs, twins, methods and monitor through the control socket.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDeploymentManifestText } from '@ferry/deployment-manifests';
import { readFileSync } from 'node:fs';
import { Simulation, type SimulationStatus } from '../src/solution/simulation.js';
import { ControlClient } from '../src/solution/control-client.js';
import { readSolutionFile } from '../src/solution/solution-file.js';
import type { MonitorEvent } from '../src/solution/control-server.js';
import type { TwinProperties } from '../src/twins/twin-store.js';
import { until } from './broker-fixture.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/solution/', import.meta.url));
const SEND_COUNT = 5;

let workspace: string;
let sim: Simulation;
let control: ControlClient;

beforeAll(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'ferry-sim-solution-'));
  const manifest = parseDeploymentManifestText(readFileSync(join(FIXTURES, 'deployment.json'), 'utf8'));
  sim = await Simulation.start({
    workspace,
    name: 'unit',
    manifest,
    solution: readSolutionFile(join(FIXTURES, 'solution.json')),
    mqttPort: 0,
    httpsPort: 0,
    // no engine here: `camera` (a container module) shows FERRY_E_SIM_DOCKER_UNAVAILABLE even where CI runs one
    baseEnv: { ...process.env, SEND_COUNT: String(SEND_COUNT), DOCKER_HOST: 'unix:///nonexistent/ferry-no-docker.sock' },
    stopGraceMs: 3000,
  });
  control = ControlClient.forSimulation(workspace, 'unit');
});

afterAll(async () => {
  await sim?.stop();
  rmSync(workspace, { recursive: true, force: true });
});

/** A module's buffered output lines, through the control socket. */
async function logTexts(moduleId: string): Promise<string[]> {
  const out: string[] = [];
  await control.stream(`/logs/${moduleId}`, (l) => out.push((l as { text: string }).text));
  return out;
}

describe('Simulation', () => {
  it('routes the sender\'s outputs through the receiver to the local IoT Hub, properties kept', async () => {
    await until(() => sim.hub.recent({ moduleId: 'receiver' }).length >= SEND_COUNT, 30_000, 'upstream messages');
    const got = sim.hub.recent({ moduleId: 'receiver' });
    expect(got.map((m) => m.properties['seq']).sort()).toEqual(['1', '2', '3', '4', '5']);
    for (const m of got) {
      expect(m.properties['forwardedBy']).toBe('receiver');
      expect(m.properties['kind']).toBe('reading');
      expect(JSON.parse(m.body.toString()).seq).toBe(Number(m.properties['seq']));
    }
  });

  it('GET /status shows both process modules running and connected, the container failed, and route counts', async () => {
    await until(() => sim.status().modules.filter((m) => m.connected).length === 2, 15_000, 'both modules connected');
    const status = await control.request<SimulationStatus>('GET', '/status');
    const byId = new Map(status.modules.map((m) => [m.id, m]));
    expect(byId.get('sender')).toMatchObject({ kind: 'process', state: 'running', connected: true });
    expect(byId.get('receiver')).toMatchObject({ kind: 'process', state: 'running', connected: true });
    expect(byId.get('camera')).toMatchObject({ kind: 'container', state: 'failed', connected: false });
    expect(byId.get('camera')?.error?.code).toBe('FERRY_E_SIM_DOCKER_UNAVAILABLE');
    // startupOrder: receiver (1) before sender (2) before camera (3)
    expect(status.modules.map((m) => m.id)).toEqual(['receiver', 'sender', 'camera']);
    const routes = new Map(status.routes.map((r) => [r.name, r]));
    expect(routes.get('senderToReceiver')?.matched).toBe(SEND_COUNT);
    expect(routes.get('receiverToCloud')?.matched).toBe(SEND_COUNT);
    expect(status.upstreamReceived).toBeGreaterThanOrEqual(SEND_COUNT);
    expect(status.mqttPort).toBe(sim.broker.mqttPort);
    expect(status.gatewayHostName).toBe(`localhost:${sim.broker.mqttPort}`);
  });

  it('GET /logs/<module> returns the module\'s output', async () => {
    await until(() => sim.launcher.status().some((m) => m.id === 'sender' && m.state === 'running'), 5000);
    let texts: string[] = [];
    const end = Date.now() + 10_000;
    while (!texts.includes('done') && Date.now() < end) texts = await logTexts('sender');
    expect(texts).toEqual(expect.arrayContaining(['connected', 'sent 1', `sent ${SEND_COUNT}`, 'done']));
    expect(texts.indexOf('sent 1')).toBeLessThan(texts.indexOf(`sent ${SEND_COUNT}`));
  });

  it('GET /twins shows the seeded desired and the module\'s reported; PATCH reaches the module', async () => {
    await until(() => sim.twins.get('sender').reported['started'] === true, 10_000, 'reported started');
    const twin = await control.request<TwinProperties>('GET', '/twins/sender');
    expect(twin.desired['threshold']).toBe(0.5);
    expect(twin.reported['started']).toBe(true);
    const patched = await control.request<TwinProperties>('PATCH', '/twins/sender', { threshold: 0.75, mode: 'fast' });
    expect(patched.desired).toMatchObject({ threshold: 0.75, mode: 'fast' });
    expect(patched.desired.$version).toBeGreaterThan(twin.desired.$version);
    const end = Date.now() + 10_000;
    let seen: string | undefined;
    while (Date.now() < end && seen === undefined) {
      seen = (await logTexts('sender')).find((t) => t.startsWith('desired ') && t.includes('"mode":"fast"'));
      if (!seen) await new Promise((r) => setTimeout(r, 100));
    }
    expect(JSON.parse(seen!.slice('desired '.length))).toMatchObject({ threshold: 0.75, mode: 'fast' });
  });

  it('POST /methods calls the module\'s direct method and answers its status and payload', async () => {
    const result = await control.request('POST', '/methods/receiver/echo', { payload: { hello: 'world' }, timeoutSecs: 10, connectTimeoutSecs: 10 });
    expect(result).toEqual({ status: 200, payload: { echo: { hello: 'world' } } });
  });

  it('GET /monitor streams new upstream messages with their properties, filtered by module', async () => {
    const abort = new AbortController();
    const events: MonitorEvent[] = [];
    const streaming = control.stream('/monitor?module=receiver', (e) => {
      events.push(e as MonitorEvent);
      abort.abort();
    }, abort.signal);
    // a device-side message is not from module receiver: an upstream message injected through the hub itself
    await new Promise((r) => setTimeout(r, 200));
    await sim.hub.send([{ properties: { a: 'b' }, systemProperties: { connectionDeviceId: sim.identities.deviceId, connectionModuleId: 'other' }, body: Buffer.from('skip'), enqueuedAt: Date.now() }]);
    await sim.hub.send([{ properties: { n: '7' }, systemProperties: { connectionDeviceId: sim.identities.deviceId, connectionModuleId: 'receiver' }, body: Buffer.from('{"x":1}'), enqueuedAt: Date.now() }]);
    await streaming;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ moduleId: 'receiver', properties: { n: '7' }, body: '{"x":1}' });
  });

  it('GET /modulecred gives the connection string and CA file; unknown paths and modules are coded errors', async () => {
    const cred = await control.request<Record<string, string>>('GET', '/modulecred/debugged');
    expect(cred['EdgeHubConnectionString']).toBe(sim.identities.connectionString('debugged', sim.gatewayHostName));
    expect(cred['EdgeModuleCACertificateFile']).toBe(sim.certificates.caCertPath);
    await expect(control.request('GET', '/nothing')).rejects.toMatchObject({ code: 'FERRY_E_SIM_CONTROL_REQUEST_INVALID' });
    await expect(control.request('GET', '/twins/nosuch')).rejects.toMatchObject({ code: 'FERRY_E_SIM_MODULE_UNKNOWN' });
    await expect(control.request('GET', '/logs/nosuch')).rejects.toMatchObject({ code: 'FERRY_E_SIM_MODULE_UNKNOWN' });
  });

  it('refuses a second simulation of the same name; a name nobody runs is FERRY_E_SIM_NOT_RUNNING', async () => {
    const manifest = parseDeploymentManifestText(readFileSync(join(FIXTURES, 'deployment.json'), 'utf8'));
    await expect(Simulation.start({ workspace, name: 'unit', manifest, mqttPort: 0, httpsPort: 0 })).rejects.toMatchObject({ code: 'FERRY_E_SIM_ALREADY_RUNNING' });
    await expect(ControlClient.forSimulation(workspace, 'other').request('GET', '/status')).rejects.toMatchObject({ code: 'FERRY_E_SIM_NOT_RUNNING' });
  });
});
