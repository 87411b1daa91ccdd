/**
 * The two relays the simulator benchmark compares, each with its sender and receiver as separate
 * processes (bench/fixtures/sim-worker.mjs):
 * - `ferry simulate` run as the real command, the two workers being modules of its solution (the real
 *   azure-iot-device ModuleClient over MQTT/TLS, fromEnvironment), one route with a WHERE condition,
 *   store-and-forward on (the default);
 * - Debian's mosquitto over TLS (a self-signed RSA 2048 certificate made here, as the simulator's
 *   server certificate is RSA 2048) with MQTT.js 4.3.8 clients.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { deploymentDocument, type DeploymentDocument } from '@ferry/deployment-manifests';
import { FERRY_BIN } from '@ferry/test';
import { ControlServer, type Worker } from './sim-control.js';
import { freePort, stopChild } from './processes.js';

export const WORKER = fileURLToPath(new URL('../fixtures/sim-worker.mjs', import.meta.url));
export const MOSQUITTO = '/usr/sbin/mosquitto';
/** The route under test: its condition reads the JSON body, so it is evaluated for every message (and true). */
export const ROUTE = `FROM /messages/modules/sender/outputs/out WHERE $body.kind = 'x' OR kind = 'y' INTO BrokeredEndpoint("/modules/receiver/inputs/in")`;

export interface Relay {
  readonly name: string;
  readonly sender: Worker;
  readonly receiver: Worker;
  /** The relaying process (the simulator, or mosquitto). */
  readonly pid: number;
  stop(): Promise<void>;
}

function manifest(): DeploymentDocument {
  const module = { image: 'example/bench:1.0', restartPolicy: 'never' } as const;
  return deploymentDocument({
    modules: { receiver: { ...module, startupOrder: 1 }, sender: { ...module, startupOrder: 2 } },
    routes: { senderToReceiver: ROUTE },
  });
}

/** Starts `ferry simulate` on a fresh workspace under `dir`, with the sender and receiver as modules. */
export async function startSimulator(dir: string, log: (line: string) => void): Promise<Relay> {
  mkdirSync(dir, { recursive: true });
  const deployment = join(dir, 'deployment.json');
  const solution = join(dir, 'solution.json');
  writeFileSync(deployment, JSON.stringify(manifest()));
  const cwd = fileURLToPath(new URL('../fixtures/', import.meta.url));
  writeFileSync(solution, JSON.stringify({
    modules: {
      sender: { command: [process.execPath, WORKER, 'sender', 'iot'], cwd },
      receiver: { command: [process.execPath, WORKER, 'receiver', 'iot'], cwd },
    },
  }));
  const control = await ControlServer.listen();
  // FERRY_BENCH_SIM_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to profile the simulator.
  const nodeArgs = (process.env['FERRY_BENCH_SIM_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, FERRY_BIN, '--workspace', join(dir, 'ws'), '--json', 'simulate', '-d', deployment,
    '--solution', solution, '--name', 'bench', '--mqtt-port', '0', '--https-port', '0'], {
    env: { ...process.env, BENCH_CONTROL_PORT: String(control.port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.includes('"failed"') || line.includes('"exited"')) log(`simulate: ${line}`);
  });
  const alive = (): void => {
    if (child.exitCode !== null) throw new Error(`ferry simulate exited with ${child.exitCode}: ${stderr}`);
  };
  try {
    const sender = await control.worker('sender', 60_000, alive);
    const receiver = await control.worker('receiver', 60_000, alive);
    await Promise.all([receiver.command('open'), sender.command('open')]);
    return {
      name: 'ferry simulate',
      sender,
      receiver,
      pid: child.pid!,
      async stop() {
        await stopChild(child, 10_000);
        await control.close();
      },
    };
  } catch (e) {
    await stopChild(child, 10_000);
    await control.close();
    throw e;
  }
}

/** A self-signed server certificate for localhost (made once per benchmark run). */
function certificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'mosquitto-cert.pem');
  const key = join(dir, 'mosquitto-key.pem');
  if (!existsSync(cert)) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  }
  return { cert, key };
}

async function waitListening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`mosquitto did not listen on ${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * mosquitto on a free loopback port over TLS. Its window towards the subscriber is the simulator's
 * (64 in flight); its queue is unbounded, as the simulator's store is, so it never drops a QoS 1 message.
 */
export async function startMosquitto(dir: string, window: number): Promise<Relay> {
  mkdirSync(dir, { recursive: true });
  const { cert, key } = certificate(join(dir, '..'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [
    `listener ${port} 127.0.0.1`,
    `certfile ${cert}`,
    `keyfile ${key}`,
    'allow_anonymous true',
    'persistence false',
    `max_inflight_messages ${window}`,
    'max_queued_messages 0',
    `user ${userInfo().username}`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n'));
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const control = await ControlServer.listen();
  const workers: ChildProcess[] = [];
  try {
    await waitListening(port, child, () => stderr);
    const env = { ...process.env, BENCH_CONTROL_PORT: String(control.port), BENCH_MQTT_URL: `mqtts://localhost:${port}`, BENCH_MQTT_CA: cert };
    for (const role of ['receiver', 'sender']) workers.push(spawn(process.execPath, [WORKER, role, 'mqtt'], { env, stdio: 'inherit' }));
    const alive = (): void => {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${stderr}`);
    };
    const sender = await control.worker('sender', 30_000, alive);
    const receiver = await control.worker('receiver', 30_000, alive);
    await receiver.command('open');
    await sender.command('open');
    return {
      name: 'mosquitto',
      sender,
      receiver,
      pid: child.pid!,
      async stop() {
        for (const w of workers) await stopChild(w, 10_000);
        await control.close();
        await stopChild(child, 10_000);
      },
    };
  } catch (e) {
    for (const w of workers) await stopChild(w, 10_000);
    await control.close();
    await stopChild(child, 10_000);
    throw e;
  }
}
