/**
 * Runtime errors as HTTP answers, and shutdown: close() draining in-process, and SIGTERM draining a real
 * child process that has requests in flight. Real runtime (entry script in worker threads), real sockets.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScoringServer } from '../src/http/scoring-server.js';
import type { ScoringServer } from '../src/http/scoring-server.js';
import { createScoringRuntime } from '../src/runtime/index.js';
import type { ScoringRuntime } from '../src/runtime/index.js';
import { call, makeServiceFixture } from './http-fixtures/service-fixture.js';
import type { RawAnswer, ServiceFixture } from './http-fixtures/service-fixture.js';

const json = { 'content-type': 'application/json' };
let fx: ServiceFixture;

beforeAll(() => {
  fx = makeServiceFixture();
});
afterAll(() => fx?.cleanup());

function post(url: string, input: unknown): Promise<RawAnswer> {
  return call(`${url}/score`, { method: 'POST', headers: json, body: JSON.stringify(input) });
}

/** Polls /healthz until the runtime holds `n` requests (running or queued). */
async function untilHeld(url: string, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const h = (await call(`${url}/healthz`)).json() as { inFlight: number; queued: number };
    if (h.inFlight + h.queued >= n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the runtime never held ${n} requests`);
}

/** Opens a connection and sends the head of a request without its final CRLF: a request on its way. */
function startRequest(url: string, head: string): Promise<{ socket: Socket; finish: () => Promise<string> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(head);
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      const ended = new Promise<string>((r) => socket.on('close', () => r(text)));
      resolve({ socket, finish: () => (socket.write('\r\n'), ended) });
    });
    socket.on('error', reject);
  });
}

function connectionRefused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(port), hostname);
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('an entry-script service over HTTP', () => {
  let runtime: ScoringRuntime;
  let srv: ScoringServer;
  beforeAll(async () => {
    runtime = await createScoringRuntime(fx.entryConfig({ workers: 1, maxConcurrent: 1, maxQueue: 0, timeoutMs: 400 }), { resolver: fx.resolver, terminateGraceMs: 200 });
    srv = await startScoringServer(runtime, { port: 0, auth: 'none' });
  });
  afterAll(async () => {
    await srv?.close();
    await runtime?.close(); // in case the server failed to start
  });

  it('an entry script answer is the JSON run() returned', async () => {
    const r = await post(srv.url, { hello: 'world', n: 3 });
    expect(r.status).toBe(200);
    expect(r.json().echo).toEqual({ hello: 'world', n: 3 });
    expect(Number(r.headers['x-ms-run-fn-exec-ms'])).toBeGreaterThanOrEqual(0);
  });

  it('GET /score query parameters become the request object (JSON values, repeated keys as arrays, as Azure ML)', async () => {
    const r = await call(`${srv.url}/score?a=1&b=[1,2]&c=x&c=%7B%22k%22%3Atrue%7D&d=null&e=&__proto__=5`);
    expect(r.status).toBe(200);
    expect(r.json().echo).toEqual({ a: 1, b: [1, 2], c: ['x', { k: true }], d: null, e: '', ['__proto__']: 5 });
    expect(Object.keys(r.json().echo as object)).toContain('__proto__');
  });

  it('run() throwing gives 500 with x-ms-run-function-failed: True and the runtime\'s code', async () => {
    const r = await post(srv.url, { fail: 'on purpose' });
    expect(r.status).toBe(500);
    expect(r.headers['x-ms-run-function-failed']).toBe('True');
    expect(r.json().code).toBe('FERRY_E_SCORING_FAILED');
    const ok = await post(srv.url, { fine: true });
    expect(ok.headers['x-ms-run-function-failed']).toBeUndefined();
  });

  it('a full runtime answers 503 FERRY_E_BUSY with Retry-After from details.retryAfterSeconds', async () => {
    const slow = post(srv.url, { sleepMs: 250 });
    await untilHeld(srv.url, 1);
    const busy = await post(srv.url, { n: 1 });
    expect(busy.status).toBe(503);
    expect(busy.json().code).toBe('FERRY_E_BUSY');
    const seconds = (busy.json().details as { retryAfterSeconds: number }).retryAfterSeconds;
    expect(busy.headers['retry-after']).toBe(String(Math.ceil(seconds)));
    expect((await slow).status).toBe(200);
  });

  it('a request past the runtime timeout gets 504 FERRY_E_SCORING_TIMEOUT', async () => {
    const r = await post(srv.url, { sleepMs: 1500 });
    expect(r.status).toBe(504);
    expect(r.json().code).toBe('FERRY_E_SCORING_TIMEOUT');
  });
});

describe('close()', () => {
  it('finishes in-flight requests, refuses new ones (503 + Connection: close on open connections, refused connections), then closes the runtime', async () => {
    const runtime = await createScoringRuntime(fx.entryConfig({ workers: 1, maxQueue: 8 }), { resolver: fx.resolver });
    const srv = await startScoringServer(runtime, { port: 0, auth: 'none' });
    try {
      const inFlight = [1, 2, 3].map((i) => post(srv.url, { sleepMs: 200, i }));
      await untilHeld(srv.url, 3);
      // A connection whose request is on its way when close() starts.
      const pending = await startRequest(srv.url, 'GET /healthz HTTP/1.1\r\nHost: test\r\n');
      await new Promise((r) => setTimeout(r, 20));
      const closed = srv.close();
      expect(await connectionRefused(srv.url)).toBe(true);
      const late = await pending.finish();
      expect(late).toMatch(/^HTTP\/1\.1 503 /);
      expect(late).toMatch(/\r\nconnection: close\r\n/i);
      expect(late).toMatch(/\r\nretry-after: \d+\r\n/i);
      expect(late).toContain('"code":"FERRY_E_SHUTTING_DOWN"');
      const answers = await Promise.all(inFlight);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      expect(answers.map((a) => (a.json().echo as { i: number }).i)).toEqual([1, 2, 3]);
      await closed;
      // The runtime was closed after the drain.
      await expect(runtime.score({ kind: 'json', value: {} })).rejects.toMatchObject({ code: 'FERRY_E_SHUTTING_DOWN' });
      expect(srv.close()).toBe(closed);
    } finally {
      await srv.close(); // the same promise when the test got that far
    }
  });
});

describe('listening', () => {
  it('a port in use gives FERRY_E_LISTEN_FAILED and the runtime is released', async () => {
    const first = await startScoringServer(await createScoringRuntime(fx.linearConfig(), { resolver: fx.resolver }), { port: 0, auth: 'none' });
    let runtime: ScoringRuntime | undefined;
    try {
      runtime = await createScoringRuntime(fx.linearConfig(), { resolver: fx.resolver });
      await expect(startScoringServer(runtime, { port: first.port, auth: 'none' })).rejects.toMatchObject({ code: 'FERRY_E_LISTEN_FAILED' });
      await expect(runtime.score({ kind: 'json', value: {} })).rejects.toMatchObject({ code: 'FERRY_E_SHUTTING_DOWN' });
    } finally {
      await first.close();
      await runtime?.close(); // already closed by the failed listen (idempotent), unless the test failed
    }
  });
});

describe('SIGTERM', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('a serving process drains in-flight requests (200), refuses new ones, and exits 0', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const viteNode = join(dirname(createRequire(import.meta.url).resolve('vite-node/package.json')), 'vite-node.mjs');
    const proc = spawn(process.execPath, [viteNode, join(here, 'http-fixtures', 'serve-child.ts')], {
      env: { ...process.env, FERRY_TEST_FIXTURE_DIR: fx.dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let stderr = '';
    proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    const lines: Record<string, unknown>[] = [];
    const started = new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        const o = JSON.parse(line) as Record<string, unknown>;
        lines.push(o);
        if (typeof o.url === 'string') resolve(o.url);
      });
      void exited.then((code) => reject(new Error(`child exited (${code}) before serving: ${stderr}`)));
    });
    const url = await started;

    // Two workers: four requests of 600 ms, two running and two queued when the signal comes.
    const inFlight = [1, 2, 3, 4].map((i) => post(url, { sleepMs: 600, i }));
    await untilHeld(url, 4);
    const pending = await startRequest(url, 'POST /score HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 2\r\n');
    proc.kill('SIGTERM');
    // New connections are refused as soon as the handler ran.
    let refused = false;
    for (let i = 0; i < 100 && !refused; i++) {
      refused = await connectionRefused(url);
      if (!refused) await new Promise((r) => setTimeout(r, 10));
    }
    expect(refused).toBe(true);
    pending.socket.write('\r\n{}');
    const late = await pending.finish();
    expect(late).toMatch(/^HTTP\/1\.1 503 /);
    expect(late).toContain('"code":"FERRY_E_SHUTTING_DOWN"');

    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers.map((a) => (a.json().echo as { i: number }).i)).toEqual([1, 2, 3, 4]);
    expect(await exited).toBe(0);
    expect(lines.map((l) => l.event)).toEqual(expect.arrayContaining(['signal', 'draining', 'closed']));
  });
});
