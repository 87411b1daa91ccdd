/**
 * Batch scoring mechanics against a real node:http server on loopback that follows the scoring protocol
 * (PROTOCOLS.md §7): bad lines, the errors file, 503 retries, resume (a crafted partial line, an abort, and a
 * real child process killed with SIGKILL mid-way). The real Ferry service is used in batch-real.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '@ferry/module';
import { ScoringClient, scoreBatch, defaultErrorsPath } from '../src/scoring-client/index.js';
import type { BatchProgress } from '../src/scoring-client/index.js';

const here = dirname(fileURLToPath(import.meta.url));

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => ok(text));
    req.on('error', fail);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

interface Line {
  data?: number[];
  sleepMs?: number;
  busyOnce?: string;
}

/** Sums `data`; 400 FERRY_E_REQUEST_INVALID without it; `busyOnce` answers 503 the first time a tag is seen. */
async function startSumServer(): Promise<{ server: Server; url: string; requests: () => number }> {
  const busySeen = new Set<string>();
  let requests = 0;
  const server = createServer(async (req, res) => {
    if (req.url === '/healthz') return send(res, 200, {});
    requests++;
    const text = await readBody(req);
    let body: Line;
    try {
      body = JSON.parse(text) as Line;
    } catch {
      return send(res, 400, { message: 'malformed', code: 'FERRY_E_REQUEST_MALFORMED' });
    }
    if (body.busyOnce && !busySeen.has(body.busyOnce)) {
      busySeen.add(body.busyOnce);
      return send(res, 503, { message: 'busy', code: 'FERRY_E_BUSY' }, { 'retry-after': '0' });
    }
    if (body.sleepMs) await new Promise((r) => setTimeout(r, body.sleepMs));
    if (!Array.isArray(body.data)) return send(res, 400, { message: 'data is missing', code: 'FERRY_E_REQUEST_INVALID' });
    return send(res, 200, { sum: body.data.reduce((a, b) => a + b, 0) });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

function readJsonl(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Line numbers in the output, and each line's result checked against the sum computed here. */
function checkOutput(outPath: string, input: readonly string[]): number[] {
  const numbers: number[] = [];
  for (const row of readJsonl(outPath)) {
    const n = row.line as number;
    const request = JSON.parse(input[n - 1] as string) as Line;
    expect(row.result).toEqual({ sum: (request.data ?? []).reduce((a, b) => a + b, 0) });
    numbers.push(n);
  }
  return numbers.sort((a, b) => a - b);
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  try {
    await promise;
  } catch (e) {
    expect(isFerryError(e) ? e.code : e).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('scoreBatch', () => {
  let server: Server;
  let url: string;
  let requests: () => number;
  let client: ScoringClient;
  let dir: string;

  beforeAll(async () => {
    ({ server, url, requests } = await startSumServer());
    client = new ScoringClient({ url, maxRetryDelayMs: 10 });
    dir = mkdtempSync(join(tmpdir(), 'ferry-batch-'));
  });
  afterAll(async () => {
    client.close();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('scores every good line once, sends bad lines to the errors file with their numbers, and never stops', async () => {
    const lines: string[] = [];
    for (let i = 1; i <= 40; i++) lines.push(JSON.stringify({ data: [i, i * 0.5, -3] }));
    lines[4] = '{"data": [1, 2'; // line 5: not JSON
    lines[9] = '{"nodata": true}'; // line 10: rejected by the service
    lines[14] = '   '; // line 15: blank, ignored
    lines[19] = JSON.stringify({ data: [7, 8], busyOnce: 'line20' }); // line 20: 503 once, then scored
    const input = join(dir, 'mixed.jsonl');
    writeFileSync(input, `${lines.join('\r\n')}\n\n`);
    const output = join(dir, 'mixed.out.jsonl');
    const progress: BatchProgress[] = [];
    const summary = await scoreBatch({ client, input, output, concurrency: 4, onProgress: (p) => progress.push(p), progressIntervalMs: 0 });

    expect(summary).toMatchObject({ total: 39, scored: 37, failed: 2, skipped: 0, errors: defaultErrorsPath(output), repairedBytes: 0, aborted: false });
    expect(summary.errors).toBe(join(dir, 'mixed.out.errors.jsonl'));
    const good = Array.from({ length: 40 }, (_, i) => i + 1).filter((n) => ![5, 10, 15].includes(n));
    expect(checkOutput(output, lines)).toEqual(good);
    const errors = readJsonl(summary.errors).sort((a, b) => (a.line as number) - (b.line as number));
    expect(errors.map((e) => [e.line, (e.error as { code: string }).code, (e.error as { status: number | null }).status])).toEqual([
      [5, 'FERRY_E_BATCH_LINE_INVALID', null],
      [10, 'FERRY_E_REQUEST_INVALID', 400],
    ]);
    const last = progress[progress.length - 1] as BatchProgress;
    expect(last).toMatchObject({ done: 39, total: 39, scored: 37, failed: 2, skipped: 0 });
    expect(last.ratePerSec).toBeGreaterThan(0);
    expect(progress.every((p, i) => i === 0 || p.done >= (progress[i - 1] as BatchProgress).done)).toBe(true);

    // A rerun skips what is in the output and retries only the failed lines (still failing), afresh.
    const rerun = await scoreBatch({ client, input, output, concurrency: 2 });
    expect(rerun).toMatchObject({ total: 39, scored: 0, failed: 2, skipped: 37 });
    expect(readJsonl(rerun.errors).map((e) => e.line).sort()).toEqual([10, 5]);
    expect(checkOutput(output, lines)).toEqual(good);
  });

  it('writes in input order with concurrency 1', async () => {
    const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ data: [i] }));
    const input = join(dir, 'ordered.jsonl');
    writeFileSync(input, lines.join('\n'));
    const output = join(dir, 'ordered.out.jsonl');
    const summary = await scoreBatch({ client, input, output, concurrency: 1 });
    expect(summary.scored).toBe(12);
    expect(readJsonl(output).map((r) => r.line)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(existsSync(summary.errors)).toBe(false);
  });

  it('repairs a partial last output line left by a crash and scores that line again, once', async () => {
    const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ data: [i, 100] }));
    const input = join(dir, 'partial.jsonl');
    writeFileSync(input, lines.join('\n'));
    const output = join(dir, 'partial.out.jsonl');
    const done = [1, 2, 3, 4, 5].map((n) => JSON.stringify({ line: n, result: { sum: n - 1 + 100 } })).join('\n');
    const partial = '{"line":6,"result":{"su';
    writeFileSync(output, `${done}\n${partial}`);
    const before = requests();
    const summary = await scoreBatch({ client, input, output, concurrency: 3 });
    expect(summary).toMatchObject({ total: 10, skipped: 5, scored: 5, failed: 0, repairedBytes: partial.length });
    expect(requests() - before).toBe(5);
    expect(checkOutput(output, lines)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('refuses an output file it did not write (FERRY_E_BATCH_OUTPUT_INVALID) and leaves it alone', async () => {
    const input = join(dir, 'one.jsonl');
    writeFileSync(input, '{"data":[1]}\n');
    const output = join(dir, 'foreign.jsonl');
    const foreign = 'id,value\n1,2\n';
    writeFileSync(output, foreign);
    await expectCode(scoreBatch({ client, input, output }), 'FERRY_E_BATCH_OUTPUT_INVALID');
    expect(readFileSync(output, 'utf8')).toBe(foreign);
  });

  it('answers FERRY_E_BATCH_INPUT_UNREADABLE for a missing input and FERRY_E_BATCH_OPTIONS_INVALID for a bad concurrency', async () => {
    await expectCode(scoreBatch({ client, input: join(dir, 'missing.jsonl'), output: join(dir, 'x.jsonl') }), 'FERRY_E_BATCH_INPUT_UNREADABLE');
    await expectCode(scoreBatch({ client, input: join(dir, 'one.jsonl'), output: join(dir, 'x.jsonl'), concurrency: 0 }), 'FERRY_E_BATCH_OPTIONS_INVALID');
  });

  it('stops with FERRY_E_SERVICE_UNREACHABLE when the service is down (not a bad line), resumable later', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const dead = new ScoringClient({ url: `http://127.0.0.1:${port}` });
    const input = join(dir, 'down.jsonl');
    const lines = Array.from({ length: 5 }, (_, i) => JSON.stringify({ data: [i] }));
    writeFileSync(input, lines.join('\n'));
    const output = join(dir, 'down.out.jsonl');
    await expectCode(scoreBatch({ client: dead, input, output, concurrency: 2 }), 'FERRY_E_SERVICE_UNREACHABLE');
    dead.close();
    expect(existsSync(defaultErrorsPath(output))).toBe(false);
    const summary = await scoreBatch({ client, input, output });
    expect(summary.scored).toBe(5);
    expect(checkOutput(output, lines)).toEqual([1, 2, 3, 4, 5]);
  });

  it('aborts on a signal with aborted: true, and the rerun completes exactly once', async () => {
    const lines = Array.from({ length: 60 }, (_, i) => JSON.stringify({ data: [i, 1], sleepMs: 10 }));
    const input = join(dir, 'abort.jsonl');
    writeFileSync(input, lines.join('\n'));
    const output = join(dir, 'abort.out.jsonl');
    const controller = new AbortController();
    const first = await scoreBatch({
      client,
      input,
      output,
      concurrency: 2,
      signal: controller.signal,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.scored >= 10) controller.abort();
      },
    });
    expect(first.aborted).toBe(true);
    expect(first.scored).toBeGreaterThanOrEqual(10);
    expect(first.scored).toBeLessThan(60);
    const second = await scoreBatch({ client, input, output, concurrency: 4 });
    expect(second).toMatchObject({ aborted: false, skipped: first.scored, scored: 60 - first.scored });
    expect(checkOutput(output, lines)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });

  it('resumes after the batch process is killed with SIGKILL mid-way: every line scored exactly once', async () => {
    // The child runs the batch code from source, bundled by esbuild (@ferry/module stays the built package).
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

    const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ data: [i, i % 7, 0.25], sleepMs: 8 }));
    const input = join(dir, 'killed.jsonl');
    writeFileSync(input, `${lines.join('\n')}\n`);
    const output = join(dir, 'killed.out.jsonl');
    const runBatch = (): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; signal: string | null; stdout: string }> } => {
      const child = spawn(process.execPath, [runner, url, input, output, '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const done = new Promise<{ code: number | null; signal: string | null; stdout: string }>((ok) =>
        child.on('exit', (code, signal) => ok({ code, signal, stdout: stdout || stderr })),
      );
      return { child, done };
    };

    const first = runBatch();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const written = existsSync(output) ? readFileSync(output, 'utf8').split('\n').length - 1 : 0;
      if (written >= 60) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    // Complete lines only: a line torn by the kill (no newline yet) is not done and is repaired by the rerun.
    const written = readFileSync(output, 'utf8');
    const partial = written.slice(0, written.lastIndexOf('\n') + 1).split('\n').filter((l) => l.length > 0).length;
    expect(partial).toBeGreaterThanOrEqual(60);
    expect(partial).toBeLessThan(300);

    const second = await runBatch().done;
    expect(second.code).toBe(0);
    const summary = JSON.parse(second.stdout) as { total: number; skipped: number; scored: number; failed: number };
    expect(summary).toMatchObject({ total: 300, skipped: partial, scored: 300 - partial, failed: 0 });
    expect(checkOutput(output, lines)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it('does not take a torn line without its newline as done even if it parses', async () => {
    const lines = ['{"data":[1]}', '{"data":[2]}'];
    const input = join(dir, 'torn.jsonl');
    writeFileSync(input, lines.join('\n'));
    const output = join(dir, 'torn.out.jsonl');
    writeFileSync(output, '{"line":1,"result":{"sum":1}}\n');
    appendFileSync(output, '{"line":2,"result":{"sum":2}}');
    const summary = await scoreBatch({ client, input, output });
    expect(summary).toMatchObject({ skipped: 1, scored: 1 });
    expect(checkOutput(output, lines)).toEqual([1, 2]);
  });
});
