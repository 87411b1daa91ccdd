/**
 * Starts a scoring service process for the profiler: the caller's command line plus `--port <free port>`
 * (and `--host 127.0.0.1` unless the command names a host), waits until `GET /healthz` answers 200, and
 * stops it with SIGTERM (SIGKILL after a grace period). The command should exec the server itself
 * (`node cli/bin/ferry.js serve ...`) so that SIGTERM reaches it; its output goes to a temporary log whose
 * tail is quoted when it fails to start.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientError } from '../scoring-client/errors.js';
import { ScoringClient } from '../scoring-client/scoring-client.js';

export interface ServeCommand {
  /** The command line without --port, e.g. ['node', 'cli/bin/ferry.js', 'serve', 'cls:1', '--auth', 'none']. */
  command: string[];
  /** Extra environment variables (added to this process's environment). */
  env?: Record<string, string>;
  cwd?: string;
  /** The key to score with when the service uses key auth. */
  key?: string;
  /** How long to wait for /healthz (default 30 000 ms). */
  startTimeoutMs?: number;
}

export interface ServeProcess {
  url: string;
  pid: number;
  /** When the process was spawned and when /healthz first answered 200 (performance.now()). */
  startupMs: number;
  /** SIGTERM, then SIGKILL after `graceMs` (default 10 000); resolves with how it ended. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const PORT_ATTEMPTS = 3;
const LOG_TAIL_BYTES = 4_096;

export async function startServeProcess(serve: ServeCommand, signal?: AbortSignal): Promise<ServeProcess> {
  const [program, ...args] = serve.command;
  if (!program) throw clientError('FERRY_E_PROFILE_OPTIONS_INVALID', 'The serve command line is empty.');
  const logDir = mkdtempSync(join(tmpdir(), 'ferry-profile-serve-'));
  const logPath = join(logDir, 'serve.log');
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const hostGiven = args.includes('--host') || args.some((a) => a.startsWith('--host='));
      const fullArgs = [...args, '--port', String(port), ...(hostGiven ? [] : ['--host', '127.0.0.1'])];
      const host = hostGiven ? hostOf(args) : '127.0.0.1';
      const log = openSync(logPath, 'w');
      const started = performance.now();
      let child: ChildProcess;
      try {
        child = spawn(program, fullArgs, { cwd: serve.cwd, env: { ...process.env, ...serve.env }, stdio: ['ignore', log, log] });
      } finally {
        closeSync(log);
      }
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child.once('exit', (code, sig) => resolve({ code, signal: sig }));
        child.once('error', () => resolve({ code: null, signal: null }));
      });
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      const outcome = await waitReady(url, exited, serve.startTimeoutMs ?? 30_000, signal);
      if (outcome === 'ready' && child.pid !== undefined) {
        const pid = child.pid;
        rmSync(logDir, { recursive: true, force: true });
        return { url, pid, startupMs: performance.now() - started, stop: (graceMs = 10_000) => stopChild(child, exited, graceMs) };
      }
      await stopChild(child, exited, 2_000);
      const tail = readTail(logPath);
      if (outcome === 'exited' && attempt < PORT_ATTEMPTS && /EADDRINUSE|FERRY_E_LISTEN_FAILED/.test(tail)) continue;
      if (signal?.aborted) throw signal.reason;
      const why = outcome === 'exited' ? `exited before it was ready` : `was not ready after ${serve.startTimeoutMs ?? 30_000} ms`;
      throw clientError('FERRY_E_PROFILE_SERVE_FAILED', `The serve process (${[program, ...fullArgs].join(' ')}) ${why}. Its output ends with:\n${tail}`, {
        details: { command: [program, ...fullArgs], outcome },
      });
    }
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}

async function waitReady(url: string, exited: Promise<unknown>, timeoutMs: number, signal: AbortSignal | undefined): Promise<'ready' | 'exited' | 'timeout'> {
  const client = new ScoringClient({ url });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = performance.now() + timeoutMs;
  try {
    while (!gone && !signal?.aborted && performance.now() < deadline) {
      if (await client.ready({ timeoutMs: 1_000 }).catch(() => false)) return 'ready';
      await new Promise((r) => setTimeout(r, 25));
    }
    return gone ? 'exited' : 'timeout';
  } finally {
    client.close();
  }
}

async function stopChild(child: ChildProcess, exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>, graceMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const result = await exited;
    clearTimeout(timer);
    return result;
  }
  return exited;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function hostOf(args: string[]): string {
  const at = args.indexOf('--host');
  const value = at >= 0 ? args[at + 1] : args.find((a) => a.startsWith('--host='))?.slice('--host='.length);
  return !value || value === '0.0.0.0' || value === '::' ? '127.0.0.1' : value;
}

function readTail(path: string): string {
  try {
    const text = readFileSync(path);
    return text.subarray(Math.max(0, text.length - LOG_TAIL_BYTES)).toString('utf8');
  } catch {
    return '(no output)';
  }
}
