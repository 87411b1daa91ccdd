import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdentityStore } from '../src/identity/identity-store.js';
import { WorkloadServer } from '../src/workload/workload-server.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-workload-'));
const socketPath = join(dir, 'workload.sock');
const store = IdentityStore.open(join(dir, 'identities.json'), { hubHostName: 'hub.example', deviceId: 'edge1' });
const scorer = store.ensureModule('scorer');
let server: WorkloadServer;

beforeAll(async () => {
  server = await WorkloadServer.start({ identities: store, caCertPem: '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n', socketPath });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function call(method: string, path: string, body?: string): Promise<{ status: number; type: string | undefined; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], json: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const sign = `/modules/scorer/genid/${scorer.generationId}/sign?api-version=2018-06-28`;

describe('workload API (PROTOCOLS.md §1)', () => {
  it('serves the trust bundle and signs with the module key, as JSON, on a 0600 socket', async () => {
    expect(server.uri).toBe(`unix://${socketPath}`);
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    const bundle = await call('GET', '/trust-bundle?api-version=2018-06-28');
    expect(bundle).toMatchObject({ status: 200, json: { certificate: expect.stringContaining('BEGIN CERTIFICATE') } });
    expect(bundle.type).toMatch(/^application\/json/);

    const data = Buffer.from('hub.example%2Fdevices%2Fedge1%2Fmodules%2Fscorer\n1800000000').toString('base64');
    const signed = await call('POST', sign, JSON.stringify({ keyId: 'primary', algo: 'HMACSHA256', data }));
    const want = createHmac('sha256', Buffer.from(scorer.primaryKey, 'base64')).update(Buffer.from(data, 'base64')).digest('base64');
    expect(signed).toMatchObject({ status: 200, json: { digest: want } });
  });

  it('answers unknown modules, wrong generations, bad bodies and unknown routes with a 4xx JSON error', async () => {
    const body = JSON.stringify({ keyId: 'primary', algo: 'HMACSHA256', data: 'YQ==' });
    expect(await call('POST', '/modules/ghost/genid/x/sign?api-version=2018-06-28', body)).toMatchObject({ status: 404, json: { code: 'FERRY_E_SIM_IDENTITY_UNKNOWN' } });
    expect(await call('POST', '/modules/scorer/genid/old/sign?api-version=2018-06-28', body)).toMatchObject({ status: 404, json: { code: 'FERRY_E_SIM_IDENTITY_UNKNOWN' } });
    for (const bad of ['not json', '{}', JSON.stringify({ keyId: 'primary', algo: 'MD5', data: 'YQ==' }), JSON.stringify({ keyId: 'primary', algo: 'HMACSHA256', data: '***' })]) {
      expect(await call('POST', sign, bad), bad).toMatchObject({ status: 400, json: { code: 'FERRY_E_SIM_WORKLOAD_REQUEST_INVALID' } });
    }
    expect(await call('POST', `/modules/scorer/genid/${scorer.generationId}/sign`, body)).toMatchObject({ status: 400, json: { code: 'FERRY_E_SIM_WORKLOAD_REQUEST_INVALID' } });
    expect(await call('GET', '/modules')).toMatchObject({ status: 404, json: { code: 'FERRY_E_SIM_WORKLOAD_ROUTE_NOT_FOUND' } });
  });
});
