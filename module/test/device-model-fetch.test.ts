/**
 * fetchModel against a real HTTPS server on loopback (certificate made by the openssl CLI):
 * 200, 404, hangs (idle and total timeouts), hash mismatch, redirects, cache hits, concurrent fetches
 * sharing one download, abort, size limit, TLS trust, and the fetched model run by onnxruntime-node.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ortRun, thirdPartyModels } from '@ferry/test';
import { fetchModel } from '../src/device-models/index.js';
import type { FetchModelOptions } from '../src/device-models/index.js';
import { isFerryError } from '../src/errors.js';

let tmp: string;
let server: Server;
let base: string;
let ca: Buffer;
const sockets = new Set<Duplex>();
/** Requests per path. */
const hits = new Map<string, number>();
let cls: Buffer;
let clsSha: string;
/** Resolves the /gated body's second half. */
let openGate: () => void = () => undefined;
let gate = Promise.resolve();
let gatedClosed = 0;

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
let counter = 0;
const freshCache = (): string => join(tmp, `cache-${++counter}`);

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ferry-device-fetch-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', join(tmp, 'key.pem'), '-out', join(tmp, 'cert.pem'),
  ], { stdio: 'ignore' });
  ca = readFileSync(join(tmp, 'cert.pem'));
  cls = readFileSync(thirdPartyModels().ocrCls);
  clsSha = sha(cls);
  server = createServer({ key: readFileSync(join(tmp, 'key.pem')), cert: ca }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    switch (path) {
      case '/models/cls.onnx':
      case '/other/cls.onnx':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': cls.length }).end(cls);
        return;
      case '/redirect':
        res.writeHead(302, { location: '/models/cls.onnx' }).end();
        return;
      case '/redirect-twice':
        res.writeHead(301, { location: `${base}/redirect` }).end();
        return;
      case '/redirect-http':
        res.writeHead(307, { location: `http://127.0.0.1:${(server.address() as AddressInfo).port}/models/cls.onnx` }).end();
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' }).end();
        return;
      case '/no-headers':
        return; // never answers
      case '/stalls.onnx':
        res.writeHead(200, { 'content-length': cls.length });
        res.write(cls.subarray(0, 1000)); // then nothing
        return;
      case '/gated.onnx':
        res.writeHead(200, { 'content-length': cls.length });
        res.write(cls.subarray(0, 4096));
        res.on('close', () => gatedClosed++);
        void gate.then(() => res.end(cls.subarray(4096)));
        return;
      default:
        res.writeHead(404).end('not here');
    }
  });
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  openGate();
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
  rmSync(tmp, { recursive: true, force: true });
});

function closeGate(): void {
  gate = new Promise((r) => {
    openGate = r;
  });
}

async function failure(p: Promise<unknown>): Promise<{ code: string; details: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    if (isFerryError(e)) return { code: e.code, details: { ...e.details } };
    throw e;
  }
  throw new Error('expected a coded error');
}

/** Everything under the cache, relative, sorted. */
function cacheFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

const opts = (cacheDir: string, more: Partial<FetchModelOptions> = {}): FetchModelOptions => ({ cacheDir, ca, ...more });

describe('fetchModel', () => {
  it('downloads, verifies and caches a model that onnxruntime-node then runs', async () => {
    const cacheDir = freshCache();
    const before = hits.get('/models/cls.onnx') ?? 0;
    const model = await fetchModel({ url: `${base}/models/cls.onnx?sig=secret`, sha256: clsSha.toUpperCase() }, opts(cacheDir));
    const entry = join(cacheDir, 'sha256', clsSha);
    expect(model).toMatchObject({ name: 'cls', version: 0, id: 'cls:0', kind: 'file', framework: 'onnx', sha256: clsSha, path: join(entry, 'cls.onnx') });
    expect(model.onnxFile).toBe(model.path);
    expect(model.onnx?.inputs[0]?.name).toBe('x');
    expect(sha(readFileSync(model.path))).toBe(clsSha);
    expect(cacheFiles(cacheDir)).toEqual(['sha256', `sha256/${clsSha}`, `sha256/${clsSha}/cls.onnx`, `sha256/${clsSha}/ferry-model.json`]);
    expect(hits.get('/models/cls.onnx')).toBe(before + 1);

    const data = Float32Array.from({ length: 2 * 3 * 48 * 192 }, (_, i) => Math.cos(i * 0.01));
    const feed = { x: { type: 'float32' as const, dims: [2, 3, 48, 192], data } };
    const fetched = await ortRun(model.onnxFile as string, feed);
    const original = await ortRun(thirdPartyModels().ocrCls, feed);
    expect(fetched['softmax_0.tmp_0']?.dims).toEqual([2, 2]);
    expect(fetched['softmax_0.tmp_0']?.data).toEqual(original['softmax_0.tmp_0']?.data);

    // A cache hit: no request, the name and version of this request.
    const again = await fetchModel({ url: `${base}/other/cls.onnx`, sha256: clsSha, name: 'direction', version: 7 }, opts(cacheDir));
    expect(again).toMatchObject({ id: 'direction:7', path: model.path, sha256: clsSha });
    expect(hits.get('/other/cls.onnx') ?? 0).toBe(0);
    expect(hits.get('/models/cls.onnx')).toBe(before + 1);

    // A damaged entry is dropped and fetched again.
    writeFileSync(model.path, 'damaged');
    const repaired = await fetchModel({ url: `${base}/models/cls.onnx`, sha256: clsSha }, opts(cacheDir));
    expect(sha(readFileSync(repaired.path))).toBe(clsSha);
    expect(hits.get('/models/cls.onnx')).toBe(before + 2);
  });

  it('refuses a hash mismatch and leaves nothing in the cache', async () => {
    const cacheDir = freshCache();
    const wrong = 'ab'.repeat(32);
    const f = await failure(fetchModel({ url: `${base}/models/cls.onnx`, sha256: wrong }, opts(cacheDir)));
    expect(f.code).toBe('FERRY_E_DEVICE_MODEL_HASH_MISMATCH');
    expect(f.details).toMatchObject({ expected: wrong, actual: clsSha, size: cls.length });
    expect(cacheFiles(cacheDir)).toEqual(['sha256']);
  });

  it('reports the status of a 404', async () => {
    const cacheDir = freshCache();
    const f = await failure(fetchModel({ url: `${base}/missing.onnx`, sha256: clsSha }, opts(cacheDir)));
    expect(f).toMatchObject({ code: 'FERRY_E_DEVICE_MODEL_HTTP_STATUS', details: { status: 404 } });
    expect(cacheFiles(cacheDir)).toEqual(['sha256']);
  });

  it('times out on a server that hangs before or during the body', async () => {
    const cacheDir = freshCache();
    const t0 = Date.now();
    const noHeaders = await failure(fetchModel({ url: `${base}/no-headers`, sha256: clsSha }, opts(cacheDir, { idleTimeoutMs: 300 })));
    expect(noHeaders).toMatchObject({ code: 'FERRY_E_DEVICE_MODEL_FETCH_TIMEOUT', details: { timeout: 'idle' } });
    const stalls = await failure(fetchModel({ url: `${base}/stalls.onnx`, sha256: clsSha }, opts(cacheDir, { idleTimeoutMs: 300 })));
    expect(stalls).toMatchObject({ code: 'FERRY_E_DEVICE_MODEL_FETCH_TIMEOUT', details: { timeout: 'idle' } });
    const total = await failure(fetchModel({ url: `${base}/stalls.onnx`, sha256: clsSha }, opts(cacheDir, { idleTimeoutMs: 10_000, timeoutMs: 400 })));
    expect(total).toMatchObject({ code: 'FERRY_E_DEVICE_MODEL_FETCH_TIMEOUT', details: { timeout: 'total' } });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(cacheFiles(cacheDir)).toEqual(['sha256']);
  });

  it('follows HTTPS redirects, refuses one to http://, and stops a loop', async () => {
    const cacheDir = freshCache();
    const model = await fetchModel({ url: `${base}/redirect-twice`, sha256: clsSha, name: 'cls', version: 2 }, opts(cacheDir));
    expect(model.id).toBe('cls:2');
    expect(sha(readFileSync(model.path))).toBe(clsSha);
    const other = freshCache();
    expect((await failure(fetchModel({ url: `${base}/redirect-http`, sha256: clsSha }, opts(other)))).code).toBe('FERRY_E_DEVICE_MODEL_URL_INVALID');
    expect((await failure(fetchModel({ url: `${base}/loop`, sha256: clsSha }, opts(other)))).code).toBe('FERRY_E_DEVICE_MODEL_FETCH_FAILED');
    expect(cacheFiles(other)).toEqual(['sha256']);
  });

  it('shares one download between concurrent fetches of the same hash', async () => {
    const cacheDir = freshCache();
    closeGate();
    const before = hits.get('/gated.onnx') ?? 0;
    const fetches = [1, 2, 3].map((v) => fetchModel({ url: `${base}/gated.onnx`, sha256: clsSha, version: v }, opts(cacheDir)));
    await new Promise((r) => setTimeout(r, 200));
    openGate();
    const models = await Promise.all(fetches);
    expect(models.map((m) => m.id)).toEqual(['gated:1', 'gated:2', 'gated:3']);
    expect(new Set(models.map((m) => m.path)).size).toBe(1);
    expect(hits.get('/gated.onnx')).toBe(before + 1);
  });

  it('aborts: one caller leaving keeps the shared download, the last one cancels it', async () => {
    const cacheDir = freshCache();
    closeGate();
    const before = hits.get('/gated.onnx') ?? 0;
    const closedBefore = gatedClosed;
    const a = new AbortController();
    const b = new AbortController();
    const first = fetchModel({ url: `${base}/gated.onnx`, sha256: clsSha }, opts(cacheDir, { signal: a.signal }));
    const second = fetchModel({ url: `${base}/gated.onnx`, sha256: clsSha }, opts(cacheDir, { signal: b.signal }));
    await new Promise((r) => setTimeout(r, 150));
    a.abort();
    expect((await failure(first)).code).toBe('FERRY_E_DEVICE_MODEL_FETCH_ABORTED');
    await new Promise((r) => setTimeout(r, 100));
    expect(gatedClosed).toBe(closedBefore); // still downloading for the second caller
    b.abort();
    // A fetch of the same hash starting right after the cancel gets a download of its own, not the cancelled one.
    const third = fetchModel({ url: `${base}/models/cls.onnx`, sha256: clsSha }, opts(cacheDir));
    expect((await failure(second)).code).toBe('FERRY_E_DEVICE_MODEL_FETCH_ABORTED');
    expect((await third).sha256).toBe(clsSha);
    for (let i = 0; i < 50 && gatedClosed === closedBefore; i++) await new Promise((r) => setTimeout(r, 20));
    expect(gatedClosed).toBe(closedBefore + 1); // the server saw the connection go
    expect(hits.get('/gated.onnx')).toBe(before + 1);
    openGate();
    await new Promise((r) => setTimeout(r, 50));
    expect(cacheFiles(cacheDir).filter((f) => f.startsWith('.fetch'))).toEqual([]); // the cancelled download left nothing
    // An already aborted signal never starts a request.
    expect((await failure(fetchModel({ url: `${base}/models/cls.onnx`, sha256: clsSha }, opts(cacheDir, { signal: AbortSignal.abort() })))).code).toBe('FERRY_E_DEVICE_MODEL_FETCH_ABORTED');
  });

  it('refuses bad URLs and hashes, bodies over maxBytes, and an untrusted certificate', async () => {
    const cacheDir = freshCache();
    expect((await failure(fetchModel({ url: 'http://127.0.0.1/m.onnx', sha256: clsSha }, opts(cacheDir)))).code).toBe('FERRY_E_DEVICE_MODEL_URL_INVALID');
    expect((await failure(fetchModel({ url: 'file:///etc/passwd', sha256: clsSha }, opts(cacheDir)))).code).toBe('FERRY_E_DEVICE_MODEL_URL_INVALID');
    expect((await failure(fetchModel({ url: 'not a url', sha256: clsSha }, opts(cacheDir)))).code).toBe('FERRY_E_DEVICE_MODEL_URL_INVALID');
    expect((await failure(fetchModel({ url: `${base}/models/cls.onnx`, sha256: 'abc' }, opts(cacheDir)))).code).toBe('FERRY_E_DEVICE_MODEL_HASH_INVALID');
    expect((await failure(fetchModel({ url: `${base}/models/cls.onnx`, sha256: clsSha, name: '../x' }, opts(cacheDir)))).code).toBe('FERRY_E_DEVICE_MODEL_NAME_INVALID');
    expect((await failure(fetchModel({ url: `${base}/models/cls.onnx`, sha256: clsSha }, opts(cacheDir, { maxBytes: 1000 })))).code).toBe('FERRY_E_DEVICE_MODEL_TOO_LARGE');
    const untrusted = await failure(fetchModel({ url: `${base}/models/cls.onnx`, sha256: clsSha }, { cacheDir }));
    expect(untrusted.code).toBe('FERRY_E_DEVICE_MODEL_FETCH_FAILED');
    expect(cacheFiles(cacheDir).filter((f) => f !== 'sha256')).toEqual([]);
  });
});
