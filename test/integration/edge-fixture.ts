/**
 * Shared setup of the edge module tests: a models folder with the `linear` fixture model, deployment
 * manifests routing a hand-driven `sender` module through scorer modules to $upstream, a real SDK sender,
 * and the scorer module run as a child process with the environment a simulation gives its modules.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { deploymentDocument, parseDeploymentManifest } from '@ferry/deployment-manifests';
import type { DeploymentManifest, ModuleEntryOptions } from '@ferry/deployment-manifests';
import { DeviceModelStore } from '@ferry/module';
import type { Simulation } from '@ferry/simulator';
import { writeFixtureModels, type FixtureModels } from '@ferry/test';

export const FIXTURES = fileURLToPath(new URL('../fixtures/edge/', import.meta.url));
export const MAIN_JS = fileURLToPath(new URL('../../module/dist/edge/main.js', import.meta.url));

/** Writes the fixture models and stores `linear` as linear:1 in `<dir>/models`. */
export async function edgeModels(dir: string): Promise<{ fixtures: FixtureModels; modelsDir: string; cacheDir: string }> {
  const fixtures = await writeFixtureModels(join(dir, 'fixtures'));
  const modelsDir = join(dir, 'models');
  DeviceModelStore.writeModel(modelsDir, { name: 'linear', version: 1, path: fixtures.linear.path });
  const cacheDir = join(dir, 'cache');
  mkdirSync(cacheDir, { recursive: true });
  return { fixtures, modelsDir, cacheDir };
}

/** The env of a scorer module besides what the simulation gives it. */
export function scorerEnv(config: string, modelsDir: string, cacheDir: string): Record<string, string> {
  return { FERRY_MODULE_CONFIG: join(FIXTURES, config), FERRY_MODELS_DIR: modelsDir, FERRY_MODEL_CACHE: cacheDir, FERRY_LOG_LEVEL: 'info' };
}

/** A manifest with process modules `modules` (id -> env), `hand` modules (stopped: started by the test) and `routes`. */
export function edgeManifest(modules: Record<string, Record<string, string>>, routes: Record<string, string>, hand: readonly string[] = ['sender']): DeploymentManifest {
  const doc = deploymentDocument({
    modules: Object.fromEntries([
      ...Object.entries(modules).map(([id, env], i): [string, ModuleEntryOptions] => [id, { restartPolicy: 'on-failure', startupOrder: i + 1, env }]),
      ...hand.map((id): [string, ModuleEntryOptions] => [id, { status: 'stopped', restartPolicy: 'never' }]),
    ]),
    routes,
  });
  return parseDeploymentManifest(doc);
}

/** The solution map running every module id as the scorer process. */
export function scorerSolution(ids: readonly string[]): ReadonlyMap<string, { command: readonly string[]; cwd: string }> {
  return new Map(ids.map((id) => [id, { command: [process.execPath, MAIN_JS], cwd: FIXTURES }]));
}

/** A hand-started module (the real SDK) that sends on its outputs, connected with the simulation's credentials. */
export async function handModule(sim: Simulation, moduleId: string): Promise<device.ModuleClient> {
  const cred = sim.moduleCredentials(moduleId);
  const client = device.ModuleClient.fromConnectionString(cred.EdgeHubConnectionString, deviceMqtt.Mqtt);
  client.setOptions({ ca: readFileSync(cred.EdgeModuleCACertificateFile, 'utf8') });
  await client.open();
  return client;
}

export interface SendOptions {
  contentType?: string;
  contentEncoding?: string;
  messageId?: string;
  properties?: Record<string, string>;
}

export async function send(client: device.ModuleClient, output: string, body: Buffer | string, o: SendOptions = {}): Promise<void> {
  const m = new device.Message(body);
  // The SDK types name a few values; the wire takes any string, which the bad-input tests need.
  const loose = m as unknown as { contentType?: string; contentEncoding?: string };
  if (o.contentType !== undefined) loose.contentType = o.contentType;
  if (o.contentEncoding !== undefined) loose.contentEncoding = o.contentEncoding;
  if (o.messageId !== undefined) m.messageId = o.messageId;
  for (const [k, v] of Object.entries(o.properties ?? {})) m.properties.add(k, v);
  await client.sendOutputEvent(output, m);
}

export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The simulation's module states and each module's last log lines, for a timeout's message. */
export async function simulationReport(sim: Simulation, moduleIds: readonly string[], lines = 20): Promise<string> {
  const parts = [`status ${JSON.stringify(sim.status().modules)}`];
  for (const id of moduleIds) {
    const got: string[] = [];
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 300);
    try {
      for await (const l of sim.logs(id, { follow: false, signal: abort.signal })) got.push(JSON.stringify(l));
    } catch { /* aborted, or no such module */ }
    clearTimeout(timer);
    parts.push(`${id} log:\n${got.slice(-lines).join('\n')}`);
  }
  return parts.join('\n');
}

export interface ModuleProcess {
  child: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the scorer module as a child process with `env` (credentials included). */
export function spawnModule(env: Record<string, string>): ModuleProcess {
  const child = spawn(process.execPath, [MAIN_JS], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      logs.push({ text: line });
    }
  });
  child.stderr?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, logs, exited };
}

/** The environment a simulation gives a module on the connection-string path (PROTOCOLS.md §1). */
export function connectionEnv(sim: Simulation, moduleId: string): Record<string, string> {
  const cred = sim.moduleCredentials(moduleId);
  return { EdgeHubConnectionString: cred.EdgeHubConnectionString, EdgeModuleCACertificateFile: cred.EdgeModuleCACertificateFile, IOTEDGE_MODULEID: moduleId };
}
