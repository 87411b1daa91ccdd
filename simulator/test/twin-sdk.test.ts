/**
 * Twins with the real azure-iot-device ModuleClient over MQTT/TLS: GET returns the seeded desired
 * properties, reported patches are stored and versioned, desired patches reach `properties.desired`,
 * oversized and invalid patches are refused with the client still connected, and a module that was away
 * catches up on reconnect.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import device from 'azure-iot-device';
import type { ModuleClient as ModuleClientType, Twin } from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { TwinStore } from '../src/twins/twin-store.js';
import { TwinService } from '../src/twins/twin-service.js';
import type { TwinRefusal } from '../src/twins/twin-service.js';
import { DEVICE, HUB, RawMqtt, startEdge, until } from './broker-fixture.js';
import type { Edge } from './broker-fixture.js';
import { createSasToken } from '../src/identity/sas-token.js';

const { ModuleClient } = device;
const { Mqtt } = deviceMqtt;

let edge: Edge;
let store: TwinStore;
let twins: TwinService;
const refusals: TwinRefusal[] = [];
const clients: { close(): Promise<unknown> }[] = [];

beforeAll(async () => {
  edge = await startEdge(['thermostat', 'limits', 'raw-twin']);
  store = TwinStore.open(join(edge.dir, 'twins'));
  twins = TwinService.attach(edge.broker, store);
  twins.on('refused', (r) => refusals.push(r));
});
afterAll(async () => {
  twins.detach();
  await edge.close();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
});

async function open(moduleId: string): Promise<ModuleClientType> {
  const client = ModuleClient.fromConnectionString(edge.connectionString(moduleId), Mqtt);
  clients.push(client);
  await client.setOptions({ ca: edge.certs.caCertPem });
  await client.open();
  return client;
}

/** `properties.reported.update` takes a callback only. */
function report(twin: Twin, patch: Record<string, unknown>): Promise<void> {
  return new Promise((resolve, reject) => twin.properties.reported.update(patch, (err?: Error) => (err ? reject(err) : resolve())));
}

function subscribedToDesired(clientId: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (s: { clientId: string; topics: string[] }): void => {
      if (s.clientId === clientId && s.topics.some((t) => t.startsWith('$iothub/twin/PATCH/properties/desired/'))) {
        edge.broker.off('subscribed', on);
        resolve();
      }
    };
    edge.broker.on('subscribed', on);
  });
}

describe('twins with azure-iot-device', () => {
  it('getTwin returns the seeded desired properties; reported updates are stored and versioned; desired patches reach the module', async () => {
    await twins.seed('thermostat', { targetTemp: 21, schedule: { night: 17 } });
    const client = await open('thermostat');
    const twin: Twin = await client.getTwin();
    expect(twin.properties.desired).toEqual({ targetTemp: 21, schedule: { night: 17 }, $version: 2 });
    expect(twin.properties.reported.$version).toBe(1);

    await report(twin, { currentTemp: 20.5, firmware: { version: '1.2.3' } });
    await report(twin, { currentTemp: 20.7, firmware: null });
    expect(store.get('thermostat').reported).toEqual({ currentTemp: 20.7, $version: 3 });

    const patches: Record<string, unknown>[] = [];
    const subscribed = subscribedToDesired(`${DEVICE}/thermostat`);
    twin.on('properties.desired', (p: Record<string, unknown>) => patches.push(structuredClone(p)));
    await subscribed;
    const version = await twins.patchDesired('thermostat', { targetTemp: 23, schedule: { night: null, day: 22 } });
    expect(version).toBe(3);
    // The first event is the listener's replay of the current desired section (twin.ts _handleNewListener).
    await until(() => patches.some((p) => p.$version === 3), 3000, 'the desired patch');
    expect(patches.find((p) => p.$version === 3)).toEqual({ targetTemp: 23, schedule: { night: null, day: 22 }, $version: 3 });
    expect(twin.properties.desired).toMatchObject({ targetTemp: 23, schedule: { day: 22 }, $version: 3 });
    expect(store.get('thermostat').desired).toEqual({ targetTemp: 23, schedule: { day: 22 }, $version: 3 });

    // A new deployment replaces desired; the module gets the difference.
    await twins.seed('thermostat', { targetTemp: 19 });
    await until(() => patches.some((p) => p.$version === 4), 3000, 'the deployment patch');
    expect(patches.find((p) => p.$version === 4)).toEqual({ targetTemp: 19, schedule: null, $version: 4 });
    // A fresh GET sees the same state.
    const again = await client.getTwin();
    expect(again.properties.desired).toEqual({ targetTemp: 19, $version: 4 });
    expect(again.properties.reported).toMatchObject({ currentTemp: 20.7, $version: 3 });
  });

  it('refuses an oversized or invalid reported patch with a code while the client stays connected', async () => {
    const id = `${DEVICE}/limits`;
    const disconnects: string[] = [];
    edge.broker.on('client-disconnected', (c) => disconnects.push(c.clientId));
    const client = await open('limits');
    const twin = await client.getTwin();
    await report(twin, { small: 1 });
    const big = { blob: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'x'.repeat(4000)])) };
    await expect(report(twin, big)).rejects.toThrow(/^FERRY_E_SIM_TWIN_TOO_LARGE: /);
    expect(refusals.at(-1)).toMatchObject({ clientId: id, kind: 'twin-patch', code: 'FERRY_E_SIM_TWIN_TOO_LARGE' });
    await expect(report(twin, { $version: 7 })).rejects.toThrow(/^FERRY_E_SIM_TWIN_PATCH_INVALID: .*\$version/);
    expect(refusals.at(-1)).toMatchObject({ clientId: id, code: 'FERRY_E_SIM_TWIN_PATCH_INVALID' });
    // Still connected, nothing of the refused patches stored, and the next patch works.
    expect(edge.broker.isConnected(id)).toBe(true);
    expect(disconnects).not.toContain(id);
    await report(twin, { small: 2 });
    expect(store.get('limits').reported).toEqual({ small: 2, $version: 3 });
    // An oversized desired patch is refused to the caller, the twin unchanged.
    await expect(twins.patchDesired('limits', big)).rejects.toMatchObject({ code: 'FERRY_E_SIM_TWIN_TOO_LARGE', status: 413 });
    expect(store.get('limits').desired).toEqual({ $version: 1 });
  });

  it('sends a module that was away one patch from what it last saw when it reconnects (clean=false)', async () => {
    const clientId = `${DEVICE}/raw-twin`;
    const identity = edge.store.module('raw-twin')!;
    const token = createSasToken({ hubHostName: HUB, deviceId: DEVICE, moduleId: 'raw-twin' }, identity.primaryKey, Date.now() / 1000 + 600);
    const username = `${HUB}/${clientId}/?api-version=2021-04-12`;
    await twins.seed('raw-twin', { a: 1, b: 2 });
    const first = await RawMqtt.connect(edge, clientId, username, token);
    expect(first.returnCode).toBe(0);
    expect(await first.raw.subscribe('$iothub/twin/res/#', 0)).toEqual([0]);
    expect(await first.raw.subscribe('$iothub/twin/PATCH/properties/desired/#', 0)).toEqual([0]);
    await first.raw.publish('$iothub/twin/GET/?$rid=1', ' ', 0);
    const res = (await first.raw.next('publish')) as { topic: string; payload: Buffer };
    expect(res.topic).toBe('$iothub/twin/res/200/?$rid=1');
    expect(JSON.parse(res.payload.toString())).toEqual({ desired: { a: 1, b: 2, $version: 2 }, reported: { $version: 1 } });
    first.raw.end();
    await until(() => !edge.broker.isConnected(clientId), 3000, 'the disconnect');

    // Two changes while it is away: stored, not lost.
    expect(await twins.patchDesired('raw-twin', { a: 10 })).toBe(3);
    expect(await twins.patchDesired('raw-twin', { b: null, c: { d: 1 } })).toBe(4);

    const second = await RawMqtt.connect(edge, clientId, username, token);
    expect(second.returnCode).toBe(0);
    const pushed = (await second.raw.next('publish')) as { topic: string; payload: Buffer };
    expect(pushed.topic).toBe('$iothub/twin/PATCH/properties/desired/?$version=4');
    expect(JSON.parse(pushed.payload.toString())).toEqual({ a: 10, b: null, c: { d: 1 }, $version: 4 });
    second.raw.end();
  });
});
