/**
 * Module processes never outlive the simulator process that launched them. They run detached (their own
 * session and process group), so the kernel does not end them with their parent: a simulator that ended
 * without stopping them (an uncaught exception such as EPIPE on its stdout once the process reading it
 * died, an unhandled rejection, process.exit, or any of these while stop() was still waiting out a grace
 * period) used to leave them running with ppid 1, a scorer retrying the gone edgeHub forever.
 * A child process (fixtures/ending-simulator.ts, bundled here) starts real modules and ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleChildScript } from '@ferry/test';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { endRecordedProcess, processStartTime, type RecordedProcess } from '../src/launcher/process-registry.js';

const here = dirname(fileURLToPath(import.meta.url));
const moduleFixture = join(here, 'fixtures/launcher/module.mjs');
let root: string;
let simulator: string;
/** Every module process seen, ended after the tests whatever they found (a failing run leaves them running). */
const seen: RecordedProcess[] = [];

/** Bundles the child and the launcher source into one .mjs; packages stay external, by absolute path. */
function bundleChild(outDir: string): Promise<string> {
  return bundleChildScript(join(here, 'fixtures/ending-simulator.ts'), join(outDir, 'ending-simulator.mjs'), resolve(here, '../package.json'));
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'ferry-launcher-exit-'));
  simulator = await bundleChild(root);
});
afterAll(async () => {
  await Promise.all(seen.map((p) => endRecordedProcess(p, 500)));
  rmSync(root, { recursive: true, force: true });
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return processStartTime(pid) !== undefined; // a zombie has ended
};

/** Runs the ending simulator; resolves with the module pids it printed, once it has exited and its output is read. */
function runSimulator(mode: string): Promise<{ pids: number[]; code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((done, fail) => {
    const proc = spawn(process.execPath, [simulator, mode, moduleFixture], { stdio: ['ignore', 'pipe', 'pipe'] });
    let pids: number[] = [];
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const lines = createInterface({ input: proc.stdout });
    lines.once('line', (line) => {
      pids = (JSON.parse(line) as { pids: number[] }).pids;
      for (const pid of pids) {
        const startTime = processStartTime(pid);
        if (startTime !== undefined) seen.push({ moduleId: `pid ${pid}`, pid, startTime });
      }
      // The process reading the simulator's output goes away (as a benchmark or shell that died).
      if (mode === 'epipe') proc.stdout.destroy();
    });
    proc.on('error', fail);
    proc.on('close', (code, signal) => done({ pids, code, signal, stderr }));
  });
}

async function gone(pids: readonly number[], timeoutMs = 5000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter(alive);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.runIf(process.platform === 'linux')('module processes when the simulator process ends without stopping them', () => {
  it.each([
    ['an uncaught exception', 'throw'],
    ['an unhandled rejection', 'reject'],
    ['process.exit', 'exit'],
    ['EPIPE on its stdout once the reader is gone', 'epipe'],
    ['an uncaught exception while stop() waits out the grace of a module ignoring SIGTERM', 'stopping'],
  ])('end with it after %s: every module group, children included', async (_what, mode) => {
    const run = await runSimulator(mode);
    expect(run.pids, run.stderr).toHaveLength(3);
    expect(run.code === 0 && run.signal === null, 'the simulator failed').toBe(false);
    expect(await gone(run.pids)).toEqual([]);
  });
});
