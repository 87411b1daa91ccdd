/**
 * The scoring service over real HTTP on loopback, in front of the real runtime (worker threads,
 * onnxruntime-node) serving a real ONNX model. Expected scores come from onnxruntime-node directly.
 */
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoringCatalogue } from '../src/errors.js';
import { httpCatalogue } from '../src/http/errors.js';
import { startScoringServer } from '../src/http/scoring-server.js';
import type { ScoringServer, ScoringServerOptions, ServerEvent } from '../src/http/scoring-server.js';
import { ServiceKeys } from '../src/http/service-keys.js';
import { createScoringRuntime } from '../src/runtime/index.js';
import type { ScoringRuntime } from '../src/runtime/index.js';
import { call, makeServiceFixture, ortScores, sameFloat32 } from './http-fixtures/service-fixture.js';
import type { ServiceFixture } from './http-fixtures/service-fixture.js';

const ROWS = [[1, -2, 3, -4], [0.5, 0.25, -1, 8]];

let fx: ServiceFixture;
let runtime: ScoringRuntime;
let keys: ServiceKeys;
let secured: ScoringServer;
let open: ScoringServer;
const events: ServerEvent[] = [];
let expected: number[][];

beforeAll(async () => {
  fx = makeServiceFixture();
  runtime = await createScoringRuntime(fx.linearConfig(), { resolver: fx.resolver });
  keys = ServiceKeys.open(fx.dir, 'linear-svc');
  secured = await startScoringServer(runtime, { port: 0, auth: 'key', keys, onEvent: (e) => events.push(e) });
  open = await startScoringServer(runtime, { port: 0, auth: 'none' });
  expected = await ortScores(fx.linearPath, ROWS);
});

afterAll(async () => {
  await open?.close();
  await secured?.close(); // also closes the shared runtime (idempotent)
  await runtime?.close(); // in case a server failed to start
  fx?.cleanup();
});

const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
const json = { 'content-type': 'application/json' };

describe('routes', () => {
  it('GET / answers Healthy as text/plain without a key', async () => {
    const r = await call(`${secured.url}/`);
    expect(r.status).toBe(200);
    expect(r.text).toBe('Healthy');
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('POST /score answers what onnxruntime-node computes, with the Azure ML headers', async () => {
    const r = await call(`${secured.url}/score`, { method: 'POST', headers: { ...json, ...bearer(keys.primary) }, body: JSON.stringify({ data: ROWS }) });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    const scores = r.json().scores as number[][];
    expect(sameFloat32(scores, expected)).toBe(true);
    expect(r.headers['x-ms-run-fn-exec-ms']).toMatch(/^\d+\.\d{3}$/);
    expect(r.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text));
  });

  it('accepts application/json with parameters and +json types', async () => {
    for (const type of ['application/json; charset=utf-8', 'Application/JSON', 'application/vnd.ferry+json']) {
      const r = await call(`${open.url}/score`, { method: 'POST', headers: { 'content-type': type }, body: JSON.stringify({ data: ROWS }) });
      expect(r.status, type).toBe(200);
    }
  });

  it('GET /score turns query parameters into the request (values parsed as JSON)', async () => {
    const r = await call(`${open.url}/score?data=${encodeURIComponent(JSON.stringify(ROWS))}`);
    expect(r.status).toBe(200);
    expect(sameFloat32(r.json().scores as number[][], expected)).toBe(true);
    // A value that is not JSON stays a string, and the runtime's validation names the field.
    const bad = await call(`${open.url}/score?data=not-json`);
    expect(bad.status).toBe(400);
    expect(bad.json().code).toBe('FERRY_E_REQUEST_INVALID');
    expect((bad.json().details as { pointer: string }).pointer).toBe('/data');
  });

  it('application/octet-stream feeds the single input raw little-endian bytes', async () => {
    const row = ROWS[0]!;
    const body = Buffer.from(Float32Array.from(row).buffer);
    const r = await call(`${open.url}/score`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
    expect(r.status).toBe(200);
    expect(sameFloat32(r.json().scores as number[][], [expected[0]!])).toBe(true);
  });

  it('X-Ferry-Shape gives the shape of a raw body; a malformed one is refused before scoring', async () => {
    const body = Buffer.from(Float32Array.from(ROWS.flat()).buffer);
    const r = await call(`${open.url}/score`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-ferry-shape': '2,4' }, body });
    expect(r.status).toBe(200);
    expect(sameFloat32(r.json().scores as number[][], expected)).toBe(true);
    for (const bad of ['2x4', '2,-4', '', '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17']) {
      const refused = await call(`${open.url}/score`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-ferry-shape': bad }, body });
      expect(refused.status, bad).toBe(400);
      expect(refused.json().code).toBe('FERRY_E_SHAPE_HEADER_INVALID');
    }
  });

  it('HEAD on GET routes answers the headers without a body', async () => {
    const r = await call(`${open.url}/`, { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
    expect(r.headers['content-length']).toBe('7');
  });

  it('malformed JSON and a wrong shape get the runtime\'s codes', async () => {
    const malformed = await call(`${open.url}/score`, { method: 'POST', headers: json, body: '{"data": [[1, 2' });
    expect(malformed.status).toBe(400);
    expect(malformed.json().code).toBe('FERRY_E_REQUEST_MALFORMED');
    expect(malformed.json().code as string in scoringCatalogue).toBe(true);
    const shape = await call(`${open.url}/score`, { method: 'POST', headers: json, body: JSON.stringify({ data: [[1, 2, 3]] }) });
    expect(shape.status).toBe(400);
    expect(shape.json()).toMatchObject({ code: 'FERRY_E_REQUEST_INVALID', details: { pointer: '/data/0' } });
    expect(typeof shape.json().message).toBe('string');
  });

  it('415 for a body that is not JSON or octet-stream, or has no Content-Type', async () => {
    for (const headers of [{ 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, {}]) {
      const r = await call(`${open.url}/score`, { method: 'POST', headers, body: JSON.stringify({ data: ROWS }) });
      expect(r.status).toBe(415);
      expect(r.json().code).toBe('FERRY_E_UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('404 for unknown routes, 405 with Allow for wrong methods, coded JSON bodies', async () => {
    const missing = await call(`${open.url}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'FERRY_E_ROUTE_NOT_FOUND' });
    expect(typeof missing.json().message).toBe('string');
    const del = await call(`${open.url}/score`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    expect(del.headers.allow).toBe('GET, POST');
    expect(del.json().code).toBe('FERRY_E_METHOD_NOT_ALLOWED');
    const post = await call(`${open.url}/healthz`, { method: 'POST', headers: json, body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('GET /swagger.json: Swagger 2 by default (as Azure ML), OpenAPI 3 on ?version=3, 404 otherwise; no key needed', async () => {
    const host = new URL(secured.url).host;
    const v2 = await call(`${secured.url}/swagger.json`);
    expect(v2.status).toBe(200);
    expect(v2.json()).toEqual(JSON.parse(JSON.stringify(runtime.swagger(2, { host, auth: true }))));
    expect(v2.json().swagger).toBe('2.0');
    const explicit2 = await call(`${secured.url}/swagger.json?version=2`);
    expect(explicit2.json()).toEqual(v2.json());
    const v3 = await call(`${secured.url}/swagger.json?version=3`);
    expect(v3.json()).toEqual(JSON.parse(JSON.stringify(runtime.swagger(3, { host, auth: true }))));
    const unknown = await call(`${secured.url}/swagger.json?version=4`);
    expect(unknown.status).toBe(404);
    expect(unknown.json().code).toBe('FERRY_E_SWAGGER_VERSION_UNKNOWN');
  });

  it('GET /healthz reports ready with the loaded models', async () => {
    const r = await call(`${secured.url}/healthz`);
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ status: 'ready', name: 'linear-svc', mode: 'no-code', models: ['linear:1'] });
  });

  it('echoes x-request-id, refuses one over 100 characters with 431', async () => {
    const id = 'client-chosen-id-42';
    const r = await call(`${open.url}/score`, { method: 'POST', headers: { ...json, 'x-request-id': id }, body: JSON.stringify({ data: ROWS }) });
    expect(r.headers['x-request-id']).toBe(id);
    const onError = await call(`${open.url}/nope`, { headers: { 'x-request-id': id } });
    expect(onError.headers['x-request-id']).toBe(id);
    const long = await call(`${open.url}/`, { headers: { 'x-request-id': 'x'.repeat(101) } });
    expect(long.status).toBe(431);
    expect(long.json().code).toBe('FERRY_E_REQUEST_ID_TOO_LONG');
  });
});

describe('key auth', () => {
  const body = JSON.stringify({ data: ROWS });

  it('accepts the primary and the secondary key', async () => {
    for (const k of [keys.primary, keys.secondary]) {
      const r = await call(`${secured.url}/score`, { method: 'POST', headers: { ...json, ...bearer(k) }, body });
      expect(r.status).toBe(200);
    }
  });

  it('401 with WWW-Authenticate and a code for a missing, malformed or wrong key', async () => {
    const cases: [Record<string, string>, string][] = [
      [{}, 'FERRY_E_KEY_MISSING'],
      [{ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, 'FERRY_E_KEY_MISSING'],
      [{ authorization: keys.primary }, 'FERRY_E_KEY_MISSING'],
      [bearer('wrong'), 'FERRY_E_KEY_INVALID'],
      [bearer(keys.primary.slice(1)), 'FERRY_E_KEY_INVALID'],
      [bearer(`${keys.primary}${keys.secondary}`), 'FERRY_E_KEY_INVALID'],
    ];
    for (const [headers, code] of cases) {
      const r = await call(`${secured.url}/score`, { method: 'POST', headers: { ...json, ...headers }, body });
      expect(r.status).toBe(401);
      expect(r.json().code).toBe(code);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    const get = await call(`${secured.url}/score?data=${encodeURIComponent(JSON.stringify(ROWS))}`);
    expect(get.status).toBe(401);
  });

  it('the Bearer scheme is case-insensitive (RFC 6750)', async () => {
    const r = await call(`${secured.url}/score`, { method: 'POST', headers: { ...json, authorization: `bearer ${keys.secondary}` }, body });
    expect(r.status).toBe(200);
  });

  it('a regenerated key works at once and the old one is refused; the other key is untouched', async () => {
    const old = keys.primary;
    const secondary = keys.secondary;
    const fresh = keys.regenerate('primary');
    const withOld = await call(`${secured.url}/score`, { method: 'POST', headers: { ...json, ...bearer(old) }, body });
    expect(withOld.status).toBe(401);
    expect(withOld.json().code).toBe('FERRY_E_KEY_INVALID');
    for (const k of [fresh, secondary]) {
      const r = await call(`${secured.url}/score`, { method: 'POST', headers: { ...json, ...bearer(k) }, body });
      expect(r.status).toBe(200);
    }
  });

  it('a key regenerated by another process (another ServiceKeys on the same file) is honoured within about a second', async () => {
    const cli = ServiceKeys.open(fx.dir, 'linear-svc');
    const old = keys.secondary;
    const fresh = cli.regenerate('secondary');
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call(`${secured.url}/score`, { method: 'POST', headers: { ...json, ...bearer(fresh) }, body })).status).toBe(200);
    expect((await call(`${secured.url}/score`, { method: 'POST', headers: { ...json, ...bearer(old) }, body })).status).toBe(401);
  });

  it('/metrics needs the key; /, /healthz and /swagger.json do not; with auth none nothing does', async () => {
    expect((await call(`${secured.url}/metrics`)).status).toBe(401);
    expect((await call(`${secured.url}/metrics`, { headers: bearer(keys.primary) })).status).toBe(200);
    for (const path of ['/', '/healthz', '/swagger.json']) expect((await call(`${secured.url}${path}`)).status).toBe(200);
    expect((await call(`${open.url}/metrics`)).status).toBe(200);
    expect((await call(`${open.url}/score`, { method: 'POST', headers: json, body })).status).toBe(200);
  });
});

describe('body limits', () => {
  /** Streams `total` bytes in 64 KiB chunks, with or without Content-Length; resolves with the answer and whether the server closed the connection. */
  function upload(url: string, total: number, chunked: boolean): Promise<{ status: number; code: unknown; connection: string | undefined; closed: boolean }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { 'content-type': 'application/json' };
      if (!chunked) headers['content-length'] = total;
      const req = request(`${url}/score`, { method: 'POST', headers, agent: false });
      let socket: Socket | undefined;
      req.on('socket', (s) => (socket = s));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const answer = { status: res.statusCode ?? 0, code: (JSON.parse(Buffer.concat(chunks).toString()) as { code?: unknown }).code, connection: res.headers.connection };
          if (!socket || socket.destroyed) return resolve({ ...answer, closed: true });
          const timer = setTimeout(() => resolve({ ...answer, closed: false }), 6000);
          socket.once('close', () => {
            clearTimeout(timer);
            resolve({ ...answer, closed: true });
          });
        });
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
  }

  it('413 for a 50 MiB body, from Content-Length and while streaming (chunked); memory stays bounded; connection closed', async () => {
    const total = 50 * 1024 * 1024;
    global.gc?.();
    const base = process.memoryUsage().arrayBuffers;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 2);
    try {
      for (const chunked of [false, true]) {
        const r = await upload(open.url, total, chunked);
        expect(r, chunked ? 'chunked' : 'content-length').toEqual({ status: 413, code: 'FERRY_E_BODY_TOO_LARGE', connection: 'close', closed: true });
      }
    } finally {
      clearInterval(sampler);
    }
    // The limit is 10 MiB: a server that buffered the 50 MiB body would show it here.
    expect(peak - base).toBeLessThan(24 * 1024 * 1024);
  });

  it('the limit is exact: a body of maxBodyBytes is scored, one byte more is 413', async () => {
    const body = JSON.stringify({ data: ROWS });
    const small = await freshServer({ auth: 'none', maxBodyBytes: body.length });
    try {
      expect((await call(`${small.url}/score`, { method: 'POST', headers: json, body })).status).toBe(200);
      const over = await call(`${small.url}/score`, { method: 'POST', headers: json, body: `${body} ` });
      expect(over.status).toBe(413);
      expect(over.json().code).toBe('FERRY_E_BODY_TOO_LARGE');
      const chunkedOver = await upload(small.url, body.length + 1, true);
      expect(chunkedOver.status).toBe(413);
    } finally {
      await small.close();
    }
  });

  it('Expect: 100-continue with a too-large Content-Length is refused before the body is sent', async () => {
    const answer = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = request(`${open.url}/score`, { method: 'POST', agent: false, headers: { ...json, 'content-length': 50 * 1024 * 1024, expect: '100-continue' } });
      req.on('continue', () => (continued = true));
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, continued }));
        req.destroy();
      });
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
      req.flushHeaders();
    });
    expect(answer).toEqual({ status: 413, continued: false });
  });
});

describe('metrics', () => {
  it('counts real requests by route and status, errors by code, and the /score latency histogram', async () => {
    const srv = await freshServer({ auth: 'key', keys });
    try {
      const body = JSON.stringify({ data: ROWS });
      const auth = { ...json, ...bearer(keys.primary) };
      for (let i = 0; i < 3; i++) expect((await call(`${srv.url}/score`, { method: 'POST', headers: auth, body })).status).toBe(200);
      expect((await call(`${srv.url}/score`, { method: 'POST', headers: json, body })).status).toBe(401);
      expect((await call(`${srv.url}/score`, { method: 'POST', headers: auth, body: '{' })).status).toBe(400);
      expect((await call(`${srv.url}/nope`)).status).toBe(404);
      expect((await call(`${srv.url}/`)).status).toBe(200);
      const r = await call(`${srv.url}/metrics`, { headers: bearer(keys.primary) });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      const m = parsePrometheus(r.text);
      expect(m.get('ferry_http_requests_total{route="/score",method="POST",status="200"}')).toBe(3);
      expect(m.get('ferry_http_requests_total{route="/score",method="POST",status="401"}')).toBe(1);
      expect(m.get('ferry_http_requests_total{route="/score",method="POST",status="400"}')).toBe(1);
      expect(m.get('ferry_http_requests_total{route="other",method="GET",status="404"}')).toBe(1);
      expect(m.get('ferry_http_requests_total{route="/",method="GET",status="200"}')).toBe(1);
      expect(m.get('ferry_http_errors_total{code="FERRY_E_KEY_MISSING"}')).toBe(1);
      expect(m.get('ferry_http_errors_total{code="FERRY_E_REQUEST_MALFORMED"}')).toBe(1);
      expect(m.get('ferry_http_errors_total{code="FERRY_E_ROUTE_NOT_FOUND"}')).toBe(1);
      expect(m.get('ferry_score_request_duration_seconds_count')).toBe(5);
      expect(m.get('ferry_score_request_duration_seconds_bucket{le="+Inf"}')).toBe(5);
      const buckets = [...m].filter(([k]) => k.startsWith('ferry_score_request_duration_seconds_bucket')).map(([, v]) => v);
      expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
      expect(m.get('ferry_score_request_duration_seconds_sum')).toBeGreaterThan(0);
      expect(m.get('ferry_http_requests_in_flight')).toBe(0);
      expect(m.get('ferry_scoring_in_flight')).toBe(0);
      expect(m.get('ferry_scoring_queue_depth')).toBe(0);
      expect(m.get('ferry_ready')).toBe(1);
      // Every sample line is `name{labels} value` or `name value`, and every family has HELP and TYPE.
      for (const line of r.text.trimEnd().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [0-9.e+-]+)$/);
      const again = parsePrometheus((await call(`${srv.url}/metrics`, { headers: bearer(keys.primary) })).text);
      expect(again.get('ferry_http_requests_total{route="/metrics",method="GET",status="200"}')).toBe(1);
    } finally {
      await srv.close();
    }
  });

  it('emits one request event per answer with method, path, status, ms, request id and code', async () => {
    events.length = 0;
    await call(`${secured.url}/score?x=1`, { headers: { 'x-request-id': 'ev-1' } });
    const e = events.find((ev) => ev.type === 'request' && ev.requestId === 'ev-1');
    expect(e).toMatchObject({ type: 'request', method: 'GET', path: '/score', status: 401, requestId: 'ev-1', code: 'FERRY_E_KEY_MISSING' });
    expect((e as { ms: number }).ms).toBeGreaterThanOrEqual(0);
  });
});

describe('while the runtime loads', () => {
  it('listens at once: / is 200, /healthz and /score are 503 with Retry-After until the runtime resolves', async () => {
    let resolveLoad!: (rt: ScoringRuntime) => void;
    let rejectLoad!: (e: Error) => void;
    const loading = new Promise<ScoringRuntime>((resolve, reject) => {
      resolveLoad = resolve;
      rejectLoad = reject;
    });
    const seen: ServerEvent[] = [];
    const srv = await startScoringServer(loading, { port: 0, auth: 'none', onEvent: (e) => seen.push(e) });
    try {
      expect((await call(`${srv.url}/`)).status).toBe(200);
      const health = await call(`${srv.url}/healthz`);
      expect(health.status).toBe(503);
      expect(health.json()).toMatchObject({ status: 'loading', code: 'FERRY_E_NOT_READY' });
      expect(health.headers['retry-after']).toMatch(/^\d+$/);
      const score = await call(`${srv.url}/score`, { method: 'POST', headers: json, body: JSON.stringify({ data: ROWS }) });
      expect(score.status).toBe(503);
      expect(score.json().code).toBe('FERRY_E_NOT_READY');
      expect(score.headers['retry-after']).toMatch(/^\d+$/);
      const metrics = parsePrometheus((await call(`${srv.url}/metrics`)).text);
      expect(metrics.get('ferry_ready')).toBe(0);

      // The real runtime, loaded now.
      resolveLoad(await createScoringRuntime(fx.linearConfig(), { resolver: fx.resolver }));
      await new Promise((r) => setImmediate(r));
      expect((await call(`${srv.url}/healthz`)).status).toBe(200);
      const ok = await call(`${srv.url}/score`, { method: 'POST', headers: json, body: JSON.stringify({ data: ROWS }) });
      expect(ok.status).toBe(200);
      expect(sameFloat32(ok.json().scores as number[][], expected)).toBe(true);
      expect(seen.some((e) => e.type === 'ready')).toBe(true);
    } finally {
      // A test that failed before the runtime loaded: close() would wait for it forever.
      rejectLoad(new Error('the test ended before the runtime loaded'));
      await srv.close();
    }
  });

  it('a runtime that fails to load: /healthz 503 names the cause, /score 503 FERRY_E_RUNTIME_FAILED', async () => {
    const failing = createScoringRuntime({ name: 'broken', models: ['corrupt:1'] }, { resolver: fx.resolver });
    const seen: ServerEvent[] = [];
    const srv = await startScoringServer(failing, { port: 0, auth: 'none', onEvent: (e) => seen.push(e) });
    try {
      const cause = await failing.then(() => undefined, (e: { code?: string }) => e.code);
      expect(cause).toMatch(/^FERRY_E_/);
      await new Promise((r) => setImmediate(r));
      const health = await call(`${srv.url}/healthz`);
      expect(health.status).toBe(503);
      expect(health.json()).toMatchObject({ status: 'failed', code: cause });
      const score = await call(`${srv.url}/score`, { method: 'POST', headers: json, body: '{}' });
      expect(score.status).toBe(503);
      expect(score.json()).toMatchObject({ code: 'FERRY_E_RUNTIME_FAILED', details: { causeCode: cause } });
      expect(seen.find((e) => e.type === 'load-failed')).toBeDefined();
    } finally {
      await srv.close();
    }
  });
});

describe('catalogue', () => {
  it('every code the HTTP layer uses is in httpCatalogue or the runtime catalogue, with matching statuses', () => {
    for (const [code, entry] of Object.entries(httpCatalogue)) {
      expect(code).toMatch(/^FERRY_E_[A-Z0-9_]+$/);
      expect(entry.hint.length).toBeGreaterThan(10);
      expect(code in scoringCatalogue, `${code} is defined twice`).toBe(false);
    }
  });
});

/** `name{labels} value` -> value, for every sample line. */
function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** A server over its own fresh runtime (close() closes both). */
async function freshServer(opts: Omit<ScoringServerOptions, 'port'>): Promise<ScoringServer> {
  return startScoringServer(await createScoringRuntime(fx.linearConfig(), { resolver: fx.resolver }), { port: 0, ...opts });
}
