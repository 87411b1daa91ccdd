/**
 * ManifestWatcher + Simulation.reload: the manifest file (and a layer) of a running simulation change; new routes
 * take effect, messages queued for an offline module input before the change are still delivered after it, twins
 * get the new desired properties, and an invalid change is reported (coded, positioned) while the simulation
 * keeps its manifest. Real SDK clients over TLS, real files and fs.watch.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import device from 'azure-iot-device';
import type { Message as MessageType } from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { deploymentDocument, readLayeredDeployment, type FerryError } from '@ferry/deployment-manifests';
import { ManifestWatcher } from '../src/solution/manifest-watch.js';
import { Simulation, type ManifestReloadResult } from '../src/solution/simulation.js';
import { until } from './broker-fixture.js';

const { ModuleClient, Message } = device;

let dir: string;
let sim: Simulation;
let watcher: ManifestWatcher;
const reloads: ManifestReloadResult[] = [];
const invalid: FerryError[] = [];
const clients: Array<InstanceType<typeof ModuleClient>> = [];

const deploymentFile = (): string => join(dir, 'deployment.json');
const layerFile = (): string => join(dir, 'layer.json');

function writeManifest(routes: Record<string, string>, modules: readonly string[] = ['sender', 'receiver']): void {
  const doc = deploymentDocument({ modules: Object.fromEntries(modules.map((m) => [m, {}])), routes });
  writeFileSync(deploymentFile(), JSON.stringify(doc, null, 2));
}

function writeLayer(threshold: number): void {
  writeFileSync(layerFile(), JSON.stringify({ modulesContent: { receiver: { 'properties.desired.threshold': threshold } } }, null, 2));
}

async function connect(moduleId: string): Promise<InstanceType<typeof ModuleClient>> {
  const client = ModuleClient.fromConnectionString(sim.moduleCredentials(moduleId).EdgeHubConnectionString, deviceMqtt.Mqtt);
  await client.setOptions({ ca: sim.certificates.caCertPem });
  await client.open();
  clients.push(client);
  return client;
}

async function send(client: InstanceType<typeof ModuleClient>, output: string, seq: number): Promise<void> {
  const m = new Message(JSON.stringify({ seq }));
  m.properties.add('seq', String(seq));
  await client.sendOutputEvent(output, m);
}

const IN1 = 'FROM /messages/modules/sender/outputs/a INTO BrokeredEndpoint("/modules/receiver/inputs/in1")';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-sim-watch-'));
  writeManifest({ toIn1: IN1 });
  writeLayer(1);
  sim = await Simulation.start({
    workspace: dir, name: 'watch', manifest: readLayeredDeployment(deploymentFile(), [layerFile()]), mqttPort: 0, httpsPort: null, stopGraceMs: 1000,
  });
  watcher = ManifestWatcher.watch(sim, { deployment: deploymentFile(), layers: [layerFile()], debounceMs: 100 });
  watcher.on('reloaded', (r) => reloads.push(r));
  watcher.on('invalid', (e) => invalid.push(e));
}, 30_000);

afterAll(async () => {
  watcher?.close();
  for (const c of clients) await c.close().catch(() => undefined);
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('manifest watch and reload', () => {
  it('a changed manifest file swaps the routes; messages queued for an offline input before the change still arrive', async () => {
    const sender = await connect('sender');
    for (let seq = 1; seq <= 5; seq++) await send(sender, 'a', seq);
    const in1 = (): number => sim.status().endpoints.find((e) => e.endpoint === '/modules/receiver/inputs/in1')?.pending ?? 0;
    await until(() => in1() === 5, 5000, 'five queued for the offline receiver');

    // The old route goes; a new one to the cloud and one to another input come.
    writeManifest({
      toCloud: 'FROM /messages/modules/sender/outputs/b INTO $upstream',
      toIn2: 'FROM /messages/modules/sender/outputs/a INTO BrokeredEndpoint("/modules/receiver/inputs/in2")',
    });
    await until(() => reloads.length === 1, 5000, 'a reload');
    expect([...reloads[0]!.routes].sort()).toEqual(['toCloud', 'toIn2']);
    expect(sim.router.routes.map((r) => r.name).sort()).toEqual(['toCloud', 'toIn2']);
    expect(in1()).toBe(5);

    await send(sender, 'b', 100);
    await until(() => sim.hub.received === 1, 5000, 'the new route to $upstream');
    expect(sim.hub.recent()[0]?.properties['seq']).toBe('100');
    await send(sender, 'a', 6);

    const received: Array<{ input: string; seq: string | undefined }> = [];
    const receiver = ModuleClient.fromConnectionString(sim.moduleCredentials('receiver').EdgeHubConnectionString, deviceMqtt.Mqtt);
    await receiver.setOptions({ ca: sim.certificates.caCertPem });
    clients.push(receiver);
    receiver.on('inputMessage', (input: string, m: MessageType) => {
      received.push({ input, seq: m.properties.getValue('seq') as string | undefined });
    });
    await receiver.open();
    await until(() => received.length >= 6, 10_000, 'queued and new messages at the receiver');
    expect(received.filter((r) => r.input === 'in1').map((r) => r.seq)).toEqual(['1', '2', '3', '4', '5']);
    expect(received.filter((r) => r.input === 'in2').map((r) => r.seq)).toEqual(['6']);
    await until(() => in1() === 0, 5000, 'retired endpoint drained');
  }, 30_000);

  it('a changed layer reaches the twin\'s desired properties', async () => {
    expect(sim.twin('receiver').desired['threshold']).toBe(1);
    writeLayer(7);
    await until(() => reloads.length === 2, 5000, 'a reload for the layer');
    expect(reloads[1]!.twinsSeeded).toContain('receiver');
    expect(sim.twin('receiver').desired['threshold']).toBe(7);
  });

  it('an invalid change is reported with its code and place; the simulation keeps the manifest it has', async () => {
    const before = sim.router.routes.map((r) => r.name).sort();
    writeManifest({ toCloud: 'FROM /messages/modules/sender/outputs/b WHERE INTO $upstream', broken2: 'FROM /messages/* INTO $upstream' });
    await until(() => invalid.length === 1, 5000, 'an invalid report');
    const e = invalid[0]!;
    expect(e.code).toBe('FERRY_E_MANIFEST_INVALID');
    expect(e.details?.['file']).toBe(deploymentFile());
    expect(e.details?.['filePointer']).toBe('/modulesContent/$edgeHub/properties.desired/routes/toCloud');
    expect(e.details?.['fileLine']).toBeGreaterThan(1);
    expect(reloads.length).toBe(2);
    expect(sim.router.routes.map((r) => r.name).sort()).toEqual(before);
    // Still routing with the old manifest.
    await send(clients[0]!, 'b', 101);
    await until(() => sim.hub.received === 2, 5000, 'routing still works');
  });

  it('adding and removing modules: an added module gets an identity, reported as added and removed', async () => {
    writeManifest({ toCloud: 'FROM /messages/modules/sender/outputs/b INTO $upstream' }, ['sender', 'extra']);
    await until(() => reloads.length === 3, 5000, 'a reload with other modules');
    expect(reloads[2]).toMatchObject({ added: ['extra'], removed: ['receiver'], routes: ['toCloud'] });
    expect(sim.identities.module('extra')).toBeDefined();
    expect(sim.manifest.modules.map((m) => m.id)).toEqual(['sender', 'extra']);
  });
});
