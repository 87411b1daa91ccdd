/**
 * The edge benchmark's pipeline: `ferry simulate` run as the real command with two process modules,
 * `sender` (bench/fixtures/edge-sender.mjs, raw float32 images on output `out`) and `scorer` (the scorer
 * module, `node module/dist/edge/main.js`, no-code over the models folder), routed
 *   sender/out -> scorer/amlInput,   scorer/* -> $upstream,
 * and the simulation's local IoT Hub read over its control socket (what `ferry monitor` reads), each
 * upstream message stamped with its reception time in this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { deploymentDocument, type DeploymentDocument } from '@ferry/deployment-manifests';
import { ControlClient, type MonitorEvent, type SimulationModuleStatus, type SimulationStatus } from '@ferry/simulator';
import { FERRY_BIN } from '@ferry/test';
import { ControlServer, type Worker } from './sim-control.js';
import { stopChild } from './processes.js';

export const EDGE_SENDER = fileURLToPath(new URL('../fixtures/edge-sender.mjs', import.meta.url));
export const SCORER_MAIN = fileURLToPath(new URL('../../module/dist/edge/main.js', import.meta.url));
const SIMULATION = 'edge-bench';

export interface Upstream {
  /** ms since the epoch (sub-ms), when this process read it (over the control socket, one hop after the hub). */
  readAt: number;
  event: MonitorEvent;
}

export interface PipelineOptions {
  dir: string;
  /** The scorer's module config (FERRY_MODULE_CONFIG). */
  configFile: string;
  modelsDir: string;
  /** Raw tensor bytes the sender sends, and their shape (`ferry-shape`). */
  inputFile: string;
  shape: readonly number[];
  log: (line: string) => void;
  /** Route the sender straight to $upstream instead (the scorer idles): edgeHub's share of the path. */
  direct?: boolean;
}

function manifest(o: PipelineOptions): DeploymentDocument {
  return deploymentDocument({
    modules: {
      scorer: {
        image: 'example/bench:1.0', restartPolicy: 'always', startupOrder: 1,
        env: { FERRY_MODULE_CONFIG: o.configFile, FERRY_MODELS_DIR: o.modelsDir, FERRY_MODEL_CACHE: join(o.dir, 'model-cache'), FERRY_LOG_LEVEL: 'warn' },
      },
      sender: { image: 'example/bench:1.0', restartPolicy: 'never', startupOrder: 2, env: { BENCH_INPUT: o.inputFile, BENCH_SHAPE: o.shape.join(',') } },
    },
    routes: o.direct
      ? { direct: 'FROM /messages/modules/sender/outputs/out INTO $upstream' }
      : {
        toScorer: 'FROM /messages/modules/sender/outputs/out INTO BrokeredEndpoint("/modules/scorer/inputs/amlInput")',
        scoresUp: 'FROM /messages/modules/scorer/outputs/* INTO $upstream',
      },
  });
}

export class EdgePipeline {
  readonly sender: Worker;
  readonly #child: ChildProcess;
  readonly #control: ControlServer;
  readonly #client: ControlClient;
  readonly #monitor: AbortController;
  /** Upstream messages from the scorer, in arrival order. */
  readonly upstream: Upstream[] = [];
  #waiters: Array<() => void> = [];

  private constructor(child: ChildProcess, control: ControlServer, client: ControlClient, monitor: AbortController, sender: Worker) {
    this.#child = child;
    this.#control = control;
    this.#client = client;
    this.#monitor = monitor;
    this.sender = sender;
  }

  static async start(o: PipelineOptions): Promise<EdgePipeline> {
    mkdirSync(o.dir, { recursive: true });
    const deployment = join(o.dir, 'deployment.json');
    const solution = join(o.dir, 'solution.json');
    const workspace = join(o.dir, 'ws');
    writeFileSync(deployment, JSON.stringify(manifest(o)));
    // FERRY_BENCH_{SENDER,SCORER,SIM}_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to profile a process.
    const nodeArgs = (who: string): string[] => (process.env[`FERRY_BENCH_${who}_NODE_ARGS`] ?? '').split(' ').filter((a) => a !== '');
    writeFileSync(solution, JSON.stringify({
      modules: {
        sender: { command: [process.execPath, ...nodeArgs('SENDER'), EDGE_SENDER], cwd: fileURLToPath(new URL('../fixtures/', import.meta.url)) },
        scorer: { command: [process.execPath, ...nodeArgs('SCORER'), SCORER_MAIN], cwd: o.dir },
      },
    }));
    const control = await ControlServer.listen();
    const child = spawn(process.execPath, [...nodeArgs('SIM'), FERRY_BIN, '--workspace', workspace, '--json', 'simulate', '-d', deployment, '--solution', solution,
      '--name', SIMULATION, '--mqtt-port', '0', '--https-port', '0', '--no-dashboard'], {
      env: { ...process.env, BENCH_CONTROL_PORT: String(control.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"failed"') || line.includes('"exited"')) o.log(`simulate: ${line}`);
    });
    const alive = (): void => {
      if (child.exitCode !== null) throw new Error(`ferry simulate exited with ${child.exitCode}: ${stderr}`);
    };
    const client = ControlClient.forSimulation(workspace, SIMULATION);
    const monitor = new AbortController();
    try {
      const sender = await control.worker('sender', 60_000, alive);
      const pipeline = new EdgePipeline(child, control, client, monitor, sender);
      void client.stream(`/monitor?module=${o.direct ? 'sender' : 'scorer'}`, (item) => pipeline.#received(item as MonitorEvent), monitor.signal).catch((e: unknown) => {
        if (!monitor.signal.aborted) o.log(`monitor stream ended: ${(e as Error).message}`);
      });
      await sender.command('open');
      return pipeline;
    } catch (e) {
      monitor.abort();
      await stopChild(child);
      await control.close();
      throw e;
    }
  }

  #received(event: MonitorEvent): void {
    this.upstream.push({ readAt: performance.timeOrigin + performance.now(), event });
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves once `check` holds (tested on every upstream message), rejects after `timeoutMs`. */
  async until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!check()) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${await this.#diagnosis()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The `ferry simulate` process. */
  get simulatorPid(): number {
    return this.#child.pid as number;
  }

  /** The pids of the simulator, the sender and the scorer now. */
  async pids(): Promise<{ simulator: number; sender: number; scorer: number }> {
    const modules = (await this.status()).modules;
    const pid = (id: string): number => {
      const p = modules.find((m) => m.id === id)?.pid;
      if (p === null || p === undefined) throw new Error(`the ${id} module has no process`);
      return p;
    };
    return { simulator: this.simulatorPid, sender: pid('sender'), scorer: pid('scorer') };
  }

  status(): Promise<SimulationStatus> {
    return this.#client.request<SimulationStatus>('GET', '/status');
  }

  async scorer(): Promise<SimulationModuleStatus> {
    const s = (await this.status()).modules.find((m) => m.id === 'scorer');
    if (!s) throw new Error('the simulation has no scorer module');
    return s;
  }

  /** The scorer's last log lines (what the launcher kept). */
  async scorerLog(lines = 20): Promise<string[]> {
    const out: string[] = [];
    const abort = new AbortController();
    await this.#client.stream('/logs/scorer', (item) => out.push((item as { text: string }).text), abort.signal).catch(() => undefined);
    return out.slice(-lines);
  }

  async #diagnosis(): Promise<string> {
    try {
      const s = await this.scorer();
      const log = await this.scorerLog(8);
      return `; scorer ${s.state} (pid ${s.pid ?? '-'}, restarts ${s.restarts}, exit ${s.exitCode ?? '-'}${s.error ? `, ${s.error.code}` : ''}); ${this.upstream.length} upstream so far; scorer log tail:\n${log.join('\n')}`;
    } catch (e) {
      return `; no status: ${(e as Error).message}`;
    }
  }

  async stop(): Promise<void> {
    this.#monitor.abort();
    this.sender.close();
    await stopChild(this.#child);
    await this.#control.close();
  }
}
