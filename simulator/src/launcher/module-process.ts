/**
 * One run of a process module: spawned without a shell in its own process group, output read line by
 * line, signals sent to the group by its id (never by name), so a module that starts children of its own
 * is stopped whole, as a container would be. A module's group never outlives this process (see `groups`).
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { LineSplitter } from './line-splitter.js';

export interface ProcessEnding {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (ENOENT, EACCES, a missing cwd). */
  readonly error?: NodeJS.ErrnoException;
}

export interface ProcessLaunch {
  readonly command: readonly string[];
  readonly cwd: string | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly onLine: (stream: 'stdout' | 'stderr', text: string) => void;
}

/** How long to wait for the output pipes to drain after the process ended before reporting the ending anyway. */
const DRAIN_MS = 1000;

/**
 * The process groups of the modules this process launched whose leader has not exited yet. A module runs
 * detached (its own session), so the kernel does not end it with this process: when this process ends
 * without having stopped its modules (an uncaught exception, such as EPIPE on stdout once the process reading
 * it died, an unhandled rejection, process.exit, with or without a ModuleLauncher.stop() still waiting out a
 * grace period), the 'exit' listener SIGKILLs what is left, else it would run on orphaned (a module
 * retrying the gone edgeHub forever). Only synchronous work is possible there, hence no grace. A SIGKILL of
 * this process cannot be caught: the next run of the simulation ends those groups (process-registry.ts).
 */
const groups = new Set<number>();

function killGroupsOnExit(): void {
  for (const pgid of groups) signalGroup(pgid, 'SIGKILL');
  groups.clear();
}

function track(pgid: number): void {
  if (groups.size === 0) process.on('exit', killGroupsOnExit);
  groups.add(pgid);
}

function untrack(pgid: number): void {
  if (!groups.delete(pgid) || groups.size > 0) return;
  process.off('exit', killGroupsOnExit);
}

export class ModuleProcess {
  readonly #pid: number | undefined;
  readonly #ended: Promise<ProcessEnding>;
  #running: boolean;

  private constructor(pid: number | undefined, ended: Promise<ProcessEnding>, running: boolean) {
    this.#pid = pid;
    this.#ended = ended;
    this.#running = running;
    void ended.then(() => { this.#running = false; });
  }

  /** Resolves once the process has started (or failed to start: then `ended` is already settled with `error`). */
  static launch(launch: ProcessLaunch): Promise<ModuleProcess> {
    const [file, ...args] = launch.command;
    return new Promise((resolve) => {
      let child;
      try {
        child = spawn(file ?? '', args, {
          cwd: launch.cwd,
          env: { ...launch.env },
          shell: false,
          detached: true, // its own process group (setsid), so signals reach the module's own children too
          stdio: ['ignore', 'pipe', 'pipe'],
          windowsHide: true,
        });
      } catch (e) {
        // spawn throws synchronously for some bad arguments (e.g. EINVAL); treat it as a failed start.
        resolve(new ModuleProcess(undefined, Promise.resolve({ code: null, signal: null, error: e as NodeJS.ErrnoException }), false));
        return;
      }
      let settled = false;
      // The group exists from here on (spawn forks and execs before it returns), 'spawn' or not.
      if (child.pid !== undefined) track(child.pid);
      const pipes = [read(child.stdout, 'stdout', launch.onLine), read(child.stderr, 'stderr', launch.onLine)];
      const ended = new Promise<ProcessEnding>((end) => {
        child.once('exit', (code, signal) => {
          const pid = child.pid;
          // The group leader is gone: end what it left behind, as a container's processes end with its init.
          if (pid !== undefined) {
            signalGroup(pid, 'SIGKILL');
            untrack(pid);
          }
          const timer = setTimeout(() => end({ code, signal }), DRAIN_MS);
          void Promise.all(pipes).then(() => { clearTimeout(timer); end({ code, signal }); });
        });
        child.on('error', (error: NodeJS.ErrnoException) => {
          if (settled) return; // errors after the start (a failed kill) change nothing about the run
          settled = true;
          end({ code: null, signal: null, error });
          resolve(new ModuleProcess(undefined, ended, false));
        });
      });
      child.once('spawn', () => {
        if (settled) return;
        settled = true;
        resolve(new ModuleProcess(child.pid, ended, true));
      });
    });
  }

  get pid(): number | undefined {
    return this.#pid;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Settles when the process has ended and its output has been read. */
  get ended(): Promise<ProcessEnding> {
    return this.#ended;
  }

  /** Sends `sig` to the module's process group; false when there is nothing left to signal. */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.#running || this.#pid === undefined) return false;
    return signalGroup(this.#pid, sig);
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch {
    return false; // ESRCH: the group is empty already
  }
}

function read(stream: Readable, name: 'stdout' | 'stderr', onLine: ProcessLaunch['onLine']): Promise<void> {
  const splitter = new LineSplitter();
  return new Promise((resolve) => {
    stream.on('data', (chunk: Buffer) => { for (const line of splitter.push(chunk)) onLine(name, line); });
    stream.once('close', () => {
      for (const line of splitter.end()) onLine(name, line);
      resolve();
    });
    stream.on('error', () => { /* the pipe broke: 'close' follows */ });
  });
}
