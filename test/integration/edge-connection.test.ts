/**
 * The edge modules' connection (module/src/edge/connection.ts) against a real Simulation: the unmodified
 * azure-iot-device ModuleClient made by connectModuleClient from the environment a simulation gives its
 * modules, with TCP_NODELAY on its socket (no-delay.ts) on the first connection and after a reconnect.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import device from 'azure-iot-device';
import type { ModuleClient } from 'azure-iot-device';
import pino from 'pino';
import { connectModuleClient } from '@ferry/module';
import { Simulation, type CloudMessage } from '@ferry/simulator';
import { edgeManifest, until } from './edge-fixture.js';

let dir: string;
let sim: Simulation;
let client: ModuleClient | undefined;
const upstream: CloudMessage[] = [];
const saved: Record<string, string | undefined> = {};

/** The socket MQTT.js is using now, under the SDK's transport. */
function socketOf(c: ModuleClient): object & { destroy(): void } {
  const mqtt = (c as unknown as { _transport?: { _mqtt?: { _mqttClient?: { stream?: object & { destroy(): void } } } } })._transport?._mqtt?._mqttClient;
  if (!mqtt?.stream) throw new Error('the ModuleClient has no MQTT.js stream');
  return mqtt.stream;
}

/** What the socket was told about Nagle's algorithm (Node keeps it under its kSetNoDelay symbol). */
function noDelayOf(socket: object): unknown {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'kSetNoDelay');
  if (key === undefined) throw new Error('this Node.js keeps no kSetNoDelay on sockets: the check needs updating');
  return (socket as Record<symbol, unknown>)[key];
}

async function sendUp(c: ModuleClient, id: string): Promise<void> {
  const m = new device.Message(JSON.stringify({ id }));
  m.messageId = id;
  await c.sendOutputEvent('out', m);
  await until(() => upstream.some((u) => u.systemProperties['messageId'] === id), 20_000, `${id} upstream`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-edge-connection-'));
  sim = await Simulation.start({
    workspace: join(dir, 'ws'),
    name: 'conn',
    manifest: edgeManifest({}, { up: 'FROM /messages/modules/probe/outputs/* INTO $upstream' }, ['probe']),
    solution: new Map(),
    mqttPort: 0,
    httpsPort: null,
    dashboardPort: null,
  });
  sim.onUpstream((m) => upstream.push(m));
  const cred = sim.moduleCredentials('probe');
  for (const [k, v] of Object.entries(cred)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});

afterAll(async () => {
  await client?.close().catch(() => undefined);
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('connectModuleClient', () => {
  it('connects from the environment with TCP_NODELAY on, and again on the socket of a reconnect', async () => {
    // A client with inputs to listen to reconnects by itself (the SDK leaves a listener-less client disconnected).
    const connection = await connectModuleClient({ logger: pino({ level: 'silent' }), prepare: (c) => c.on('inputMessage', () => undefined) });
    client = connection.client;
    expect(connection.attempts).toBe(1);
    const first = socketOf(client);
    expect(noDelayOf(first)).toBe(true);
    await sendUp(client, 'before');

    // The broker side goes away under the client: the SDK reconnects through a new MQTT.js client.
    first.destroy();
    await until(() => {
      try {
        return socketOf(client as ModuleClient) !== first && sim.status().modules.some((m) => m.id === 'probe' && m.connected);
      } catch {
        return false;
      }
    }, 30_000, 'the reconnect');
    const second = socketOf(client);
    expect(second).not.toBe(first);
    expect(noDelayOf(second)).toBe(true);
    await sendUp(client, 'after');
  });
});
