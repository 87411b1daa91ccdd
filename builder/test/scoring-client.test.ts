/**
 * ScoringClient mechanics against a real node:http server on loopback that speaks the scoring protocol
 * (PROTOCOLS.md §7): auth, request ids, JSON and octet-stream bodies, coded errors, 503 retries with
 * Retry-After, timeouts, keep-alive. The real Ferry scoring service is exercised in scoring-client-real.test.ts.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '@ferry/module';
import { ScoringClient } from '../src/scoring-client/index.js';
import { parseRetryAfter, retryDelayMs } from '../src/scoring-client/retry-after.js';

const KEY = 'k3y-for-tests';

interface Counters {
  connections: number;
  busyHits: Map<string, number>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A protocol-following scoring server whose answers the test can compute independently. */
async function startProtocolServer(counters: Counters): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    const id = req.headers['x-request-id'];
    if (typeof id === 'string') res.setHeader('x-request-id', id);
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { status: 'ready' });
    if (url.pathname !== '/score') return send(res, 404, { message: 'no route', code: 'FERRY_E_ROUTE_NOT_FOUND' });
    if (req.headers.authorization !== `Bearer ${KEY}`) return send(res, 401, { message: 'bad key', code: 'FERRY_E_KEY_INVALID' });
    const body = await readBody(req);
    const type = req.headers['content-type'] ?? '';
    res.setHeader('x-ms-run-fn-exec-ms', '0.1');
    if (type === 'application/octet-stream') {
      return send(res, 200, { sha256: createHash('sha256').update(body).digest('hex'), bytes: body.length });
    }
    let request: { data?: number[]; busy?: { times: number; after: string; tag: string }; sleepMs?: number; garbage?: boolean; partial?: 'stall' | 'cut' };
    try {
      request = JSON.parse(body.toString('utf8'));
    } catch {
      return send(res, 400, { message: 'malformed JSON', code: 'FERRY_E_REQUEST_MALFORMED' });
    }
    if (request.busy) {
      const hits = (counters.busyHits.get(request.busy.tag) ?? 0) + 1;
      counters.busyHits.set(request.busy.tag, hits);
      if (hits <= request.busy.times) return send(res, 503, { message: 'queue full', code: 'FERRY_E_BUSY' }, request.busy.after ? { 'retry-after': request.busy.after } : {});
    }
    if (request.sleepMs) await new Promise((r) => setTimeout(r, request.sleepMs));
    if (request.partial) {
      // Headers and half a body, then silence (stall) or a dropped connection (cut).
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"sum": 1');
      if (request.partial === 'cut') setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    if (request.garbage) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{"not": json');
    }
    if (!Array.isArray(request.data)) return send(res, 400, { message: 'missing input data', code: 'FERRY_E_REQUEST_INVALID' });
    return send(res, 200, { sum: request.data.reduce((a, b) => a + b, 0) });
  });
  server.on('connection', () => counters.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (e) {
    if (isFerryError(e)) return { code: e.code, details: { ...(e.details ?? {}) } };
    throw e;
  }
  throw new Error('expected a coded error');
}

describe('ScoringClient', () => {
  const counters: Counters = { connections: 0, busyHits: new Map() };
  let server: Server;
  let url: string;
  let client: ScoringClient;

  beforeAll(async () => {
    ({ server, url } = await startProtocolServer(counters));
    client = new ScoringClient({ url, key: KEY, timeoutMs: 5_000 });
  });
  afterAll(async () => {
    client.close();
    await new Promise((r) => server.close(r));
  });

  it('scores JSON, sends the key and request id, and reports latency and headers', async () => {
    const data = [1.5, 2, 3.25, -4];
    const answer = await client.score({ data }, { requestId: 'req-42' });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ sum: data.reduce((a, b) => a + b, 0) });
    expect(answer.headers['x-request-id']).toBe('req-42');
    expect(answer.headers['x-ms-run-fn-exec-ms']).toBe('0.1');
    expect(answer.latencyMs).toBeGreaterThan(0);
    expect(answer.attempts).toBe(1);
  });

  it('accepts the scoring URL itself as well as the service root', async () => {
    const direct = new ScoringClient({ url: `${url}/score`, key: KEY });
    expect(direct.scoreUrl.href).toBe(client.scoreUrl.href);
    expect((await direct.score({ data: [2, 3] })).body).toEqual({ sum: 5 });
    direct.close();
  });

  it('sends a Buffer as application/octet-stream, byte for byte', async () => {
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));
    const answer = await client.score(bytes);
    expect(answer.body).toEqual({ sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length });
  });

  it('keeps connections alive across sequential requests', async () => {
    const before = counters.connections;
    for (let i = 0; i < 20; i++) await client.score({ data: [i] });
    expect(counters.connections - before).toBeLessThanOrEqual(1);
  });

  it('carries the service code, status and message of an error answer (FERRY_E_SCORE_REJECTED)', async () => {
    const { code, details } = await codeOf(client.score({ nodata: true }, { requestId: 'r-bad' }));
    expect(code).toBe('FERRY_E_SCORE_REJECTED');
    expect(details).toMatchObject({ status: 400, code: 'FERRY_E_REQUEST_INVALID', message: 'missing input data', requestId: 'r-bad' });
    const wrongKey = new ScoringClient({ url, key: 'nope' });
    expect(await codeOf(wrongKey.score({ data: [1] }))).toMatchObject({ code: 'FERRY_E_SCORE_REJECTED', details: { status: 401, code: 'FERRY_E_KEY_INVALID' } });
    wrongKey.close();
  });

  it('answers FERRY_E_SERVICE_UNREACHABLE when nothing listens', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const dead = new ScoringClient({ url: `http://127.0.0.1:${port}` });
    expect(await codeOf(dead.score({ data: [1] }))).toMatchObject({ code: 'FERRY_E_SERVICE_UNREACHABLE', details: { errno: 'ECONNREFUSED' } });
    expect(await dead.ready()).toBe(false);
    dead.close();
  });

  it('refuses a URL that is not http(s) with FERRY_E_SERVICE_URL_INVALID', () => {
    for (const bad of ['not a url', 'ftp://host/score']) {
      try {
        new ScoringClient({ url: bad });
        expect.unreachable();
      } catch (e) {
        expect(isFerryError(e) && e.code).toBe('FERRY_E_SERVICE_URL_INVALID');
      }
    }
  });

  it('retries 503 after the Retry-After delay, then succeeds', async () => {
    const started = performance.now();
    const answer = await client.score({ data: [4, 5], busy: { times: 1, after: '1', tag: 'honour' } });
    const elapsed = performance.now() - started;
    expect(answer.body).toEqual({ sum: 9 });
    expect(answer.attempts).toBe(2);
    expect(counters.busyHits.get('honour')).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(950);
  });

  it('caps the Retry-After wait and gives up with FERRY_E_SERVICE_BUSY after maxRetries', async () => {
    const capped = new ScoringClient({ url, key: KEY, maxRetries: 2, maxRetryDelayMs: 50 });
    const started = performance.now();
    const { code, details } = await codeOf(capped.score({ data: [1], busy: { times: 100, after: '3600', tag: 'cap' } }));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(code).toBe('FERRY_E_SERVICE_BUSY');
    expect(details).toMatchObject({ status: 503, code: 'FERRY_E_BUSY', attempts: 3 });
    expect(counters.busyHits.get('cap')).toBe(3);
    expect(await codeOf(capped.score({ data: [1], busy: { times: 100, after: '', tag: 'none' } }, { maxRetries: 0 }))).toMatchObject({ code: 'FERRY_E_SERVICE_BUSY' });
    expect(counters.busyHits.get('none')).toBe(1);
    capped.close();
  });

  it('never retries other errors', async () => {
    const before = counters.busyHits.get('x') ?? 0;
    await codeOf(client.score({ busy: { times: 0, after: '0', tag: 'x' } }));
    expect(counters.busyHits.get('x')).toBe(before + 1);
  });

  it('times out with FERRY_E_SERVICE_TIMEOUT, and can be aborted', async () => {
    expect(await codeOf(client.score({ data: [1], sleepMs: 2_000 }, { timeoutMs: 100 }))).toMatchObject({ code: 'FERRY_E_SERVICE_TIMEOUT', details: { timeoutMs: 100 } });
    const controller = new AbortController();
    const pending = client.score({ data: [1], sleepMs: 2_000 }, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop it')), 50);
    await expect(pending).rejects.toThrow('stop it');
  });

  it('times out on an answer that stalls half way, and reports one cut off half way as FERRY_E_SERVICE_UNREACHABLE', async () => {
    expect((await codeOf(client.score({ partial: 'stall' }, { timeoutMs: 200 }))).code).toBe('FERRY_E_SERVICE_TIMEOUT');
    expect(await codeOf(client.score({ partial: 'cut' }))).toMatchObject({ code: 'FERRY_E_SERVICE_UNREACHABLE', details: { errno: 'ECONNRESET' } });
    // The client is still usable afterwards.
    expect((await client.score({ data: [1, 1] })).body).toEqual({ sum: 2 });
  });

  it('reports a 2xx answer that is not the JSON it claims as FERRY_E_SERVICE_RESPONSE_INVALID', async () => {
    expect((await codeOf(client.score({ garbage: true }))).code).toBe('FERRY_E_SERVICE_RESPONSE_INVALID');
  });

  it('checks readiness with GET /healthz', async () => {
    expect(await client.ready()).toBe(true);
  });

  it('keeps N requests in flight on N sockets', async () => {
    const before = counters.connections;
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => client.score({ data: [i, i], sleepMs: 100 })));
    expect(answers.map((a) => a.body)).toEqual(Array.from({ length: 8 }, (_, i) => ({ sum: 2 * i })));
    // Up to 8 sockets in total for 8 concurrent requests (some may be reused from earlier tests).
    expect(counters.connections - before).toBeLessThanOrEqual(8);
  });
});

describe('Retry-After', () => {
  it('reads delay-seconds and HTTP-dates (RFC 9110 §10.2.3)', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('2', now)).toBe(2_000);
    expect(parseRetryAfter(new Date(now + 3_000).toUTCString(), now)).toBe(3_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('caps the wait and backs off exponentially without a header', () => {
    expect(retryDelayMs('3600', 1, 5_000)).toBe(5_000);
    expect(retryDelayMs(undefined, 1, 5_000)).toBe(100);
    expect(retryDelayMs(undefined, 3, 5_000)).toBe(400);
    expect(retryDelayMs(undefined, 10, 5_000)).toBe(5_000);
  });
});
