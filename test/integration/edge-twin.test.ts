/**
 * Issue 4 §3 and §6 with the real module process (`node module/dist/edge/main.js`) in a real
 * Simulation and the real SDK: a twin-driven model swap while messages stream through edgeHub (no
 * message lost, every result's body is what onnxruntime computes with the version it names, and every
 * message sent after the swap was reported is scored by the new version), an unknown version reported
 * as an error while the running model keeps scoring, throttled reported properties, and the direct
 * methods through `Simulation.invoke`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import device from 'azure-iot-device';
import type { ModuleClient } from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { parseDeploymentManifest } from '@ferry/deployment-manifests';
import { DeviceModelStore, buildOnnxModel } from '@ferry/module';
import { Simulation } from '@ferry/simulator';
import type { CloudMessage } from '@ferry/simulator';
import { ortRun, seededRandom } from '@ferry/test';

const MAIN = fileURLToPath(new URL('../../module/dist/edge/main.js', import.meta.url));
const TOTAL = 600;
let ws: string;
let sim: Simulation;
let feeder: ModuleClient;
const rows: number[][] = [];
const expected = new Map<number, number[][]>();
const upstream: CloudMessage[] = [];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function waitFor<T>(what: string, get: () => T | undefined | false, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
type Reported = { model?: { name: string; version: number; sha256: string | null }; status?: { state: string; code: string | null }; counters?: { in: number; out: number; errors: number }; desired?: { version: number | null }; versions?: Record<string, string>; latency?: { p50Ms: number | null } };
const reported = (): Reported => (sim.twin('scorer') as unknown as { reported: Reported }).reported;

function linear(seed: number): Uint8Array {
  const rand = seededRandom(seed);
  const grid = (n: number): number[] => Array.from({ length: n }, () => Math.round((rand() * 4 - 2) * 8) / 8);
  return buildOnnxModel({
    graphName: `lin_${seed}`,
    inputs: [{ name: 'x', elementType: 'float32', shape: ['batch', 4] }],
    outputs: [{ name: 'y', elementType: 'float32', shape: ['batch', 2] }],
    initializers: [{ name: 'W', elementType: 'float32', dims: [4, 2], data: grid(8) }, { name: 'B', elementType: 'float32', dims: [2], data: grid(2) }],
    nodes: [{ opType: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] }, { opType: 'Add', inputs: ['xw', 'B'], outputs: ['y'] }],
  });
}

beforeAll(async () => {
  ws = mkdtempSync(join(tmpdir(), 'ferry-edge-twin-'));
  const rand = seededRandom(5);
  for (let i = 0; i < TOTAL; i++) rows.push(Array.from({ length: 4 }, () => Math.round((rand() * 8 - 4) * 8) / 8));
  for (const [version, seed] of [[1, 101], [2, 202]] as const) {
    const file = join(ws, `lin-${version}.onnx`);
    writeFileSync(file, linear(seed));
    DeviceModelStore.writeModel(join(ws, 'models'), { name: 'lin', version, path: file });
    expected.set(version, (await ortRun(file, { x: { type: 'float32', dims: [TOTAL, 4], data: rows.flat() } }))['y']!.value as number[][]);
  }
  writeFileSync(join(ws, 'scorer.json'), JSON.stringify({ name: 'edge-lin', models: ['lin:1'], runtime: { workers: 1 }, edge: { reportIntervalMs: 300 } }));

  const module = (id: string, status: string, startupOrder: number): object => ({
    version: '1.0', type: 'docker', status, restartPolicy: 'always', startupOrder, settings: { image: `example/${id}:1.0`, createOptions: '{}' },
  });
  const manifest = parseDeploymentManifest({
    modulesContent: {
      $edgeAgent: { 'properties.desired': {
        schemaVersion: '1.1', runtime: { type: 'docker', settings: { minDockerVersion: 'v1.25' } },
        systemModules: { edgeAgent: { type: 'docker', settings: { image: 'mcr.microsoft.com/azureiotedge-agent:1.5' } }, edgeHub: { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: 'mcr.microsoft.com/azureiotedge-hub:1.5' } } },
        modules: { scorer: module('scorer', 'running', 1), feeder: module('feeder', 'stopped', 2) },
      } },
      $edgeHub: { 'properties.desired': { schemaVersion: '1.1', routes: {
        toScorer: 'FROM /messages/modules/feeder/outputs/out INTO BrokeredEndpoint("/modules/scorer/inputs/amlInput")',
        results: 'FROM /messages/modules/scorer/outputs/* INTO $upstream',
      }, storeAndForwardConfiguration: { timeToLiveSecs: 7200 } } },
    },
  });
  sim = await Simulation.start({
    workspace: ws, name: 'edge-twin', manifest, mqttPort: 0, httpsPort: null, dashboardPort: null, stopGraceMs: 5000,
    solution: new Map([['scorer', { command: [process.execPath, MAIN], cwd: ws }]]),
    baseEnv: { ...process.env, FERRY_MODULE_CONFIG: join(ws, 'scorer.json'), FERRY_MODELS_DIR: join(ws, 'models'), FERRY_MODEL_CACHE: join(ws, 'cache'), FERRY_LOG_LEVEL: 'warn' },
  });
  sim.onUpstream((m) => upstream.push(m));
  const cred = sim.moduleCredentials('feeder');
  feeder = device.ModuleClient.fromConnectionString(cred.EdgeHubConnectionString, deviceMqtt.Mqtt);
  await feeder.setOptions({ ca: (await import('node:fs')).readFileSync(cred.EdgeModuleCACertificateFile, 'utf8') });
  await feeder.open();
  try {
    await waitFor('the scorer to report ready', () => reported().status?.state === 'ready' && reported().model?.version === 1);
  } catch (e) {
    const lines: string[] = [];
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    try {
      for await (const l of sim.logs('scorer', { follow: false, signal: abort.signal })) lines.push(JSON.stringify(l));
    } catch { /* aborted */ }
    throw new Error(`${(e as Error).message}; status ${JSON.stringify(sim.status().modules)}; twin ${JSON.stringify(sim.twin('scorer'))}; logs ${lines.slice(-20).join('\n')}`);
  }
}, 60_000);

afterAll(async () => {
  await feeder?.close().catch(() => undefined);
  await sim?.stop();
  rmSync(ws, { recursive: true, force: true });
});

function send(i: number): Promise<unknown> {
  const msg = new device.Message(JSON.stringify({ x: [rows[i]] }));
  msg.messageId = `m-${i}`;
  msg.contentType = 'application/json';
  msg.contentEncoding = 'utf-8';
  return feeder.sendOutputEvent('out', msg);
}

describe('the scorer module: twin and methods', () => {
  it('swaps the model by twin under load: none lost, each result from the version it names', async () => {
    const sentAfterSwapReported = new Set<number>();
    let swapReported = false;
    let swapAsked = false;
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < TOTAL; i++) {
      if (i === 200) {
        swapAsked = true;
        void sim.patchTwin('scorer', { model: 'lin:2' });
      }
      if (swapAsked && !swapReported && reported().model?.version === 2) swapReported = true;
      if (swapReported) sentAfterSwapReported.add(i);
      pending.push(send(i));
      if (i % 10 === 9) await sleep(10); // about 600 messages/s in bursts
      if (pending.length >= 32) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    await waitFor('every result upstream', () => new Set(upstream.filter((m) => m.properties['modelVersion']).map((m) => m.systemProperties['correlationId'])).size >= TOTAL);

    const byVersion = new Map<number, number>();
    const seen = new Set<string>();
    for (const m of upstream) {
      const cid = m.systemProperties['correlationId'] ?? '';
      if (!cid.startsWith('m-')) continue;
      const i = Number(cid.slice(2));
      const version = Number(m.properties['modelVersion']);
      expect(m.properties['modelName']).toBe('lin');
      expect((JSON.parse(m.body.toString()) as { y: number[][] }).y[0], `${cid} scored by lin:${version}`).toEqual(expected.get(version)![i]);
      if (sentAfterSwapReported.has(i)) expect(version, cid).toBe(2);
      if (!seen.has(cid)) byVersion.set(version, (byVersion.get(version) ?? 0) + 1);
      seen.add(cid);
    }
    expect(seen.size).toBe(TOTAL);
    // How many lin:1 scored is timing: the 200 sent before the patch may still wait in edgeHub's queue when
    // lin:2 is ready, and those are then rightly scored by lin:2. Both versions scored some.
    expect(byVersion.get(1) ?? 0).toBeGreaterThan(0);
    expect(byVersion.get(2) ?? 0).toBeGreaterThan(0);
    expect(sentAfterSwapReported.size).toBeGreaterThan(0);
    const r = await waitFor('counters', () => (reported().counters?.out ?? 0) >= TOTAL && reported());
    expect(r.counters).toMatchObject({ in: TOTAL, out: TOTAL, errors: 0 });
    expect(r.model).toMatchObject({ name: 'lin', version: 2, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(r.versions).toMatchObject({ onnxruntime: '1.30.0' });
    expect(r.latency?.p50Ms).toBeGreaterThan(0);
  });

  it('reports an unknown version as an error while the running model keeps scoring', async () => {
    const t = await sim.patchTwin('scorer', { model: 'lin:9' });
    const version = (t as unknown as { desired: { $version: number } }).desired.$version;
    const r = await waitFor('the failure reported', () => reported().desired?.version === version && reported().status?.state === 'error' && reported());
    expect(r.status).toMatchObject({ state: 'error', code: 'FERRY_E_MODEL_NOT_FOUND' });
    expect(r.model).toMatchObject({ version: 2 });
    const res = await sim.invoke('scorer', 'score', { x: [rows[0]] });
    expect(res).toEqual({ status: 200, payload: { y: [expected.get(2)![0]] } });
    const health = await sim.invoke('scorer', 'health', null);
    expect(health.payload).toMatchObject({ state: 'error', code: 'FERRY_E_MODEL_NOT_FOUND', model: { name: 'lin', version: 2 } });
    // Back to version 1 by removing the desired model (the module config's model).
    await sim.patchTwin('scorer', { model: null });
    await waitFor('back on version 1', () => reported().model?.version === 1 && reported().status?.state === 'ready');
    expect((await sim.invoke('scorer', 'score', { x: [rows[1]] })).payload).toEqual({ y: [expected.get(1)![1]] });
  });

  it('answers the direct methods', async () => {
    expect(await sim.invoke('scorer', 'score', [1, 2])).toMatchObject({ status: 400, payload: { code: 'FERRY_E_EDGE_METHOD_PAYLOAD_INVALID' } });
    expect(await sim.invoke('scorer', 'score', { x: 'nope' })).toMatchObject({ status: 400, payload: { code: 'FERRY_E_REQUEST_INVALID' } });
    const stats = await sim.invoke('scorer', 'stats', null);
    expect(stats.status).toBe(200);
    expect(stats.payload).toMatchObject({ model: 'lin:1', out: expect.any(Number), p99Ms: expect.any(Number) });
    expect((stats.payload as { in: number }).in).toBeGreaterThanOrEqual(TOTAL + 2);
    expect(await sim.invoke('scorer', 'setLogLevel', { level: 'loud' })).toMatchObject({ status: 400, payload: { code: 'FERRY_E_EDGE_LOG_LEVEL_INVALID' } });
    expect(await sim.invoke('scorer', 'setLogLevel', { level: 'debug' })).toEqual({ status: 200, payload: { level: 'debug' } });
    expect(await sim.invoke('scorer', 'setLogLevel', 'warn')).toEqual({ status: 200, payload: { level: 'warn' } });
    expect(await sim.invoke('scorer', 'reload', null)).toMatchObject({ status: 200, payload: { state: 'ready', model: { name: 'lin', version: 1 } } });
    expect((await sim.invoke('scorer', 'score', { x: [rows[2]] })).payload).toEqual({ y: [expected.get(1)![2]] });
  });
});
