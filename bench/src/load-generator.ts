/**
 * The keep-alive load generator for `ferry serve`: wrk (Debian's `wrk`, written in C, so the load it
 * puts on these two cores is small) when it is installed, else Ferry's own closed-loop client
 * (`profile()` against a running service). Both report queries per second and latency percentiles.
 */
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { profile } from '@ferry/builder';

const run = promisify(execFile);

export interface LoadResult {
  qps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export interface LoadSpec {
  url: string;
  key: string;
  body: Buffer;
  headers: Record<string, string>;
  concurrency: number;
  durationMs: number;
  /** A folder for wrk's request script and body file. */
  scratch: string;
}

export function loadGeneratorName(): 'wrk' | 'ferry' {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return 'wrk';
  } catch (e) {
    // wrk --version exits 1 after printing its version.
    return (e as { status?: number }).status === 1 ? 'wrk' : 'ferry';
  }
}

export async function generateLoad(spec: LoadSpec): Promise<LoadResult> {
  return loadGeneratorName() === 'wrk' ? wrkLoad(spec) : ferryLoad(spec);
}

async function wrkLoad(spec: LoadSpec): Promise<LoadResult> {
  const bodyFile = join(spec.scratch, `body-${spec.body.length}-${spec.concurrency}.bin`);
  const script = join(spec.scratch, `request-${spec.body.length}-${spec.concurrency}.lua`);
  writeFileSync(bodyFile, spec.body);
  const headers = Object.entries({ ...spec.headers, Authorization: `Bearer ${spec.key}` })
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join('\n');
  writeFileSync(script, [
    `local f = io.open(${JSON.stringify(bodyFile)}, "rb")`,
    'wrk.method = "POST"',
    'wrk.body = f:read("*all")',
    'f:close()',
    headers,
    // Count non-2xx answers ourselves: wrk only reports them in its summary line.
    '',
  ].join('\n'));
  const threads = Math.min(2, spec.concurrency);
  const { stdout } = await run('wrk', ['-t', String(threads), '-c', String(spec.concurrency), '-d', `${Math.max(1, Math.round(spec.durationMs / 1000))}s`, '--latency', '-s', script, `${spec.url}/score`]);
  const qps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const p50Ms = durationMs(/^\s+50%\s+([\d.]+)(us|ms|s)/m.exec(stdout));
  const p99Ms = durationMs(/^\s+99%\s+([\d.]+)(us|ms|s)/m.exec(stdout));
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0) + Number(/Socket errors:.*?timeout (\d+)/.exec(stdout)?.[1] ?? 0);
  if (!Number.isFinite(qps) || !Number.isFinite(p50Ms)) throw new Error(`cannot read wrk's output:\n${stdout}`);
  return { qps, p50Ms, p99Ms, errors };
}

function durationMs(m: RegExpExecArray | null): number {
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

async function ferryLoad(spec: LoadSpec): Promise<LoadResult> {
  const report = await profile({
    serve: { url: spec.url, key: spec.key },
    requests: [spec.body],
    headers: spec.headers,
    durationMs: spec.durationMs,
    concurrency: [spec.concurrency],
    warmupMs: 200,
  });
  const level = report.levels[0];
  if (!level?.latency) throw new Error('the load produced no answers');
  return { qps: level.qps, p50Ms: level.latency.p50Ms, p99Ms: level.latency.p99Ms, errors: level.failedQueries };
}
