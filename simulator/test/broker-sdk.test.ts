/**
 * The real, unmodified azure-iot-device SDK against the broker: both environment paths of
 * ModuleClient.fromEnvironment, Mqtt and MqttWs, device clients, inputs, token renewal, limits.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { join } from 'node:path';
import device from 'azure-iot-device';
import type { ModuleClient as ModuleClientType, Message as MessageType } from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { WorkloadServer } from '../src/workload/workload-server.js';
import { DEVICE, HUB, startEdge, until } from './broker-fixture.js';
import type { Edge } from './broker-fixture.js';

const { ModuleClient, Client, Message, SharedAccessKeyAuthenticationProvider } = device;
const { Mqtt, MqttWs } = deviceMqtt;

let edge: Edge;
const clients: { close(): Promise<unknown> }[] = [];
const savedEnv = { ...process.env };

beforeAll(async () => {
  edge = await startEdge(['scorer', 'camera', 'ws-module', 'renewer', 'workload-module']);
});
afterAll(async () => {
  await edge.close();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
});

function track<T extends { close(): Promise<unknown> }>(c: T): T {
  clients.push(c);
  return c;
}

async function subscribedToInputs(clientId: string, action: () => void): Promise<void> {
  const done = new Promise<void>((resolve) => {
    const on = (s: { clientId: string; topics: string[] }): void => {
      if (s.clientId === clientId && s.topics.some((t) => t.includes('/inputs/'))) {
        edge.broker.off('subscribed', on);
        resolve();
      }
    };
    edge.broker.on('subscribed', on);
  });
  action();
  await done;
}

describe('azure-iot-device against the simulator broker', () => {
  it('connects with EdgeHubConnectionString + EdgeModuleCACertificateFile; outputs arrive decoded; inputs reach inputMessage', async () => {
    process.env.EdgeHubConnectionString = edge.connectionString('scorer');
    process.env.EdgeModuleCACertificateFile = edge.certs.caCertPath;
    const t0 = performance.now();
    const client = track((await ModuleClient.fromEnvironment(Mqtt)) as ModuleClientType);
    await client.open();
    const connectMs = performance.now() - t0;
    await until(() => edge.broker.isConnected(`${DEVICE}/scorer`), 2000, 'the connection'); // aedes readies a client just after its CONNACK

    const msg = new Message(JSON.stringify({ temperature: 21.5 }));
    msg.messageId = 'mid/1 é';
    msg.correlationId = 'cid&1';
    msg.contentType = 'application/json';
    msg.contentEncoding = 'utf-8';
    msg.properties.add('temp C', '21.5');
    msg.properties.add('a&b=c', 'x/y?z#%');
    await client.sendOutputEvent('out 1', msg);
    await until(() => edge.messages.some((m) => m.clientId === `${DEVICE}/scorer`), 5000, 'the output');
    const got = edge.messages.find((m) => m.clientId === `${DEVICE}/scorer`)!;
    expect(got).toMatchObject({ kind: 'output', output: 'out 1', deviceId: DEVICE, moduleId: 'scorer', qos: 1 });
    expect(got.properties).toEqual({ 'temp C': '21.5', 'a&b=c': 'x/y?z#%' });
    expect(got.systemProperties).toMatchObject({ messageId: 'mid/1 é', correlationId: 'cid&1', contentType: 'application/json', contentEncoding: 'utf-8', outputName: 'out 1', connectionDeviceId: DEVICE, connectionModuleId: 'scorer' });
    expect(JSON.parse(got.body.toString())).toEqual({ temperature: 21.5 });

    const inputs: { input: string; msg: MessageType }[] = [];
    await subscribedToInputs(`${DEVICE}/scorer`, () => {
      client.on('inputMessage', (input: string, m: MessageType) => {
        inputs.push({ input, msg: m });
        void client.complete(m);
      });
    });
    await edge.broker.deliverInput('scorer', 'in1', {
      properties: { 'x y': '1&2' },
      systemProperties: { messageId: 'in-1', contentType: 'application/json', connectionDeviceId: DEVICE, connectionModuleId: 'camera' },
      body: '{"a":1}',
    });
    // deliverInput resolved on the module's PUBACK: the SDK has it already.
    await until(() => inputs.length === 1, 2000, 'the input');
    const input = inputs[0]!;
    expect(input.input).toBe('in1');
    expect(input.msg.getData().toString()).toBe('{"a":1}');
    expect(input.msg.messageId).toBe('in-1');
    expect(input.msg.contentType).toBe('application/json');
    expect(input.msg.properties.getValue('x y')).toBe('1&2');
    expect(input.msg.properties.getValue('$.cdid')).toBe(DEVICE);
    expect(input.msg.properties.getValue('$.cmid')).toBe('camera');

    // Throughput of simple loops (reported, bounded: 2,000 messages each way).
    const n = 2000;
    const before = edge.messages.length;
    const t1 = performance.now();
    for (let i = 0; i < n; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => client.sendOutputEvent('out', new Message(`m${i + j}`))));
    }
    const outRate = n / ((performance.now() - t1) / 1000);
    expect(edge.messages.length - before).toBe(n);
    const t2 = performance.now();
    for (let i = 0; i < n; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => edge.broker.deliverInput('scorer', 'in2', { body: `m${i + j}` })));
    }
    const inRate = n / ((performance.now() - t2) / 1000);
    await until(() => inputs.length === n + 1, 5000, 'all inputs');
    expect(inputs.filter((x) => x.input === 'in2').map((x) => x.msg.getData().toString())).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    process.stderr.write(`[broker-sdk] connect ${connectMs.toFixed(0)} ms; outputs ${outRate.toFixed(0)} msg/s; inputs ${inRate.toFixed(0)} msg/s (QoS 1, 100 in flight)\n`);
  });

  it('connects a device Client and a module through the workload API (IOTEDGE_* environment)', async () => {
    const dev = track(Client.fromConnectionString(edge.connectionString(undefined), Mqtt));
    await dev.setOptions({ ca: edge.certs.caCertPem });
    await dev.open();
    await dev.sendEvent(new Message('from the device'));
    await until(() => edge.messages.some((m) => m.clientId === DEVICE), 5000, 'device telemetry');
    expect(edge.messages.find((m) => m.clientId === DEVICE)).toMatchObject({ kind: 'telemetry', deviceId: DEVICE, moduleId: undefined });

    const workload = await WorkloadServer.start({ identities: edge.store, caCertPem: edge.certs.caCertPem, socketPath: join(edge.dir, 'workload.sock') });
    clients.push(workload);
    delete process.env.EdgeHubConnectionString;
    delete process.env.IotHubConnectionString;
    Object.assign(process.env, {
      IOTEDGE_WORKLOADURI: workload.uri,
      IOTEDGE_DEVICEID: DEVICE,
      IOTEDGE_MODULEID: 'workload-module',
      IOTEDGE_IOTHUBHOSTNAME: HUB,
      IOTEDGE_GATEWAYHOSTNAME: `localhost:${edge.broker.mqttPort}`,
      IOTEDGE_AUTHSCHEME: 'sasToken',
      IOTEDGE_MODULEGENERATIONID: edge.store.module('workload-module')!.generationId,
    });
    const mod = track((await ModuleClient.fromEnvironment(Mqtt)) as ModuleClientType);
    await mod.open();
    await mod.sendOutputEvent('o', new Message('via workload'));
    await until(() => edge.messages.some((m) => m.moduleId === 'workload-module'), 5000, 'workload module output');
  });

  it('connects over MQTT over WebSockets (wss, /$iothub/websocket)', async () => {
    const connected: string[] = [];
    edge.broker.on('client-connected', (c) => connected.push(`${c.clientId}:${c.transport}`));
    // MqttWs always dials <GatewayHostName>:443; the SDK's webSocketAgent option sends it to the test port.
    const port = edge.broker.httpsPort!;
    const agent = Object.assign(new Agent(), { createConnection: (opts: ConnectionOptions) => tlsConnect({ ...opts, port }) });
    const client = track(ModuleClient.fromConnectionString(edge.store.connectionString('ws-module', 'localhost'), MqttWs));
    await client.setOptions({ ca: edge.certs.caCertPem, mqtt: { webSocketAgent: agent } } as never);
    await client.open();
    expect(connected).toContain(`${DEVICE}/ws-module:wss`);
    const inputs: string[] = [];
    await subscribedToInputs(`${DEVICE}/ws-module`, () => client.on('inputMessage', (_i: string, m: MessageType) => inputs.push(m.getData().toString())));
    await client.sendOutputEvent('o', new Message('over websockets'));
    await until(() => edge.messages.some((m) => m.moduleId === 'ws-module'), 5000, 'ws output');
    await edge.broker.deliverInput('ws-module', 'in', { body: 'back over websockets' });
    await until(() => inputs.length === 1, 2000, 'ws input');
    expect(inputs).toEqual(['back over websockets']);
  });

  it('keeps subscriptions across the SDK\'s token-renewal reconnect', async () => {
    const id = `${DEVICE}/renewer`;
    const events: string[] = [];
    edge.broker.on('client-connected', (c) => c.clientId === id && events.push('connect'));
    edge.broker.on('client-disconnected', (c) => c.clientId === id && events.push('disconnect'));
    edge.broker.on('subscribed', (s) => s.clientId === id && events.push('subscribe'));
    // Tokens valid 4 s, renewed 2 s before expiry: the SDK disconnects and reconnects with a new token.
    const provider = SharedAccessKeyAuthenticationProvider.fromConnectionString(edge.connectionString('renewer'), 4, 2);
    const client = track(ModuleClient.fromAuthenticationProvider(provider, Mqtt));
    await client.setOptions({ ca: edge.certs.caCertPem });
    const inputs: string[] = [];
    await client.open();
    await subscribedToInputs(id, () => client.on('inputMessage', (_i: string, m: MessageType) => inputs.push(m.getData().toString())));
    await until(() => events.filter((e) => e === 'connect').length >= 2, 8000, 'the renewal reconnect');
    expect(events.slice(0, 4)).toEqual(['connect', 'subscribe', 'disconnect', 'connect']);
    await until(() => edge.broker.isConnected(id), 2000, 'reconnected');
    await edge.broker.deliverInput('renewer', 'in1', { body: 'after renewal' });
    await until(() => inputs.length === 1, 2000, 'input after renewal');
    expect(inputs).toEqual(['after renewal']);
    expect(events.filter((e) => e === 'subscribe')).toHaveLength(1); // never subscribed again
  });

  it('refuses an over-limit message with a code while the client stays connected', async () => {
    const id = `${DEVICE}/camera`;
    const disconnects: string[] = [];
    edge.broker.on('client-disconnected', (c) => disconnects.push(c.clientId));
    const client = track(ModuleClient.fromConnectionString(edge.connectionString('camera'), Mqtt));
    await client.setOptions({ ca: edge.certs.caCertPem });
    await client.open();
    // The SDK checks only the body (<= 256 KiB); with properties the message is over IoT Hub's limit.
    const big = new Message(Buffer.alloc(250 * 1024, 1));
    big.properties.add('padding', 'p'.repeat(50 * 1024));
    await client.sendOutputEvent('o', big);
    await until(() => edge.refusals.some((r) => r.clientId === id), 5000, 'the refusal');
    expect(edge.refusals.find((r) => r.clientId === id)).toMatchObject({ stage: 'publish', code: 'FERRY_E_SIM_MESSAGE_TOO_LARGE' });
    expect(edge.messages.some((m) => m.clientId === id)).toBe(false);
    await client.sendOutputEvent('o', new Message('small'));
    await until(() => edge.messages.some((m) => m.clientId === id), 5000, 'the next message');
    expect(disconnects).not.toContain(id);
    expect(edge.broker.isConnected(id)).toBe(true);
  });
});
