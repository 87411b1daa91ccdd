/**
 * `ferry simulate` run as the real command with a two-module solution (real node processes speaking the
 * real SDK), and the one-shot commands talking to it through its control socket: status, monitor,
 * simulate modulecred, twin, invoke, logs; then SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { FERRY_BIN, ferry } from '@ferry/test';

const FIXTURES = fileURLToPath(new URL('../../simulator/test/fixtures/solution/', import.meta.url));
const NAME = 'cli';

let ws: string;
let child: ChildProcess;
const events: Array<Record<string, unknown>> = [];
let stderr = '';
let exited: Promise<number | null>;

/** Resolves with the first event that `match` accepts (already printed or coming). */
function nextEvent(match: (e: Record<string, unknown>) => boolean, ms = 20_000): Promise<Record<string, unknown>> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      const found = events.find(match);
      if (found) resolve(found);
      else if (Date.now() > end) reject(new Error(`no such event from ferry simulate; got ${JSON.stringify(events)}; stderr ${stderr}`));
      else setTimeout(poll, 20);
    };
    poll();
  });
}

const run = (args: string[]) => ferry(args, { workspace: ws });

beforeAll(async () => {
  ws = mkdtempSync(join(tmpdir(), 'ferry-cli-sim-'));
  child = spawn(process.execPath, [FERRY_BIN, '--workspace', ws, '--json', 'simulate', '-d', join(FIXTURES, 'deployment.json'),
    '--solution', join(FIXTURES, 'solution.json'), '--name', NAME, '--mqtt-port', '0', '--https-port', '0'], {
    env: { ...process.env, SEND_COUNT: '400', DOCKER_HOST: 'unix:///nonexistent/ferry-no-docker.sock' }, // no engine for `camera`
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      events.push({ event: 'text', line });
    }
  });
  await nextEvent((e) => e['event'] === 'listening');
});

afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(ws, { recursive: true, force: true });
});

interface StatusDoc {
  mqttPort: number;
  gatewayHostName: string;
  modules: Array<{ id: string; kind: string; state: string; connected: boolean; error: { code: string } | null }>;
  routes: Array<{ name: string; matched: number }>;
}

describe('ferry simulate', () => {
  it('prints where it listens and each module\'s state', async () => {
    const listening = await nextEvent((e) => e['event'] === 'listening');
    expect(listening['mqttPort']).toEqual(expect.any(Number));
    expect(listening['mqttPort']).not.toBe(0);
    expect(listening['gatewayHostName']).toBe(`localhost:${listening['mqttPort'] as number}`);
    expect(listening['controlSocket']).toBe(join(ws, 'simulations', NAME, 'control.sock'));
    const camera = await nextEvent((e) => e['event'] === 'module' && e['id'] === 'camera');
    expect(camera).toMatchObject({ kind: 'container', state: 'failed', error: { code: 'FERRY_E_SIM_DOCKER_UNAVAILABLE' } });
  });

  it('`ferry status` shows both process modules running and connected, with route counts', async () => {
    let status: StatusDoc | undefined;
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      const r = await run(['status', '--name', NAME, '--json']);
      expect(r.code, r.stderr).toBe(0);
      status = r.json as StatusDoc;
      if (status.modules.filter((m) => m.connected).length === 2 && status.routes.every((x) => x.matched > 0)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const byId = new Map(status!.modules.map((m) => [m.id, m]));
    expect(byId.get('sender')).toMatchObject({ kind: 'process', state: 'running', connected: true });
    expect(byId.get('receiver')).toMatchObject({ kind: 'process', state: 'running', connected: true });
    expect(status!.routes.find((x) => x.name === 'receiverToCloud')!.matched).toBeGreaterThan(0);
    const text = await run(['status', '--name', NAME]);
    expect(text.stdout).toMatch(/sender\s+process\s+running\s+yes/);
    expect(text.stdout).toMatch(/receiverToCloud\s+\$upstream/);
  });

  it('`ferry monitor --module receiver --properties` streams the upstream messages with their properties', async () => {
    const r = await run(['monitor', '--name', NAME, '--module', 'receiver', '--properties', '--count', '3', '--timeout', '20', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const docs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: { origin: string; module: string; payload: { seq: number }; properties: { application: Record<string, string>; system: Record<string, string> } } });
    expect(docs).toHaveLength(3);
    for (const { event } of docs) {
      expect(event.module).toBe('receiver');
      expect(event.properties.application).toMatchObject({ forwardedBy: 'receiver', kind: 'reading', seq: String(event.payload.seq) });
      expect(event.properties.system['connectionModuleId']).toBe('receiver');
    }
    // live messages, in order
    expect(docs[1]!.event.payload.seq).toBeGreaterThan(docs[0]!.event.payload.seq);
  });

  it('`ferry simulate modulecred` prints credentials the real SDK connects with', async () => {
    const r = await run(['simulate', 'modulecred', '-m', 'manual', '--name', NAME]);
    expect(r.code, r.stderr).toBe(0);
    const lines = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(lines['EdgeHubConnectionString']).toMatch(/^HostName=.+;GatewayHostName=localhost:\d+;DeviceId=.+;ModuleId=manual;SharedAccessKey=.+$/);
    expect(existsSync(lines['EdgeModuleCACertificateFile']!)).toBe(true);
    const client = device.ModuleClient.fromConnectionString(lines['EdgeHubConnectionString']!, deviceMqtt.Mqtt);
    await client.setOptions({ ca: readFileSync(lines['EdgeModuleCACertificateFile']!, 'utf8') });
    await client.open();
    const status = (await run(['status', '--name', NAME, '--json'])).json as { modules: unknown[] };
    expect(status.modules).toHaveLength(3); // a hand-started module is not one the simulator launched
    await client.close();
  });

  it('`ferry twin set|get` and `ferry invoke` reach the modules', async () => {
    const set = await run(['twin', 'set', 'sender', '{"threshold": 0.9}', '--name', NAME, '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect((set.json as { desired: { threshold: number } }).desired.threshold).toBe(0.9);
    const get = await run(['twin', 'get', 'sender', '--name', NAME, '--json']);
    expect((get.json as { desired: { threshold: number }; reported: { started: boolean } })).toMatchObject({ desired: { threshold: 0.9 }, reported: { started: true } });
    const invoked = await run(['invoke', 'receiver', 'echo', '--payload', '{"n": 1}', '--timeout', '10', '--connect-timeout', '10', '--name', NAME, '--json']);
    expect(invoked.code, invoked.stderr).toBe(0);
    expect(invoked.json).toEqual({ status: 200, payload: { echo: { n: 1 } } });
    const logs = await run(['logs', 'sender', '--name', NAME]);
    expect(logs.stdout).toContain('desired {"threshold":0.9');
  });

  it('commands against a simulation that is not running fail with FERRY_E_SIM_NOT_RUNNING', async () => {
    const r = await run(['status', '--name', 'nosuch', '--json']);
    expect(r.code).toBe(1);
    expect(r.error?.code).toBe('FERRY_E_SIM_NOT_RUNNING');
  });

  it('stops cleanly on SIGTERM: modules stopped, control socket gone', async () => {
    const status = (await run(['status', '--name', NAME, '--json'])).json as { modules: Array<{ id: string; pid: number | null }> };
    const pids = status.modules.flatMap((m) => (m.pid === null ? [] : [m.pid]));
    expect(pids).toHaveLength(2);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(events.some((e) => e['event'] === 'stopped')).toBe(true);
    for (const id of ['sender', 'receiver']) expect(events.some((e) => e['event'] === 'module' && e['id'] === id && e['state'] === 'stopped'), id).toBe(true);
    for (const pid of pids) expect(() => process.kill(pid, 0), `module process ${pid} still alive`).toThrow();
    expect(existsSync(join(ws, 'simulations', NAME, 'control.sock'))).toBe(false);
    const r = await run(['monitor', '--name', NAME, '--json']);
    expect(r.error?.code).toBe('FERRY_E_SIM_NOT_RUNNING');
  });
});
