/**
 * One run of a container module: create (after removing a same-named leftover), start, stream its
 * output, wait for it to end, then remove it. The simulator never pulls: it runs offline, so the image
 * must already be in the engine (built, loaded or imported). Docker reports exit codes only; a container
 * killed by a signal ends with 128 + the signal number, as `docker ps` shows it.
 */
import type Docker from 'dockerode';
import type { FerryError } from '@ferry/deployment-manifests';
import { simulatorError } from '../errors.js';
import type { ContainerPlan } from './container-config.js';
import { ContainerLogDemux, type ContainerStream } from './container-log-demux.js';
import { LineSplitter } from './line-splitter.js';

export interface ContainerEnding {
  readonly code: number | null;
  readonly signal: null;
  /** Set when the engine lost track of the run (it went away, or the container vanished). */
  readonly error?: FerryError;
}

export interface ContainerLaunch {
  readonly docker: Docker;
  readonly moduleId: string;
  readonly plan: ContainerPlan;
  readonly onLine: (stream: ContainerStream, text: string) => void;
}

/** How long to wait for the log stream to drain after the container ended. */
const DRAIN_MS = 1000;

const statusOf = (e: unknown): number | undefined => (e as { statusCode?: number }).statusCode;
const engineMessage = (e: unknown): string => {
  const json = (e as { json?: { message?: unknown } }).json;
  return typeof json?.message === 'string' ? json.message : (e as Error).message;
};

export class ModuleContainer {
  readonly #container: Docker.Container;
  readonly #name: string;
  readonly #pid: number | undefined;
  readonly #ended: Promise<ContainerEnding>;
  #running = true;

  private constructor(container: Docker.Container, name: string, pid: number | undefined, ended: Promise<ContainerEnding>) {
    this.#container = container;
    this.#name = name;
    this.#pid = pid;
    this.#ended = ended;
    void ended.then(() => { this.#running = false; });
  }

  /**
   * Resolves once the container runs. Throws FERRY_E_SIM_IMAGE_MISSING when the image is not in the
   * engine, FERRY_E_SIM_CONTAINER_FAILED when the engine refuses to create or start the container.
   */
  static async launch(launch: ContainerLaunch): Promise<ModuleContainer> {
    const { docker, plan, moduleId } = launch;
    const failed = (what: string, cause: unknown): FerryError => simulatorError('FERRY_E_SIM_CONTAINER_FAILED',
      `Cannot ${what} container ${plan.name} of module "${moduleId}": ${engineMessage(cause)}`, { cause, details: { module: moduleId, container: plan.name, image: plan.image } });
    try {
      await docker.getImage(plan.image).inspect();
    } catch (cause) {
      if (statusOf(cause) === 404) {
        throw simulatorError('FERRY_E_SIM_IMAGE_MISSING', `Image ${plan.image} of module "${moduleId}" is not in the Docker engine, and the simulator does not pull (it runs offline)`, {
          cause, details: { module: moduleId, image: plan.image },
        });
      }
      throw failed('inspect the image of', cause);
    }
    await removeContainer(docker.getContainer(plan.name));
    let container: Docker.Container;
    try {
      container = await docker.createContainer(plan.create);
    } catch (cause) {
      throw failed('create', cause);
    }
    try {
      await container.start();
    } catch (cause) {
      await removeContainer(container);
      throw failed('start', cause);
    }
    const pid = await container.inspect().then((i) => (i.State.Pid > 0 ? i.State.Pid : undefined), () => undefined);
    const logs = container.logs({ follow: true, stdout: true, stderr: true })
      .then((stream) => readLogs(stream, plan.tty, launch.onLine), () => undefined);
    const ended = container.wait().then(
      (r: { StatusCode?: number }): ContainerEnding => ({ code: typeof r.StatusCode === 'number' ? r.StatusCode : null, signal: null }),
      (cause: unknown): ContainerEnding => ({ code: null, signal: null, error: failed('wait for', cause) }),
    ).then(async (ending) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([logs, new Promise((r) => { timer = setTimeout(r, DRAIN_MS); })]);
      clearTimeout(timer);
      await removeContainer(container);
      return ending;
    });
    return new ModuleContainer(container, plan.name, pid, ended);
  }

  get name(): string {
    return this.#name;
  }

  get id(): string {
    return this.#container.id;
  }

  /** The container's main process as the host sees it. */
  get pid(): number | undefined {
    return this.#pid;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Settles when the container has ended, its output has been read and it has been removed. */
  get ended(): Promise<ContainerEnding> {
    return this.#ended;
  }

  /** `docker stop`: the container's stop signal (SIGTERM by default), SIGKILL after `graceMs` (whole seconds, rounded up). */
  async stop(graceMs: number): Promise<void> {
    if (!this.#running) return;
    try {
      await this.#container.stop({ t: Math.ceil(Math.max(0, graceMs) / 1000) });
    } catch (e) {
      if (statusOf(e) !== 304 && statusOf(e) !== 404) throw e; // 304: already stopped
    }
  }
}

async function removeContainer(container: Docker.Container): Promise<void> {
  try {
    await container.remove({ force: true });
  } catch {
    // 404: already gone; 409: removal already in progress. Anything else leaves it for the next start's sweep.
  }
}

function readLogs(stream: NodeJS.ReadableStream, tty: boolean, onLine: ContainerLaunch['onLine']): Promise<void> {
  const demux = new ContainerLogDemux(tty);
  const splitters = { stdout: new LineSplitter(), stderr: new LineSplitter() };
  return new Promise((resolve) => {
    stream.on('data', (chunk: Buffer) => {
      for (const { stream: name, data } of demux.push(chunk)) for (const line of splitters[name].push(data)) onLine(name, line);
    });
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      for (const name of ['stdout', 'stderr'] as const) for (const line of splitters[name].end()) onLine(name, line);
      resolve();
    };
    stream.once('end', done);
    stream.once('close', done);
    stream.on('error', () => done());
  });
}
