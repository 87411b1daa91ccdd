/**
 * Issue 4 §1, §2, §6: the scorer module as a child process of the test (so it outlives simulations):
 * started before edgeHub listens (it retries), the workload API path, a simulation restarted under it
 * (it reconnects, nothing lost), SIGKILL mid-stream (at-least-once: every input answered after a
 * restart, duplicates allowed) and SIGTERM with messages in flight (they finish, exit 0, nothing lost).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type device from 'azure-iot-device';
import { Simulation } from '@ferry/simulator';
import type { CloudMessage } from '@ferry/simulator';
import type { DeploymentManifest } from '@ferry/deployment-manifests';
import { freePort, ortRun, type FixtureModels } from '@ferry/test';
import { FIXTURES, connectionEnv, edgeManifest, edgeModels, handModule, scorerEnv, send, spawnModule, until, type ModuleProcess } from './edge-fixture.js';

let dir: string;
let fixtures: FixtureModels;
let port: number;
let manifest: DeploymentManifest;
let env: Record<string, string>;
let sim: Simulation | undefined;
let sender: device.ModuleClient | undefined;
const modules: ModuleProcess[] = [];
/** correlationId -> how many answers reached $upstream, over every simulation run. */
const answers = new Map<string, number>();


async function startSim(): Promise<Simulation> {
  const s = await Simulation.start({ workspace: join(dir, 'ws'), name: 'edge-resilience', manifest, mqttPort: port, httpsPort: null, dashboardPort: null, stopGraceMs: 3000 });
  s.onUpstream((m: CloudMessage) => {
    const id = m.systemProperties['correlationId'];
    if (id !== undefined) answers.set(id, (answers.get(id) ?? 0) + 1);
  });
  return s;
}

function answered(ids: readonly string[]): number {
  return ids.filter((id) => (answers.get(id) ?? 0) > 0).length;
}

async function sendBurst(prefix: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await Promise.all(ids.map((id, i) => send(sender as device.ModuleClient, 'toScorer', JSON.stringify({ data: [[i % 5, 1, 2, 3]] }), { contentType: 'application/json', messageId: id })));
  return ids;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-edge-resilience-'));
  const models = await edgeModels(dir);
  fixtures = models.fixtures;
  port = await freePort();
  // Every module here is started by the test, so the manifest runs none of them.
  manifest = edgeManifest({}, {
    toScorer: 'FROM /messages/modules/sender/outputs/toScorer INTO BrokeredEndpoint("/modules/scorer/inputs/amlInput")',
    scorerUp: 'FROM /messages/modules/scorer/outputs/* INTO $upstream',
  }, ['sender', 'scorer']);
  // A first run makes the identities and the CA; the module then starts while nothing listens.
  const first = await startSim();
  env = { ...scorerEnv('scorer.yaml', models.modelsDir, models.cacheDir), ...connectionEnv(first, 'scorer') };
  await first.stop();
});

afterAll(async () => {
  for (const m of modules) if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
  await sender?.close().catch(() => undefined);
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function startModule(extra: Record<string, string> = {}): ModuleProcess {
  const m = spawnModule({ ...env, ...extra });
  modules.push(m);
  return m;
}

describe('the edge module survives edgeHub and itself going away', () => {
  it('started before edgeHub listens, it retries with backoff and connects once the simulation is up', async () => {
    const m = startModule();
    await until(() => m.logs.filter((l) => l['code'] === 'FERRY_E_EDGE_CONNECT_FAILED').length >= 2, 20_000, 'two failed connects');
    sim = await startSim();
    await until(() => m.logs.some((l) => l['msg'] === 'connected to edgeHub'), 20_000, 'the module connected');
    sender = await handModule(sim, 'sender');
    const ids = await sendBurst('first', 20);
    await until(() => answered(ids) === ids.length, 20_000, 'answers');
  });

  it('reconnects when the simulation restarts under it, and loses nothing sent around the restart', async () => {
    const before = await sendBurst('before-restart', 100);
    await (sim as Simulation).stop();
    sim = await startSim();
    const after = await sendBurst('after-restart', 50);
    await until(() => answered([...before, ...after]) === before.length + after.length, 40_000, 'every message answered after the restart');
  });

  it('SIGKILL mid-stream: restarted, every input is answered (at-least-once, duplicates allowed)', async () => {
    const [running] = modules.slice(-1) as [ModuleProcess];
    const ids = Array.from({ length: 600 }, (_, i) => `kill-${i}`);
    const sending = Promise.all(ids.map((id, i) => send(sender as device.ModuleClient, 'toScorer', JSON.stringify({ data: [[i % 7, 0, 1, 2]] }), { contentType: 'application/json', messageId: id })));
    await until(() => answered(ids) >= 50, 20_000, 'the first answers');
    running.child.kill('SIGKILL');
    await running.exited;
    const seenAtKill = answered(ids);
    expect(seenAtKill).toBeLessThan(ids.length);
    await sending;
    const restarted = startModule();
    await until(() => answered(ids) === ids.length, 40_000, 'every input answered after the restart');
    expect(restarted.child.exitCode).toBeNull();
  });

  it('SIGTERM with messages in flight: they finish, the module exits 0, and the rest is scored after a restart without duplicates', async () => {
    const [running] = modules.slice(-1) as [ModuleProcess];
    await until(() => running.logs.some((l) => l['msg'] === 'ready'), 20_000, 'the module ready');
    const ids = Array.from({ length: 400 }, (_, i) => `term-${i}`);
    const sending = Promise.all(ids.map((id, i) => send(sender as device.ModuleClient, 'toScorer', JSON.stringify({ data: [[i % 3, 1, 0, 2]] }), { contentType: 'application/json', messageId: id })));
    await until(() => answered(ids) >= 20, 20_000, 'the first answers');
    running.child.kill('SIGTERM');
    const exit = await running.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const draining = running.logs.find((l) => l['msg'] === 'stopping: finishing messages in flight');
    expect(draining?.['inFlight']).toBeGreaterThan(0);
    await sending;
    startModule();
    await until(() => answered(ids) === ids.length, 40_000, 'every input answered after the restart');
    await new Promise((r) => setTimeout(r, 500));
    expect(ids.filter((id) => (answers.get(id) ?? 0) > 1)).toEqual([]);
  });

  it('connects through the workload API (IOTEDGE_* only, no connection string) and serves its HTTP endpoint', async () => {
    const s = sim as Simulation;
    const status = s.status();
    const workload = {
      IOTEDGE_WORKLOADURI: status.workloadUri, IOTEDGE_DEVICEID: status.deviceId, IOTEDGE_MODULEID: 'scorer',
      IOTEDGE_IOTHUBHOSTNAME: status.hubHostName, IOTEDGE_GATEWAYHOSTNAME: status.gatewayHostName, IOTEDGE_AUTHSCHEME: 'sasToken',
      IOTEDGE_MODULEGENERATIONID: s.identities.ensureModule('scorer').generationId,
    };
    for (const m of modules) if (m.child.exitCode === null) m.child.kill('SIGTERM');
    await Promise.all(modules.map((m) => m.exited));
    const { EdgeHubConnectionString: _cs, EdgeModuleCACertificateFile: _ca, ...rest } = env;
    const m = spawnModule({ ...rest, ...workload, EdgeHubConnectionString: '', EdgeModuleCACertificateFile: '', FERRY_MODULE_CONFIG: join(FIXTURES, 'scorer-http.yaml') });
    modules.push(m);
    await until(() => m.logs.some((l) => l['msg'] === 'connected to edgeHub'), 20_000, 'connected through the workload API');
    const ids = await sendBurst('workload', 10);
    await until(() => answered(ids) === ids.length, 20_000, 'answers');

    // The same model behind the module's HTTP endpoint (edge.http), with the routes of `ferry serve`.
    const url = m.logs.find((l) => l['msg'] === 'http endpoint listening')?.['url'] as string;
    expect(await (await fetch(`${url}/`)).text()).toBe('Healthy');
    const row = [1, -0.5, 0.25, 2];
    const res = await fetch(`${url}/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [row] }) });
    expect(res.status).toBe(200);
    const expected = await ortRun(fixtures.linear.path, { data: { type: 'float32', dims: [1, 4], data: row } });
    const body = (await res.json()) as { scores: number[][] };
    (body.scores[0] as number[]).forEach((v, j) => expect(v).toBeCloseTo(((expected['scores']?.value as number[][])[0] as number[])[j] as number, 5));
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^# (HELP|TYPE) /m);
  });
});
