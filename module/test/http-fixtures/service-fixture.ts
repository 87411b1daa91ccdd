/**
 * What the HTTP tests serve: small real ONNX models written with Ferry's model writer, an entry script
 * that sleeps or throws on request, a ModelResolver over a temp folder, and real runtimes built from them.
 * Expected answers come from onnxruntime-node called directly (`ortScores`), never from the service.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ModelRef, ModelResolver, ResolvedModel } from '../../src/model-ref.js';
import { buildOnnxModel } from '../../src/onnx/index.js';
import type { OnnxModelSpec } from '../../src/onnx/index.js';
import type { InferenceConfig } from '../../src/config/index.js';

/** float32 `data` [batch,4] -> MatMul W[4,3] + B[3] -> `scores` [batch,3]; weights on a 1/8 grid. */
export const LINEAR_SPEC: OnnxModelSpec = {
  graphName: 'linear',
  inputs: [{ name: 'data', elementType: 'float32', shape: ['batch', 4] }],
  outputs: [{ name: 'scores', elementType: 'float32', shape: ['batch', 3] }],
  initializers: [
    { name: 'W', elementType: 'float32', dims: [4, 3], data: [0.5, -1.25, 2, 0.125, 1.5, -0.75, -2, 0.25, 1, 1.875, -0.5, 0.375] },
    { name: 'B', elementType: 'float32', dims: [3], data: [0.25, -0.5, 1.125] },
  ],
  nodes: [
    { opType: 'MatMul', inputs: ['data', 'W'], outputs: ['mm'] },
    { opType: 'Add', inputs: ['mm', 'B'], outputs: ['scores'] },
  ],
};

/**
 * An entry script: `{"sleepMs": n}` waits n ms, `{"fail": "why"}` throws, anything else is echoed
 * back with the worker's thread id.
 */
const ENTRY_SCRIPT = `
import { threadId } from 'node:worker_threads';
export function init() {}
export async function run(input) {
  if (input.fail) throw new Error('asked to fail: ' + input.fail);
  if (input.sleepMs) await new Promise((r) => setTimeout(r, input.sleepMs));
  return { echo: input, threadId };
}
`;

export interface ServiceFixture {
  dir: string;
  linearPath: string;
  entryScript: string;
  corruptPath: string;
  resolver: ModelResolver;
  /** A no-code config serving the linear model. */
  linearConfig(runtime?: InferenceConfig['runtime']): InferenceConfig;
  /** An entry-script config (the linear model is listed but unused). */
  entryConfig(runtime?: InferenceConfig['runtime']): InferenceConfig;
  cleanup(): void;
}

export function makeServiceFixture(): ServiceFixture {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-http-'));
  const linearPath = join(dir, 'linear.onnx');
  writeFileSync(linearPath, buildOnnxModel(LINEAR_SPEC));
  const corruptPath = join(dir, 'corrupt.onnx');
  writeFileSync(corruptPath, Buffer.from('this is not an ONNX model'));
  const entryScript = join(dir, 'score.mjs');
  writeFileSync(entryScript, ENTRY_SCRIPT);
  const files: Record<string, string> = { linear: linearPath, corrupt: corruptPath };
  const resolver: ModelResolver = {
    resolveModel(ref: ModelRef): ResolvedModel {
      const path = files[ref.name];
      if (!path) throw new Error(`no fixture model ${ref.name}`);
      return { name: ref.name, version: 1, id: `${ref.name}:1`, path, kind: 'file', framework: 'onnx', onnxFile: path, tags: {} };
    },
  };
  return {
    dir, linearPath, entryScript, corruptPath, resolver,
    linearConfig: (runtime) => ({ name: 'linear-svc', models: ['linear:1'], ...(runtime ? { runtime } : {}) }),
    entryConfig: (runtime) => ({ name: 'entry-svc', models: ['linear:1'], entryScript, ...(runtime ? { runtime } : {}) }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The linear model's `scores` for `rows`, computed by onnxruntime-node directly. */
export async function ortScores(modelPath: string, rows: number[][]): Promise<number[][]> {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    const input = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 4]);
    const out = await session.run({ data: input });
    const scores = out.scores as ort.Tensor;
    const flat = Array.from(scores.data as Float32Array);
    return rows.map((_, i) => flat.slice(i * 3, i * 3 + 3));
  } finally {
    await session.release();
  }
}

/** Compares a service's float32 answer with onnxruntime's: equal once rounded to float32. */
export function sameFloat32(answer: number[][], expected: number[][]): boolean {
  return answer.length === expected.length
    && answer.every((row, i) => row.length === expected[i]!.length && row.every((v, j) => Math.fround(v) === expected[i]![j]));
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: () => Record<string, unknown>;
}

/** One request over a fresh connection with node:http (no keep-alive agent, so no state between tests). */
export function call(url: string, opts: { method?: string; headers?: OutgoingHttpHeaders; body?: string | Buffer } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
