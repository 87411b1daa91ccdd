/**
 * IotHubUpstream (`ferry simulate --iothub`) against a real MQTT IoT Hub endpoint: a second Simulation plays the
 * hub (its broker speaks IoT Hub's device MQTT; `FROM /messages/* INTO $upstream` there keeps what arrives in its
 * LocalIotHub). The first simulation's module sends through the real SDK; its `$upstream` goes through the real
 * SDK device Client to the second. Order, properties, and store-and-forward while the hub is away.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulation } from '../src/solution/simulation.js';
import { IotHubUpstream } from '../src/upstream/iothub-upstream.js';
import { until } from './broker-fixture.js';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { Message, manifest } from './router-fixture.js';

/** A module connected through the real SDK over TLS. */
async function connectModuleClient(connectionString: string, caPem: string): Promise<{ client: InstanceType<typeof device.ModuleClient>; close(): Promise<void> }> {
  const client = device.ModuleClient.fromConnectionString(connectionString, deviceMqtt.Mqtt);
  await client.setOptions({ ca: caPem });
  await client.open();
  return { client, close: async () => { await client.close(); } };
}

const HUB_DEVICE = 'cloud-side-device';

let workspace: string;
let cloud: Simulation;
let cloudPort: number;
let edge: Simulation;
let upstream: IotHubUpstream;
let sender: Awaited<ReturnType<typeof connectModuleClient>>;

function startCloud(mqttPort: number): Promise<Simulation> {
  return Simulation.start({
    workspace, name: 'cloud', deviceId: HUB_DEVICE, manifest: manifest([], { toHub: 'FROM /messages/* INTO $upstream' }),
    mqttPort, httpsPort: null, stopGraceMs: 1000,
  });
}

beforeAll(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'ferry-sim-iothub-'));
  cloud = await startCloud(0);
  cloudPort = cloud.broker.mqttPort;
  upstream = IotHubUpstream.create({
    connectionString: cloud.identities.connectionString(undefined, `localhost:${cloudPort}`),
    caFile: cloud.certificates.caCertPath,
  });
  edge = await Simulation.start({
    workspace, name: 'edge', manifest: manifest(['sender'], { up: 'FROM /messages/modules/sender/outputs/* INTO $upstream' }),
    mqttPort: 0, httpsPort: null, stopGraceMs: 1000, upstream,
  });
  const cred = edge.moduleCredentials('sender');
  sender = await connectModuleClient(cred.EdgeHubConnectionString, edge.certificates.caCertPem);
}, 30_000);

afterAll(async () => {
  await sender?.close().catch(() => undefined);
  await edge?.stop();
  await upstream?.close();
  await cloud?.stop();
  rmSync(workspace, { recursive: true, force: true });
});

function reading(seq: number): InstanceType<typeof Message> {
  const m = new Message(JSON.stringify({ seq }));
  m.messageId = `m-${seq}`;
  m.correlationId = `c-${seq}`;
  m.contentType = 'application/json';
  m.contentEncoding = 'utf-8';
  m.properties.add('seq', String(seq));
  return m;
}

function upstreamPending(): number {
  return edge.status().endpoints.find((e) => e.endpoint === '$upstream')?.pending ?? 0;
}

describe('IotHubUpstream', () => {
  it('refuses connection strings it cannot use, with a code', () => {
    const bad = [
      'HostName=h.azure-devices.net;DeviceId=d',
      'HostName=h.azure-devices.net;DeviceId=d;ModuleId=m;SharedAccessKey=a2V5',
      'DeviceId=d;SharedAccessKey=a2V5',
    ];
    for (const connectionString of bad) expect(() => IotHubUpstream.create({ connectionString })).toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_IOTHUB_INVALID' }));
    expect(() => IotHubUpstream.create({ connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=a2V5', caFile: join(workspace, 'absent.pem') }))
      .toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_IOTHUB_INVALID' }));
  });

  it('delivers a module\'s outputs to the hub in order, with application and system properties', async () => {
    const count = 20;
    for (let seq = 1; seq <= count; seq++) await sender.client.sendOutputEvent('temperature', reading(seq));
    await until(() => cloud.hub.received >= count, 20_000, 'messages at the hub');
    const got = cloud.hub.recent();
    expect(got.map((m) => m.properties['seq'])).toEqual(Array.from({ length: count }, (_, i) => String(i + 1)));
    const first = got[0]!;
    expect(first.deviceId).toBe(HUB_DEVICE);
    expect(first.moduleId).toBeUndefined();
    expect(first.properties['connectionModuleId']).toBe('sender');
    expect(first.properties['outputName']).toBe('temperature');
    expect(first.systemProperties).toMatchObject({ messageId: 'm-1', correlationId: 'c-1', contentType: 'application/json', contentEncoding: 'utf-8' });
    expect(JSON.parse(first.body.toString())).toEqual({ seq: 1 });
    expect(upstream.sent).toBe(count);
    await until(() => upstreamPending() === 0, 5000, 'empty $upstream queue');
  });

  it('keeps messages while the hub is away and sends them in order when it is back (store-and-forward)', async () => {
    await cloud.stop();
    const failedBefore = upstream.failed;
    const sentBefore = upstream.sent;
    const count = 30;
    for (let seq = 101; seq < 101 + count; seq++) await sender.client.sendOutputEvent('temperature', reading(seq));
    // Accepted by the edge (PUBACK), queued for $upstream, not sent.
    await until(() => upstreamPending() === count, 5000, 'queued upstream messages');
    await until(() => upstream.failed > failedBefore, 10_000, 'a failed upstream attempt');
    expect(upstream.sent).toBe(sentBefore);

    cloud = await startCloud(cloudPort);
    await until(() => cloud.hub.received >= count, 30_000, 'replayed messages at the hub');
    const got = cloud.hub.recent();
    expect(got.map((m) => Number(m.properties['seq']))).toEqual(Array.from({ length: count }, (_, i) => 101 + i));
    await until(() => upstreamPending() === 0, 5000, 'empty $upstream queue');
    expect(upstream.sent).toBe(sentBefore + count);
    const endpoint = edge.status().endpoints.find((e) => e.endpoint === '$upstream');
    expect(endpoint?.delivered).toBeGreaterThanOrEqual(20 + count);
  }, 60_000);
});
