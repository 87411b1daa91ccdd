/**
 * Runs the real `ferry` command as a subprocess, the way users run it: `node cli/bin/ferry.js ...`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const FERRY_BIN = fileURLToPath(new URL('../../cli/bin/ferry.js', import.meta.url));

export interface FerryRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for --json runs); undefined when it is not JSON. */
  json: unknown;
  /** The `{"error": {...}}` document printed on stderr by a failed --json run. */
  error: { code: string; message: string } | undefined;
}

export interface FerryOptions {
  workspace: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  stdin?: string;
}

export function ferry(args: string[], options: FerryOptions): Promise<FerryRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FERRY_BIN, '--workspace', options.workspace, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.end(options.stdin ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, json: tryJson(stdout), error: errorOf(stderr) });
    });
  });
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorOf(stderr: string): FerryRun['error'] {
  for (const line of stderr.split('\n').reverse()) {
    const doc = tryJson(line) as { error?: { code: string; message: string } } | undefined;
    if (doc?.error) return doc.error;
  }
  const m = /error (FERRY_E_[A-Z0-9_]+): (.*)/.exec(stderr);
  return m ? { code: m[1] as string, message: m[2] as string } : undefined;
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** JSON log lines printed so far. */
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `ferry serve <args> --port 0` and resolves once it has loaded its models (its `ready` log line). */
export function ferryServe(args: string[], options: FerryOptions): Promise<ServeProcess> {
  const child = spawn(process.execPath, [FERRY_BIN, '--workspace', options.workspace, 'serve', ...args, '--port', '0'], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    let url: string | undefined;
    let ready = false;
    lines.on('line', (line) => {
      const event = tryJson(line) as Record<string, unknown> | undefined;
      if (!event) return;
      logs.push(event);
      if (typeof event['url'] === 'string' && String(event['msg']).startsWith('serving')) url = event['url'];
      if (event['msg'] === 'ready') ready = true;
      if (url !== undefined && ready) {
        resolve({
          child,
          url,
          logs,
          exited,
          stop: async (signal = 'SIGTERM') => {
            child.kill(signal);
            return exited;
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`ferry serve exited with ${code} before listening: ${stderr}`)));
  });
}
