/**
 * Issue 3 §3: killing `ferry simulate` with SIGKILL mid-stream and restarting it loses no accepted
 * message (at-least-once). Also what that needs: a restarted simulation ends the module process groups
 * the killed one left behind (and never a process with a recycled pid), and a module started by hand
 * keeps its subscriptions across a simulator restart (the SDK does not subscribe again on reconnect).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { deploymentDocument, parseDeploymentManifestText, type DeploymentDocument } from '@ferry/deployment-manifests';
import { Simulation, endRecordedProcess, processStartTime, type RecordedProcess } from '@ferry/simulator';
import { FERRY_BIN, freePort } from '@ferry/test';

const FIXTURES = fileURLToPath(new URL('../fixtures/simulate-crash/', import.meta.url));
const TOTAL = 12_000;
/** Acknowledged counts at which the simulator is killed. */
const KILL_AT = [2_500, 6_000, 9_000];
const onLinux = existsSync('/proc/self/stat');

const workspaces: string[] = [];
const children: ChildProcess[] = [];
/** Module process groups seen, ended when a failed test left them running. */
const seen: RecordedProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(seen.map((p) => endRecordedProcess(p, 1_000)));
  for (const w of workspaces) rmSync(w, { recursive: true, force: true });
});

function tempWorkspace(): string {
  const ws = mkdtempSync(join(tmpdir(), 'ferry-sim-crash-'));
  workspaces.push(ws);
  return ws;
}

function manifest(modules: Record<string, { status: 'running' | 'stopped'; startupOrder: number }>, routes: Record<string, string>): DeploymentDocument {
  return deploymentDocument({ modules, routes });
}

const ids = (file: string): number[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : []);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** One `ferry simulate` subprocess: resolves once it printed its `listening` event. */
async function simulate(ws: string, deployment: string, solution: string, env: Record<string, string>): Promise<{ child: ChildProcess; exited: Promise<void>; stderr: () => string }> {
  const child = spawn(process.execPath, [FERRY_BIN, '--workspace', ws, '--json', 'simulate', '-d', deployment, '--solution', solution,
    '--name', 'crash', '--mqtt-port', '0', '--https-port', '0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"event":"listening"')) resolve();
    });
    void exited.then(() => reject(new Error(`ferry simulate exited early: ${stderr}`)));
  });
  await listening;
  return { child, exited, stderr: () => stderr };
}

function readPids(ws: string): RecordedProcess[] {
  const file = join(ws, 'simulations', 'crash', 'module-processes.json');
  const found = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { processes: RecordedProcess[] }).processes : [];
  seen.push(...found);
  return found;
}

describe.runIf(onLinux)('ferry simulate killed with SIGKILL mid-stream', () => {
  it('loses no acknowledged message across three kills and restarts, and ends the modules the killed runs left behind', async () => {
    const ws = tempWorkspace();
    const deployment = join(ws, 'deployment.json');
    writeFileSync(deployment, JSON.stringify(manifest({ receiver: { status: 'running', startupOrder: 1 }, sender: { status: 'running', startupOrder: 2 } }, {
      toReceiver: 'FROM /messages/modules/sender/outputs/out INTO BrokeredEndpoint("/modules/receiver/inputs/in")',
      toCloud: 'FROM /messages/modules/sender/outputs/out INTO $upstream',
    })));
    const solution = join(ws, 'solution.json');
    writeFileSync(solution, JSON.stringify({ modules: {
      sender: { command: [process.execPath, join(FIXTURES, 'sender.mjs')] },
      receiver: { command: [process.execPath, join(FIXTURES, 'receiver.mjs')] },
    } }));
    const ackFile = join(ws, 'acked.txt');
    const recvFile = join(ws, 'received.txt');
    const env = { CRASH_TOTAL: String(TOTAL), CRASH_WINDOW: '32', CRASH_ACK_FILE: ackFile, CRASH_RECV_FILE: recvFile };

    const started = Date.now();
    let sim = await simulate(ws, deployment, solution, env);
    const ackedAtKill: number[] = [];
    for (const threshold of KILL_AT) {
      await waitFor(`${threshold} acknowledged messages (${sim.stderr()})`, () => new Set(ids(ackFile)).size >= threshold, 30_000);
      const left = readPids(ws);
      expect(left.map((p) => p.moduleId).sort()).toEqual(['receiver', 'sender']);
      for (const p of left) expect(processStartTime(p.pid)).toBe(p.startTime);
      sim.child.kill('SIGKILL');
      await sim.exited;
      ackedAtKill.push(new Set(ids(ackFile)).size);
      // The killed simulator's modules run on, detached, until the next run ends them.
      expect(left.some((p) => processStartTime(p.pid) === p.startTime)).toBe(true);
      sim = await simulate(ws, deployment, solution, env);
      for (const p of left) expect(processStartTime(p.pid), `module ${p.moduleId} (pid ${p.pid}) of the killed run`).not.toBe(p.startTime);
    }
    await waitFor('every message acknowledged and received', () => {
      const received = new Set(ids(recvFile));
      const acked = new Set(ids(ackFile));
      return acked.size === TOTAL && [...acked].every((id) => received.has(id));
    }, 40_000).catch(() => undefined);

    const acked = ids(ackFile);
    const received = ids(recvFile);
    const receivedSet = new Set(received);
    const ackedSet = new Set(acked);
    const lost = [...ackedSet].filter((id) => !receivedSet.has(id));
    const duplicates = received.length - receivedSet.size;
    const unacknowledgedReceived = [...receivedSet].filter((id) => !ackedSet.has(id)).length;
    console.log(`simulate-crash: ${TOTAL} messages, killed at ${ackedAtKill.join(', ')} acknowledged; acknowledged ${ackedSet.size} (${acked.length - ackedSet.size} acknowledged twice), `
      + `received ${receivedSet.size} distinct / ${received.length} deliveries (${duplicates} duplicates, ${unacknowledgedReceived} received without an acknowledgement), lost ${lost.length}; ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(lost).toEqual([]);
    expect(ackedSet.size).toBe(TOTAL);

    const pids = readPids(ws);
    expect(pids.map((p) => p.moduleId).sort()).toEqual(['receiver', 'sender']);
    sim.child.kill('SIGTERM');
    await sim.exited;
    expect(sim.child.exitCode).toBe(0);
    expect(readPids(ws)).toEqual([]); // a clean stop leaves nothing to end
    for (const p of pids) expect(processStartTime(p.pid)).not.toBe(p.startTime);
  }, 110_000);
});

describe.runIf(onLinux)('leftover module processes', () => {
  it('ends a recorded process group, and never signals a pid whose start time differs', async () => {
    const spawnGroup = (): ChildProcess => {
      const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
      children.push(c);
      return c;
    };
    const a = spawnGroup();
    const b = spawnGroup();
    await waitFor('the processes to start', () => processStartTime(a.pid!) !== undefined && processStartTime(b.pid!) !== undefined, 5_000);
    const startA = processStartTime(a.pid!)!;
    const startB = processStartTime(b.pid!)!;
    // b's pid with another start time: what a recycled pid looks like.
    expect(await endRecordedProcess({ moduleId: 'b', pid: b.pid!, startTime: String(BigInt(startB) + 1n) }, 2_000)).toBe('recycled');
    expect(await endRecordedProcess({ moduleId: 'a', pid: a.pid!, startTime: startA }, 2_000)).toBe('ended');
    await waitFor('a to be reaped', () => a.exitCode !== null || a.signalCode !== null, 5_000);
    expect(a.signalCode).toBe('SIGTERM');
    expect(processStartTime(b.pid!)).toBe(startB);
    expect(b.exitCode === null && b.signalCode === null).toBe(true);
    expect(await endRecordedProcess({ moduleId: 'a', pid: a.pid!, startTime: startA }, 2_000)).toBe('gone');
    b.kill('SIGKILL');
  });
});

describe('a module started by hand across a simulator restart', () => {
  // azure-iot-device-mqtt 1.16.4 subscribes to inputs and methods again after a reconnect, but its twin
  // topics ($iothub/twin/res/#, .../PATCH/properties/desired/#) only once per client: the session must keep them.
  it('keeps its inputs, methods and twin (responses and desired patches): its clean=false subscriptions survive the restart', async () => {
    const ws = tempWorkspace();
    const port = await freePort();
    const doc = manifest({ receiver: { status: 'stopped', startupOrder: 1 }, sender: { status: 'stopped', startupOrder: 2 } }, {
      toReceiver: 'FROM /messages/modules/sender/outputs/out INTO BrokeredEndpoint("/modules/receiver/inputs/in")',
    });
    const start = (): Promise<Simulation> => Simulation.start({ workspace: ws, name: 'manual', manifest: parseDeploymentManifestText(JSON.stringify(doc)), mqttPort: port, httpsPort: null });
    let sim = await start();
    const connect = async (moduleId: string): Promise<device.ModuleClient> => {
      const cred = sim.moduleCredentials(moduleId);
      const client = device.ModuleClient.fromConnectionString(cred.EdgeHubConnectionString, deviceMqtt.Mqtt);
      await client.setOptions({ ca: readFileSync(cred.EdgeModuleCACertificateFile, 'utf8') });
      await client.open();
      return client;
    };
    const receiver = await connect('receiver');
    const sender = await connect('sender');
    const got: string[] = [];
    receiver.on('inputMessage', (input, msg) => {
      got.push(`${input}:${String(msg.data)}`);
      receiver.complete(msg, () => undefined);
    });
    receiver.onMethod('ping', (req, res) => void res?.send(200, { pong: req?.payload as unknown }));
    const twin = await receiver.getTwin();
    const desired: unknown[] = [];
    twin.on('properties.desired', (patch: Record<string, unknown>) => desired.push(patch['step']));
    const report = (patch: Record<string, unknown>): Promise<void> => new Promise((resolve, reject) => twin.properties.reported.update(patch, (e?: Error) => (e ? reject(e) : resolve())));
    let reconnects = 0;
    receiver.on('connect', () => reconnects++);
    try {
      await waitFor('the receiver to connect', () => sim.broker.isConnected(`${sim.identities.deviceId}/receiver`), 10_000);
      await sender.sendOutputEvent('out', new device.Message('before'));
      await waitFor('"before"', () => got.includes('in:before'), 10_000);
      expect(readFileSync(join(sim.dir, 'sessions.json'), 'utf8')).toContain('/inputs/#');
      expect(await sim.invoke('receiver', 'ping', 1, { timeoutSecs: 5 })).toEqual({ status: 200, payload: { pong: 1 } });

      await sim.stop();
      const before = reconnects;
      sim = await start();
      await waitFor('the receiver to reconnect', () => reconnects > before && sim.broker.isConnected(`${sim.identities.deviceId}/receiver`), 20_000);
      await sender.sendOutputEvent('out', new device.Message('after'));
      await waitFor('"after" through the restored subscription', () => got.includes('in:after'), 15_000);
      expect(await sim.invoke('receiver', 'ping', 2, { timeoutSecs: 5 })).toEqual({ status: 200, payload: { pong: 2 } });
      await sim.patchTwin('receiver', { step: 'after' });
      await waitFor('the desired patch', () => desired.includes('after'), 10_000);
      await report({ seen: 'after' }); // answered on $iothub/twin/res/#
      expect(sim.twin('receiver').reported).toMatchObject({ seen: 'after' });
    } finally {
      await receiver.close().catch(() => undefined);
      await sender.close().catch(() => undefined);
      await sim.stop();
    }
  }, 60_000);
});

