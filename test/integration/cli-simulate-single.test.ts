/**
 * `ferry simulate -i` (iotedgehubdev's single-module mode) as the real command: the module `target` connects
 * with what `ferry simulate modulecred -m target` prints (the real SDK), gets what is POSTed to
 * /api/v1/messages, and what it sends is printed as NDJSON; -i with -d is a usage error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import device from 'azure-iot-device';
import type { Message as MessageType, ModuleClient as ModuleClientType } from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { FERRY_BIN, ferry } from '@ferry/test';

const NAME = 'single';
let ws: string;
let child: ChildProcess;
let exited: Promise<number | null>;
let stderr = '';
const events: Array<Record<string, unknown>> = [];
let client: ModuleClientType | undefined;

function nextEvent(match: (e: Record<string, unknown>) => boolean, ms = 20_000): Promise<Record<string, unknown>> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      const found = events.find(match);
      if (found) resolve(found);
      else if (Date.now() > end) reject(new Error(`no such event; got ${JSON.stringify(events)}; stderr ${stderr}`));
      else setTimeout(poll, 20);
    };
    poll();
  });
}

beforeAll(async () => {
  ws = mkdtempSync(join(tmpdir(), 'ferry-cli-single-'));
  child = spawn(process.execPath, [FERRY_BIN, '--workspace', ws, '--json', 'simulate', '-i', 'input1,input2', '--port', '0',
    '--name', NAME, '--mqtt-port', '0', '--https-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  createInterface({ input: child.stdout! }).on('line', (line) => events.push(JSON.parse(line) as Record<string, unknown>));
  await nextEvent((e) => e['event'] === 'listening');
});

afterAll(async () => {
  await client?.close();
  if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(ws, { recursive: true, force: true });
});

describe('ferry simulate -i', () => {
  it('delivers POSTed messages to the module started with modulecred, and prints what it sends', async () => {
    const listening = await nextEvent((e) => e['event'] === 'listening');
    const url = listening['messagesUrl'] as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/messages$/);
    expect(listening['inputs']).toEqual(['input1', 'input2']);

    const cred = await ferry(['simulate', 'modulecred', '-m', 'target', '--name', NAME], { workspace: ws });
    expect(cred.code, cred.stderr).toBe(0);
    const lines = Object.fromEntries(cred.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(lines['EdgeHubConnectionString']).toContain(';ModuleId=target;');

    client = device.ModuleClient.fromConnectionString(lines['EdgeHubConnectionString']!, deviceMqtt.Mqtt);
    await client.setOptions({ ca: readFileSync(lines['EdgeModuleCACertificateFile']!, 'utf8') });
    const got: Array<{ input: string; body: string }> = [];
    client.on('inputMessage', (input: string, msg: MessageType) => {
      got.push({ input, body: msg.getData().toString() });
      void client?.complete(msg);
      // Echo, as a module under development would: its output is printed by ferry simulate.
      void client?.sendOutputEvent('output1', new device.Message(`echo ${msg.getData().toString()}`));
    });
    await client.open();

    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputName: 'input2', data: 'hello world' }) });
    expect(res.status).toBe(200);
    const printed = await nextEvent((e) => e['event'] === 'output');
    expect(got).toEqual([{ input: 'input2', body: 'hello world' }]);
    expect(printed).toMatchObject({ output: 'output1', moduleId: 'target', body: 'echo hello world' });

    const bad = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputName": "input1"}' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('FERRY_E_SIM_INJECT_INVALID');
  });

  it('-i with -d is a usage error', async () => {
    const r = await ferry(['simulate', '-i', 'input1', '-d', 'x.json', '--name', 'other'], { workspace: ws });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('FERRY_E_USAGE');
  });

  it('stops on SIGTERM', async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(events.at(-1)).toEqual({ event: 'stopped' });
  });
});
