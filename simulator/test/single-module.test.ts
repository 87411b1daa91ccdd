/**
 * Single-module mode (iotedgehubdev `start -i` compatible): the real azure-iot-device ModuleClient connects with
 * the module's EdgeHubConnectionString/EdgeModuleCACertificateFile over real TLS; messages POSTed to
 * /api/v1/messages reach its inputs; its outputs reach onOutput; bad requests are refused with codes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import device from 'azure-iot-device';
import type { ModuleClient as ModuleClientType, Message as MessageType } from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { SingleModuleSimulation, singleModuleManifest, SINGLE_MODULE_ID } from '../src/solution/single-module.js';
import type { CloudMessage } from '../src/upstream/local-iot-hub.js';
import { until } from './broker-fixture.js';

const { ModuleClient, Message } = device;
const { Mqtt } = deviceMqtt;

let workspace: string;
let single: SingleModuleSimulation;
let client: ModuleClientType | undefined;
const received: { input: string; msg: MessageType }[] = [];
const outputs: CloudMessage[] = [];
const savedEnv = { ...process.env };

beforeAll(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'ferry-sim-single-'));
  single = await SingleModuleSimulation.start({ workspace, name: 'single', inputs: ['input1', 'input2'], port: 0, mqttPort: 0, httpsPort: null });
  single.onOutput((m) => outputs.push(m));
});

afterAll(async () => {
  await client?.close();
  await single?.stop();
  process.env = savedEnv;
  rmSync(workspace, { recursive: true, force: true });
});

async function post(body: string, path = '/api/v1/messages', method = 'POST'): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = new URL(path, single.url);
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, ...(method === 'POST' ? { body } : {}) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('single-module mode', () => {
  it('starts no module process: target and input are known, stopped, not connected', () => {
    const modules = single.simulation.status().modules;
    expect(modules.map((m) => [m.id, m.state, m.connected]).sort()).toEqual([['input', 'stopped', false], ['target', 'stopped', false]]);
    expect(single.moduleCredentials().EdgeHubConnectionString).toContain(`ModuleId=${SINGLE_MODULE_ID};`);
  });

  it('keeps a message POSTed before the module connects, then delivers it and later ones on the right input', async () => {
    const early = await post(JSON.stringify({ inputName: 'input1', data: 'hello world', properties: { kind: 'greeting' }, messageId: 'm-1', correlationId: 'c-1' }));
    expect(early).toEqual({ status: 200, json: { inputName: 'input1', messageId: 'm-1' } });

    const cred = single.moduleCredentials();
    process.env.EdgeHubConnectionString = cred.EdgeHubConnectionString;
    process.env.EdgeModuleCACertificateFile = cred.EdgeModuleCACertificateFile;
    client = (await ModuleClient.fromEnvironment(Mqtt)) as ModuleClientType;
    client.on('inputMessage', (input: string, msg: MessageType) => {
      received.push({ input, msg });
      void client?.complete(msg);
    });
    await client.open();
    await until(() => received.length === 1, 10_000, 'the early message');
    expect(received[0]!.input).toBe('input1');
    expect(received[0]!.msg.getData().toString()).toBe('hello world');
    expect(received[0]!.msg.messageId).toBe('m-1');
    expect(received[0]!.msg.correlationId).toBe('c-1');
    expect(received[0]!.msg.properties.getValue('kind')).toBe('greeting');

    const late = await post(JSON.stringify({ inputName: 'input2', data: { temperature: 21.5 } }));
    expect(late.status).toBe(200);
    expect(typeof late.json['messageId']).toBe('string');
    await until(() => received.length === 2, 10_000, 'the second message');
    expect(received[1]!.input).toBe('input2');
    expect(JSON.parse(received[1]!.msg.getData().toString())).toEqual({ temperature: 21.5 });
  });

  it('reports what the module sends on any output', async () => {
    expect(client).toBeDefined();
    const msg = new Message(JSON.stringify({ result: 42 }));
    msg.properties.add('stage', 'scored');
    await client!.sendOutputEvent('output1', msg);
    await until(() => outputs.length === 1, 10_000, 'the module output');
    expect(outputs[0]!.moduleId).toBe(SINGLE_MODULE_ID);
    expect(outputs[0]!.systemProperties['outputName']).toBe('output1');
    expect(outputs[0]!.properties['stage']).toBe('scored');
    expect(JSON.parse(outputs[0]!.body.toString())).toEqual({ result: 42 });
  });

  it('refuses bad requests with 400/404/405 and a code, and keeps serving', async () => {
    const cases: Array<[string, number, string]> = [
      ['{not json', 400, 'FERRY_E_SIM_INJECT_INVALID'],
      ['[1]', 400, 'FERRY_E_SIM_INJECT_INVALID'],
      [JSON.stringify({ data: 'x' }), 400, 'FERRY_E_SIM_INJECT_INVALID'],
      [JSON.stringify({ inputName: 'input1' }), 400, 'FERRY_E_SIM_INJECT_INVALID'],
      [JSON.stringify({ inputName: 'input1', data: '' }), 400, 'FERRY_E_SIM_INJECT_INVALID'],
      [JSON.stringify({ inputName: 'input1', data: 'x', properties: 'p' }), 400, 'FERRY_E_SIM_INJECT_INVALID'],
      [JSON.stringify({ inputName: 'input3', data: 'x' }), 404, 'FERRY_E_SIM_INPUT_UNKNOWN'],
      [JSON.stringify({ inputName: 'input1', data: 'x'.repeat(300 * 1024) }), 413, 'FERRY_E_SIM_MESSAGE_TOO_LARGE'],
    ];
    for (const [body, status, code] of cases) {
      const res = await post(body);
      expect([body.slice(0, 40), res.status, res.json['code']]).toEqual([body.slice(0, 40), status, code]);
      expect(typeof res.json['message']).toBe('string');
    }
    expect((await post('{}', '/api/v1/other')).status).toBe(404);
    expect((await post('', '/api/v1/messages', 'GET')).status).toBe(405);
    const before = received.length;
    expect((await post(JSON.stringify({ inputName: 'input1', data: 'still here' }))).status).toBe(200);
    await until(() => received.length === before + 1, 10_000, 'a message after the bad ones');
    expect(received.length).toBe(before + 1);
    expect(received.at(-1)!.msg.getData().toString()).toBe('still here');
  });

  it('refuses input names a route or topic cannot hold', () => {
    expect(() => singleModuleManifest([])).toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_INJECT_INVALID' }));
    expect(() => singleModuleManifest(['in/put'])).toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_INJECT_INVALID' }));
    expect(() => singleModuleManifest(['a"b'])).toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_INJECT_INVALID' }));
    expect(singleModuleManifest(['a', 'a', 'b']).hub.routes.length).toBe(3);
  });
});
