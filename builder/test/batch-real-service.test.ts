/**
 * Batch scoring against the REAL Ferry scoring service (startScoringServer + createScoringRuntime from
 * @ferry/module) on loopback: results compared with onnxruntime-node run directly, the service's own error
 * codes in the errors file, and a batch process killed with SIGKILL mid-way then resumed: every line is in
 * the output exactly once.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxModel, createScoringRuntime, readOnnxModelFile, startScoringServer } from '@ferry/module';
import type { ModelResolver, ScoringServer } from '@ferry/module';
import { ScoringClient, scoreBatch } from '../src/scoring-client/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const WEIGHTS = [0.5, -1, 2, 0.25];

/** y = x * w, x float32 [batch, 4]: tiny, so thousands of lines run in a second. */
function writeModel(path: string): void {
  writeFileSync(
    path,
    buildOnnxModel({
      inputs: [{ name: 'x', elementType: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'y', elementType: 'float32', shape: ['batch', 4] }],
      initializers: [{ name: 'w', elementType: 'float32', dims: [4], data: WEIGHTS }],
      nodes: [{ opType: 'Mul', inputs: ['x', 'w'], outputs: ['y'] }],
    }),
  );
}

function requestLine(i: number): string {
  return JSON.stringify({ x: [[i, i / 3, -i / 7, 1.5]] });
}

/** The answers of onnxruntime-node run directly on the same rows, by input line number. */
async function directAnswers(modelPath: string, lines: readonly string[]): Promise<Map<number, number[]>> {
  const session = await ort.InferenceSession.create(modelPath);
  const answers = new Map<number, number[]>();
  for (const [index, text] of lines.entries()) {
    let request: Record<string, unknown>;
    try {
      request = JSON.parse(text) as Record<string, unknown>;
    } catch {
      continue;
    }
    // Only well-formed requests have a direct answer: exactly the input x, one row of 4 numbers.
    const row = (request.x as unknown[][] | undefined)?.[0];
    if (Object.keys(request).join() !== 'x' || !Array.isArray(row) || row.length !== 4 || !row.every((v) => typeof v === 'number')) continue;
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from(row as number[]), [1, 4]) });
    answers.set(index + 1, Array.from((out.y as ort.Tensor).data as Float32Array));
  }
  await session.release();
  return answers;
}

function readJsonl(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Checks every output line against the direct answer; returns the sorted line numbers. */
function checkOutput(path: string, expected: Map<number, number[]>): number[] {
  const numbers: number[] = [];
  for (const row of readJsonl(path)) {
    const want = expected.get(row.line as number);
    expect(want).toBeDefined();
    const got = ((row.result as { y: number[][] }).y[0] ?? []) as number[];
    expect(got).toHaveLength(4);
    got.forEach((v, i) => expect(v).toBeCloseTo((want as number[])[i] as number, 5));
    numbers.push(row.line as number);
  }
  return numbers.sort((a, b) => a - b);
}

describe('scoreBatch against the real scoring service', () => {
  let dir: string;
  let modelPath: string;
  let server: ScoringServer;
  let client: ScoringClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-batch-real-'));
    modelPath = join(dir, 'scale.onnx');
    writeModel(modelPath);
    const onnx = await readOnnxModelFile(modelPath);
    const resolver: ModelResolver = {
      resolveModel: (ref) => ({ name: ref.name, version: 1, id: `${ref.name}:1`, path: modelPath, kind: 'file', framework: 'onnx', onnxFile: modelPath, onnx, tags: {} }),
    };
    server = await startScoringServer(createScoringRuntime({ name: 'scale', models: ['scale:1'] }, { resolver }), { port: 0, auth: 'none' });
    client = new ScoringClient({ url: server.url });
    while (!(await client.ready())) await new Promise((r) => setTimeout(r, 20));
  });
  afterAll(async () => {
    client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scores good lines like onnxruntime-node does and files the service\'s refusals by line', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => requestLine(i + 1));
    lines[6] = '{"x": [[1, 2, 3]]}'; // line 7: wrong shape
    lines[12] = '{"x": [[1, 2, 3, 4]], "extra": 1}'; // line 13: an input the model does not have
    lines[20] = '{"x": [[1, 2, 3, "four"]]}'; // line 21: wrong element type
    lines[33] = 'x=1,2,3,4'; // line 34: not JSON
    const input = join(dir, 'mixed.jsonl');
    writeFileSync(input, `${lines.join('\n')}\n`);
    const output = join(dir, 'mixed.out.jsonl');
    const summary = await scoreBatch({ client, input, output, concurrency: 4 });
    expect(summary).toMatchObject({ total: 50, scored: 46, failed: 4, skipped: 0 });
    const expected = await directAnswers(modelPath, lines);
    expect(checkOutput(output, expected)).toEqual([...expected.keys()].sort((a, b) => a - b));
    const errors = readJsonl(summary.errors).sort((a, b) => (a.line as number) - (b.line as number));
    expect(errors.map((e) => e.line)).toEqual([7, 13, 21, 34]);
    const byLine = new Map(errors.map((e) => [e.line as number, e.error as { code: string; status: number | null }]));
    expect(byLine.get(34)).toMatchObject({ code: 'FERRY_E_BATCH_LINE_INVALID', status: null });
    for (const n of [7, 13, 21]) {
      expect(byLine.get(n)?.status).toBe(400);
      expect(byLine.get(n)?.code).toMatch(/^FERRY_E_REQUEST_/);
    }
  });

  it('resumes after the batch process is killed with SIGKILL mid-way: every line scored exactly once', async () => {
    const require = createRequire(import.meta.url);
    const moduleEntry = pathToFileURL(require.resolve('@ferry/module')).href;
    const runner = join(dir, 'batch-runner.mjs');
    await build({
      stdin: {
        contents: `import { ScoringClient, scoreBatch } from ${JSON.stringify(resolve(here, '../src/scoring-client/index.ts'))};
          const [url, input, output, concurrency] = process.argv.slice(2);
          const client = new ScoringClient({ url });
          const summary = await scoreBatch({ client, input, output, concurrency: Number(concurrency) });
          client.close();
          process.stdout.write(JSON.stringify(summary));`,
        resolveDir: here,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: runner,
      logLevel: 'silent',
      plugins: [{ name: 'ferry-module', setup: (b) => b.onResolve({ filter: /^@ferry\/module$/ }, () => ({ path: moduleEntry, external: true })) }],
    });
    const total = 3_000;
    const lines = Array.from({ length: total }, (_, i) => requestLine(i + 1));
    const input = join(dir, 'killed.jsonl');
    writeFileSync(input, `${lines.join('\n')}\n`);
    const output = join(dir, 'killed.out.jsonl');
    const run = (): { kill: () => void; done: Promise<{ code: number | null; signal: string | null; stdout: string }> } => {
      const child = spawn(process.execPath, [runner, server.url, input, output, '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      return {
        kill: () => child.kill('SIGKILL'),
        done: new Promise((ok) => child.on('exit', (code, signal) => ok({ code, signal, stdout: stdout || stderr }))),
      };
    };

    const first = run();
    const deadline = Date.now() + 30_000;
    // Kill once a few hundred lines are written (each output line here is under 100 bytes).
    while (Date.now() < deadline && !(existsSync(output) && statSync(output).size > 200 * 100)) await new Promise((r) => setTimeout(r, 5));
    first.kill();
    expect((await first.done).signal).toBe('SIGKILL');
    // Complete lines only: a line torn by the kill (no newline yet) is not done and is repaired by the rerun.
    const written = readFileSync(output, 'utf8');
    const before = written.slice(0, written.lastIndexOf('\n') + 1).split('\n').filter((l) => l.length > 0).length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(total);

    const second = await run().done;
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ total, skipped: before, scored: total - before, failed: 0 });
    const expected = await directAnswers(modelPath, lines);
    expect(checkOutput(output, expected)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });
});
