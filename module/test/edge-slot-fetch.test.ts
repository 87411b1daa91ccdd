/**
 * ModelSlot with models named by `{url, sha256}` (issue 4 §3, §7): fetched over real HTTPS on
 * loopback (a self-signed certificate made by openssl) into the cache; a hash mismatch, a 404 and a
 * server that hangs each leave the old model scoring with the error's code in the status; a newer
 * change supersedes a hanging download.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ortRun } from '@ferry/test';
import { DeviceModelStore } from '../src/device-models/index.js';
import { ModelSlot } from '../src/edge/model-slot.js';
import { inputRows, linearModelBytes } from './fixtures/edge-models.js';
import { failure } from './fixtures/rejection.js';

let dir: string;
let server: Server;
let base: string;
let ca: string;
let slot: ModelSlot;
const v2 = Buffer.from(linearModelBytes(202));
const v2Sha = createHash('sha256').update(v2).digest('hex');
const ROW = inputRows(11, 1)[0] as number[];
const expected = new Map<string, number[]>();


async function score(): Promise<{ y: number[]; model: string }> {
  const { result, model } = await slot.score({ kind: 'json', value: { x: [ROW] } });
  return { y: (JSON.parse(result.json) as { y: number[][] }).y[0] as number[], model: model.id };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-edge-fetch-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  ca = await readFile(join(dir, 'cert.pem'), 'utf8');
  server = createServer({ key: await readFile(join(dir, 'key.pem')), cert: ca }, (req, res) => {
    if (req.url === '/models/lin-v2.onnx') res.end(v2);
    else if (req.url === '/hang.onnx') res.writeHead(200, { 'content-length': String(v2.length) }).write(v2.subarray(0, 10));
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const file1 = join(dir, 'lin-1.onnx');
  await writeFile(file1, linearModelBytes(101));
  DeviceModelStore.writeModel(join(dir, 'models'), { name: 'lin', version: 1, path: file1 });
  await writeFile(join(dir, 'lin-2.onnx'), v2);
  for (const [id, file] of [['lin:1', file1], ['v2', join(dir, 'lin-2.onnx')]] as const) {
    expected.set(id, (await ortRun(file, { x: { type: 'float32', dims: [1, 4], data: ROW } }))['y']!.data as number[]);
  }
  slot = await ModelSlot.create({
    config: { name: 'edge', models: ['lin:1'], runtime: { workers: 1 } },
    resolver: DeviceModelStore.open(join(dir, 'models')), cacheDir: join(dir, 'cache'), logger: pino({ level: 'silent' }),
    fetchCa: ca, fetchIdleTimeoutMs: 300, fetchTimeoutMs: 5_000,
  });
});

afterAll(async () => {
  await slot?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe('ModelSlot with {url, sha256}', () => {
  it('keeps the old model on a hash mismatch, a 404 and a hanging server, with the code in the status', async () => {
    const cases: Array<[{ url: string; sha256: string }, string]> = [
      [{ url: `${base}/models/lin-v2.onnx`, sha256: 'ab'.repeat(32) }, 'FERRY_E_DEVICE_MODEL_HASH_MISMATCH'],
      [{ url: `${base}/missing.onnx`, sha256: v2Sha }, 'FERRY_E_DEVICE_MODEL_HTTP_STATUS'],
      [{ url: `${base}/hang.onnx`, sha256: 'cd'.repeat(32) }, 'FERRY_E_DEVICE_MODEL_FETCH_TIMEOUT'],
      [{ url: `http://127.0.0.1:1/x.onnx`, sha256: v2Sha }, 'FERRY_E_DEVICE_MODEL_URL_INVALID'],
    ];
    for (const [model, code] of cases) {
      expect((await failure(slot.reconfigure({ model }))).code, model.url).toBe(code);
      expect(slot.status).toBe('error');
      expect(slot.statusCode).toBe(code);
      expect(await score()).toEqual({ y: expected.get('lin:1'), model: 'lin:1' });
    }
  });

  it('a newer change supersedes a hanging download', async () => {
    const hanging = slot.reconfigure({ model: { url: `${base}/hang.onnx`, sha256: 'ef'.repeat(32) } });
    await new Promise((r) => setTimeout(r, 50));
    expect(slot.status).toBe('loading');
    const back = slot.reconfigure({ model: 'lin:1' });
    expect((await failure(hanging)).code).toBe('FERRY_E_EDGE_MODEL_SUPERSEDED');
    await expect(back).resolves.toMatchObject({ model: { id: 'lin:1' } });
    expect(slot.status).toBe('ready');
  });

  it('fetches a verified model into the cache and swaps to it', async () => {
    const r = await slot.reconfigure({ model: { url: `${base}/models/lin-v2.onnx`, sha256: v2Sha.toUpperCase(), name: 'lin', version: 2 } });
    expect(r).toMatchObject({ changed: true, model: { name: 'lin', version: 2 } });
    expect(slot.model.path.startsWith(join(dir, 'cache'))).toBe(true);
    expect(slot.sha256).toBe(v2Sha);
    expect(slot.status).toBe('ready');
    expect(await score()).toEqual({ y: expected.get('v2'), model: 'lin:2' });
    // The same URL and hash again: nothing to do.
    await expect(slot.reconfigure({ model: { url: `${base}/models/lin-v2.onnx`, sha256: v2Sha.toUpperCase(), name: 'lin', version: 2 } })).resolves.toMatchObject({ changed: false });
    // Without a name and version: named from the URL, version 0.
    const anon = await slot.reconfigure({ model: { url: `${base}/models/lin-v2.onnx`, sha256: v2Sha } });
    expect(anon.model).toMatchObject({ name: 'lin-v2', version: 0 });
    expect(await score()).toEqual({ y: expected.get('v2'), model: 'lin-v2:0' });
  });
});
