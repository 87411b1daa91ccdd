/**
 * The launcher's executor: performs the planner's steps (launch-plan.ts, restart-policy.ts) on real
 * processes, tracks each module's state, and keeps its output (issue 3 §6: `ferry status`, `ferry logs`).
 */
import { EventEmitter } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { isFerryError, type FerryError } from '@ferry/deployment-manifests';
import { simulatorError } from '../errors.js';
import { compareStartupOrder, planStart, planStop, type ExtraEnv, type LaunchStep, type StartContainerStep, type StartProcessStep, type StartStep } from './launch-plan.js';
import { LogBuffer, type LogLine, type LogStream } from './log-buffer.js';
import { ModuleProcess, type ProcessEnding } from './module-process.js';
import type { DesiredStatus, ModuleSpec, RestartPolicy } from './module-spec.js';
import { DEFAULT_RESTART_OPTIONS, planRestart, type RestartOptions } from './restart-policy.js';
import { planContainer, type ContainerScope } from './container-config.js';
import { connectDockerEngine, locateDockerEngine, removeLeftoverContainers } from './container-engine.js';
import { ModuleContainer, type ContainerEnding } from './container-run.js';

/**
 * `starting`: being launched; `running`: its process runs; `backoff`: ended, waiting to be restarted;
 * `stopped`: stopped by the launcher, or its desired status is stopped (or its turn has not come yet);
 * `exited`: ended with code 0 and its policy does not restart it; `failed`: ended badly and is not
 * restarted (policy, restart limit, could not be started, or Docker is unavailable).
 */
export type ModuleState = 'starting' | 'running' | 'backoff' | 'stopped' | 'failed' | 'exited';

/** One module's status, as `ferry status` prints it (JSON-ready: absent values are null, times ISO 8601). */
export interface ModuleStatus {
  readonly id: string;
  readonly kind: 'process' | 'container';
  readonly state: ModuleState;
  readonly desiredStatus: DesiredStatus;
  readonly restartPolicy: RestartPolicy;
  readonly startupOrder: number | null;
  /** The running process's id (the leader of its process group). */
  readonly pid: number | null;
  /** A container module's container name while its container exists. */
  readonly container: string | null;
  /** Restarts performed by the restart policy since the launcher started. */
  readonly restarts: number;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly startedAt: string | null;
  readonly exitedAt: string | null;
  /** While in backoff: when the next start is due. */
  readonly nextRestartAt: string | null;
  /** Why the module could not be started (FERRY_E_SIM_MODULE_START_FAILED, FERRY_E_SIM_DOCKER_UNAVAILABLE). */
  readonly error: { readonly code: string; readonly message: string } | null;
}

export interface LauncherOptions {
  /** Lines of output kept per module (default 1000). */
  readonly logLines?: number;
  /** A folder (under the simulator workspace) where each module's output is appended to `<module>.log`. */
  readonly logDir?: string;
  /** How long a module has after SIGTERM before SIGKILL (default 10 s, as `docker stop`). */
  readonly stopGraceMs?: number;
  /** Backoff and restart limits; edgeAgent's defaults (restart-policy.ts) where not given. */
  readonly restart?: Partial<RestartOptions>;
  /** The environment modules inherit under their own (default: this process's). */
  readonly baseEnv?: Readonly<Record<string, string | undefined>>;
  /**
   * Which simulation container modules belong to (their names and labels; the leftovers of an earlier
   * run of the same scope are removed before the first container starts). The engine is found from
   * DOCKER_HOST in `baseEnv`, else /var/run/docker.sock.
   */
  readonly containers?: ContainerScope;
}

export interface LogsOptions {
  /** Keep streaming new lines until `signal` aborts or the launcher stops (`ferry logs -f`). */
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
  /** Start at this line number instead of the oldest buffered line. */
  readonly fromSeq?: number;
}

export interface LauncherEvents {
  /** A module's state changed (or its restart count, pid, exit code). */
  state: [ModuleStatus];
  /** Something went wrong that does not stop the module (a log file could not be written). */
  warning: [FerryError];
}

interface ModuleRecord {
  readonly id: string;
  readonly startupOrder: number | undefined;
  readonly desiredStatus: DesiredStatus;
  readonly restartPolicy: RestartPolicy;
  readonly kind: 'process' | 'container';
  readonly logs: LogBuffer;
  step: StartStep | undefined;
  state: ModuleState;
  process: ModuleProcess | undefined;
  container: ModuleContainer | undefined;
  /** Settles when the current launch has been performed. */
  launching: Promise<void> | undefined;
  /** Settles when the current run's ending has been handled. */
  run: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
  stopRequested: boolean;
  restarts: number;
  restartCount: number;
  startedAt: number | undefined;
  exitedAt: number | undefined;
  nextRestartAt: number | undefined;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  error: { code: string; message: string } | null;
  logFile: WriteStream | undefined;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export class ModuleLauncher extends EventEmitter<LauncherEvents> {
  readonly #modules = new Map<string, ModuleRecord>();
  readonly #logLines: number;
  readonly #logDir: string | undefined;
  readonly #stopGraceMs: number;
  readonly #restart: RestartOptions;
  readonly #baseEnv: Record<string, string>;
  readonly #scope: ContainerScope;
  #docker: Promise<Docker> | undefined;
  #started = false;
  #closed = false;

  constructor(options: LauncherOptions = {}) {
    super();
    this.#logLines = options.logLines ?? 1000;
    this.#stopGraceMs = options.stopGraceMs ?? 10_000;
    const given = Object.entries(options.restart ?? {}).filter(([, v]) => v !== undefined);
    this.#restart = { ...DEFAULT_RESTART_OPTIONS, ...Object.fromEntries(given) };
    this.#baseEnv = Object.fromEntries(Object.entries(options.baseEnv ?? process.env).filter((e): e is [string, string] => e[1] !== undefined));
    this.#logDir = options.logDir;
    this.#scope = options.containers ?? { simulation: 'launcher', scope: options.logDir ?? `pid-${process.pid}` };
    if (this.#logDir !== undefined) {
      try {
        mkdirSync(this.#logDir, { recursive: true });
      } catch (cause) {
        throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `Cannot create the module log folder ${this.#logDir}`, { cause });
      }
    }
  }

  /**
   * Starts a solution: every module in startupOrder (ties by id), one after the other, each as soon as
   * the previous one's process has been launched (edgeAgent does not wait for readiness either).
   * Throws FERRY_E_SIM_MODULE_SPEC_INVALID before starting anything; a module that cannot be started
   * does not stop the others: its status says why. Resolves with every module's status.
   */
  async start(specs: readonly ModuleSpec[], extraEnv: ExtraEnv = {}): Promise<ModuleStatus[]> {
    if (this.#started || this.#closed) {
      throw simulatorError('FERRY_E_SIM_LAUNCHER_STATE', this.#closed ? 'The launcher has been stopped' : 'The launcher has already started a solution');
    }
    const steps = planStart(specs, extraEnv);
    this.#started = true;
    for (const spec of [...specs].sort(compareStartupOrder)) this.#register(spec);
    for (const step of steps) {
      if (this.#closed) break;
      await this.#execute(step);
    }
    return this.status();
  }

  /** Stops every live module in the reverse of the start order, then ends log followers. */
  async stop(): Promise<ModuleStatus[]> {
    this.#closed = true;
    const records = [...this.#modules.values()];
    const steps = planStop(records.map((r) => ({ id: r.id, startupOrder: r.startupOrder, live: isLive(r) })));
    for (const step of steps) await this.#execute(step);
    for (const r of records) {
      r.logs.close();
      r.logFile?.end();
      r.logFile = undefined;
    }
    return this.status();
  }

  /**
   * Starts a module added to the running solution, or restarts one whose spec changed (a manifest reload,
   * as edgeAgent applies a new deployment): the old run is stopped first; the module's log buffer and file
   * carry over, its restart count starts again. Throws FERRY_E_SIM_MODULE_SPEC_INVALID or
   * FERRY_E_SIM_LAUNCHER_STATE (before start or after stop).
   */
  async apply(spec: ModuleSpec, env: Readonly<Record<string, string>> = {}): Promise<ModuleStatus> {
    if (!this.#started || this.#closed) {
      throw simulatorError('FERRY_E_SIM_LAUNCHER_STATE', this.#closed ? 'The launcher has been stopped' : 'The launcher has not started a solution yet');
    }
    const [step] = planStart([spec], { [spec.id]: env });
    const old = this.#modules.get(spec.id);
    if (old && isLive(old)) await this.#execute({ kind: 'stop', moduleId: old.id });
    this.#register(spec, old);
    if (step) await this.#execute(step);
    return this.#snapshot(this.#record(spec.id));
  }

  /** Stops one module: SIGTERM to its process group, SIGKILL after the grace period; a module in backoff stays stopped. */
  async stopModule(id: string): Promise<ModuleStatus> {
    await this.#execute({ kind: 'stop', moduleId: this.#record(id).id });
    return this.#snapshot(this.#record(id));
  }

  /** Every module's status, in start order. */
  status(): ModuleStatus[] {
    return [...this.#modules.values()].map((r) => this.#snapshot(r));
  }

  /** One module's status; throws FERRY_E_SIM_MODULE_UNKNOWN. */
  moduleStatus(id: string): ModuleStatus {
    return this.#snapshot(this.#record(id));
  }

  /**
   * A module's buffered output, oldest first; with `follow`, then every new line until `signal` aborts,
   * the caller breaks out of the loop, or the launcher stops. Throws FERRY_E_SIM_MODULE_UNKNOWN.
   */
  logs(id: string, options: LogsOptions = {}): AsyncGenerator<LogLine, void, undefined> {
    const buffer = this.#record(id).logs;
    if (options.follow) return buffer.follow({ fromSeq: options.fromSeq, signal: options.signal });
    const lines = buffer.since(options.fromSeq);
    return (async function* snapshot() { yield* lines; })();
  }

  // ---- executor -------------------------------------------------------------------------------

  async #execute(step: LaunchStep): Promise<void> {
    const record = this.#record(step.moduleId);
    switch (step.kind) {
      case 'keep-stopped':
        this.#set(record, 'stopped');
        return;
      case 'start-process':
      case 'start-container':
        record.step = step;
        record.stopRequested = false;
        await this.#launch(record);
        return;
      case 'stop':
        await this.#stop(record);
        return;
    }
  }

  #launch(record: ModuleRecord): Promise<void> {
    const step = record.step;
    if (!step) return Promise.resolve();
    const launching = step.kind === 'start-process' ? this.#launchProcess(record, step) : this.#launchContainer(record, step);
    record.launching = launching;
    return launching;
  }

  async #launchProcess(record: ModuleRecord, step: StartProcessStep): Promise<void> {
    record.error = null;
    record.nextRestartAt = undefined;
    this.#set(record, 'starting');
    const proc = await ModuleProcess.launch({
      command: step.command,
      cwd: step.cwd,
      env: { ...this.#baseEnv, ...step.env },
      onLine: (stream, text) => this.#log(record, stream, text),
    });
    const startedAt = Date.now();
    record.startedAt = startedAt;
    record.exitCode = null;
    record.signal = null;
    record.exitedAt = undefined;
    if (proc.running) {
      record.process = proc;
      this.#log(record, 'launcher', `started ${JSON.stringify(step.command)} as pid ${String(proc.pid)}`);
      this.#set(record, 'running');
    }
    record.run = proc.ended.then((ending) => this.#ended(record, ending, startedAt));
    if (!proc.running) await record.run;
  }

  /**
   * One run of a container module (container-run.ts). A module that cannot be started (no engine, the
   * image missing, the engine refusing the container) is `failed` and not restarted: none of these mends
   * itself within a backoff. Once it ran, its ending goes through the restart policy like a process's.
   */
  async #launchContainer(record: ModuleRecord, step: StartContainerStep): Promise<void> {
    record.error = null;
    record.nextRestartAt = undefined;
    this.#set(record, 'starting');
    let run: ModuleContainer;
    try {
      const plan = planContainer(this.#scope, step);
      const docker = await this.#engine(record);
      for (const warning of plan.warnings) {
        this.#log(record, 'launcher', `${warning.code}: ${warning.message}`);
        this.emit('warning', warning);
      }
      run = await ModuleContainer.launch({ docker, plan, moduleId: record.id, onLine: (stream, text) => this.#log(record, stream, text) });
    } catch (e) {
      const error = isFerryError(e) ? e : simulatorError('FERRY_E_SIM_CONTAINER_FAILED', `Cannot run module "${record.id}" (image ${step.image}): ${(e as Error).message}`, {
        cause: e, details: { module: record.id, image: step.image },
      });
      record.error = { code: error.code, message: error.message };
      this.#log(record, 'launcher', `${error.code}: ${error.message}`);
      this.#set(record, 'failed');
      return;
    }
    const startedAt = Date.now();
    record.startedAt = startedAt;
    record.exitCode = null;
    record.signal = null;
    record.exitedAt = undefined;
    record.container = run;
    this.#log(record, 'launcher', `started container ${run.name} (image ${step.image})${run.pid === undefined ? '' : ` as pid ${String(run.pid)}`}`);
    this.#set(record, 'running');
    record.run = run.ended.then((ending) => this.#containerEnded(record, ending, startedAt));
  }

  /** The Docker engine, reached once; its first use removes the containers an earlier run of this scope left. */
  #engine(record: ModuleRecord): Promise<Docker> {
    if (!this.#docker) {
      const connecting = (async () => {
        const docker = await connectDockerEngine(locateDockerEngine(this.#baseEnv));
        const removed = await removeLeftoverContainers(docker, this.#scope);
        if (removed.length > 0) this.#log(record, 'launcher', `removed containers left by an earlier run: ${removed.join(', ')}`);
        return docker;
      })();
      this.#docker = connecting;
      // Not reached: try again at the next container start.
      connecting.catch(() => { if (this.#docker === connecting) this.#docker = undefined; });
    }
    return this.#docker;
  }

  #containerEnded(record: ModuleRecord, ending: ContainerEnding, startedAt: number): void {
    record.container = undefined;
    if (ending.error) {
      record.error = { code: ending.error.code, message: ending.error.message };
      this.#log(record, 'launcher', `${ending.error.code}: ${ending.error.message}`);
    }
    this.#ended(record, { code: ending.code, signal: null }, startedAt);
  }

  async #stopContainer(record: ModuleRecord, run: ModuleContainer): Promise<void> {
    this.#log(record, 'launcher', `stopping: docker stop ${run.name} (${this.#stopGraceMs} ms grace), then removing it`);
    try {
      await run.stop(this.#stopGraceMs);
    } catch (e) {
      this.#log(record, 'launcher', `docker stop failed: ${(e as Error).message}`);
    }
    await record.run;
  }

  #ended(record: ModuleRecord, ending: ProcessEnding, startedAt: number): void {
    const at = Date.now();
    record.process = undefined;
    record.exitCode = ending.code;
    record.signal = ending.signal;
    record.exitedAt = at;
    if (ending.error) {
      const error = simulatorError('FERRY_E_SIM_MODULE_START_FAILED', `Cannot start module "${record.id}" (${JSON.stringify(record.step?.kind === 'start-process' ? record.step.command : [])}): ${ending.error.code ?? ending.error.message}`, {
        cause: ending.error, details: { module: record.id, errno: ending.error.code },
      });
      record.error = { code: error.code, message: error.message };
      this.#log(record, 'launcher', error.message);
    } else {
      this.#log(record, 'launcher', ending.signal ? `ended by ${ending.signal}` : `exited with code ${String(ending.code)}`);
    }
    const decision = planRestart(
      { moduleId: record.id, restartPolicy: record.restartPolicy, restartCount: record.restartCount, startedAt },
      { code: ending.code, signal: ending.signal, at, stopRequested: record.stopRequested || this.#closed },
      this.#restart,
    );
    if (decision.kind === 'settle') {
      record.restartCount = decision.restartCount;
      if (decision.reason === 'restart-limit') this.#log(record, 'launcher', `not restarted: ${this.#restart.maxRestarts} restarts already`);
      this.#set(record, decision.state);
      return;
    }
    record.nextRestartAt = at + decision.delayMs;
    this.#log(record, 'launcher', `restarting in ${decision.delayMs} ms (restart ${decision.restartCount})`);
    record.timer = setTimeout(() => {
      record.timer = undefined;
      record.restarts++;
      record.restartCount = decision.restartCount;
      void this.#launch(record);
    }, decision.delayMs);
    this.#set(record, 'backoff');
  }

  async #stop(record: ModuleRecord): Promise<void> {
    record.stopRequested = true;
    if (record.timer) {
      clearTimeout(record.timer);
      record.timer = undefined;
      record.nextRestartAt = undefined;
      this.#log(record, 'launcher', 'stopped while waiting to restart');
      this.#set(record, 'stopped');
      return;
    }
    await record.launching;
    if (record.container) {
      await this.#stopContainer(record, record.container);
      return;
    }
    const proc = record.process;
    if (!proc) return;
    this.#log(record, 'launcher', `stopping: SIGTERM to pid ${String(proc.pid)}`);
    proc.signal('SIGTERM');
    const kill = setTimeout(() => {
      this.#log(record, 'launcher', `still running ${this.#stopGraceMs} ms after SIGTERM: SIGKILL`);
      proc.signal('SIGKILL');
    }, this.#stopGraceMs);
    try {
      await record.run;
    } finally {
      clearTimeout(kill);
    }
  }

  // ---- bookkeeping ----------------------------------------------------------------------------

  #register(spec: ModuleSpec, previous?: ModuleRecord): void {
    const record: ModuleRecord = {
      id: spec.id,
      startupOrder: spec.startupOrder,
      desiredStatus: spec.status,
      restartPolicy: spec.restartPolicy,
      kind: spec.run.kind,
      logs: previous?.logs ?? new LogBuffer(this.#logLines),
      step: undefined,
      state: 'stopped',
      process: undefined,
      container: undefined,
      launching: undefined,
      run: undefined,
      timer: undefined,
      stopRequested: false,
      restarts: 0,
      restartCount: 0,
      startedAt: undefined,
      exitedAt: undefined,
      nextRestartAt: undefined,
      exitCode: null,
      signal: null,
      error: null,
      logFile: previous ? previous.logFile : this.#openLogFile(spec.id),
    };
    this.#modules.set(spec.id, record);
  }

  #openLogFile(id: string): WriteStream | undefined {
    if (this.#logDir === undefined) return undefined;
    const file = join(this.#logDir, `${id}.log`);
    const stream = createWriteStream(file, { flags: 'a' });
    stream.once('error', (cause) => {
      const record = this.#modules.get(id);
      if (record) record.logFile = undefined;
      this.emit('warning', simulatorError('FERRY_E_SIM_WORKSPACE_IO', `Cannot write the log file of module "${id}" (${file})`, { cause }));
    });
    return stream;
  }

  #record(id: string): ModuleRecord {
    const record = this.#modules.get(id);
    if (!record) throw simulatorError('FERRY_E_SIM_MODULE_UNKNOWN', `The launcher has no module "${id}"`, { details: { module: id } });
    return record;
  }

  #log(record: ModuleRecord, stream: LogStream, text: string): void {
    const line = record.logs.push(stream, text);
    record.logFile?.write(`${line.time} ${stream} ${text}\n`);
  }

  #set(record: ModuleRecord, state: ModuleState): void {
    record.state = state;
    this.emit('state', this.#snapshot(record));
  }

  #snapshot(r: ModuleRecord): ModuleStatus {
    return {
      id: r.id,
      kind: r.kind,
      state: r.state,
      desiredStatus: r.desiredStatus,
      restartPolicy: r.restartPolicy,
      startupOrder: r.startupOrder ?? null,
      pid: r.process?.pid ?? r.container?.pid ?? null,
      container: r.container?.name ?? null,
      restarts: r.restarts,
      exitCode: r.exitCode,
      signal: r.signal,
      startedAt: iso(r.startedAt),
      exitedAt: iso(r.exitedAt),
      nextRestartAt: r.state === 'backoff' ? iso(r.nextRestartAt) : null,
      error: r.error,
    };
  }
}

function isLive(r: ModuleRecord): boolean {
  return r.process !== undefined || r.container !== undefined || r.timer !== undefined || r.state === 'starting';
}
