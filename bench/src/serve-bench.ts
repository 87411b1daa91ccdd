/**
 * `ferry serve` over HTTP (a real process, keep-alive closed-loop load from this process) against
 * baseline (a): InferenceSession.run in a loop in this process, same model, same inputs, same run.
 *
 * Targets (issue 2 §9): det model throughput (b)/(a) ≥ 0.95; cls model (b)/(a) ≥ 0.80 at
 * concurrency 8 and added p50 latency ≤ 0.5 ms at concurrency 1. Bodies are the raw tensor
 * (application/octet-stream with x-ferry-shape); the same figures with JSON bodies are printed too.
 */
import { profile, ModelRegistry, type ProfileReport } from '@ferry/builder';
import { ServiceKeys } from '@ferry/module';
import { FERRY_BIN, seededRandom, thirdPartyModels } from '@ferry/test';
import { rawSessionLoop } from './raw-session.js';
import type { BenchContext, BenchReport, Figure, Target } from './report.js';

interface Case {
  name: 'det' | 'cls';
  path: string;
  dims: number[];
  concurrency: number[];
}

function input(dims: number[], seed: number): Float32Array {
  const rand = seededRandom(seed);
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i += 1) data[i] = Math.round((rand() * 2 - 1) * 1000) / 1000;
  return data;
}

function nested(data: Float32Array, dims: number[]): unknown {
  const build = (offset: number, axis: number): unknown => {
    const size = dims[axis] as number;
    if (axis === dims.length - 1) return Array.from(data.subarray(offset, offset + size));
    const stride = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: size }, (_, i) => build(offset + i * stride, axis + 1));
  };
  return build(0, 0);
}

async function serveProfile(ctx: BenchContext, id: string, key: string, requests: unknown[], headers: Record<string, string> | undefined, concurrency: number[], durationMs: number): Promise<ProfileReport> {
  return profile({
    serve: { command: [process.execPath, FERRY_BIN, '--workspace', ctx.tmpDir, 'serve', id], key },
    requests,
    ...(headers ? { headers } : {}),
    durationMs,
    concurrency,
    warmupMs: ctx.quick ? 300 : 1000,
  });
}

export async function serveBench(ctx: BenchContext): Promise<BenchReport> {
  const models = thirdPartyModels();
  const cases: Case[] = [
    { name: 'det', path: models.ocrDet, dims: [1, 3, 320, 320], concurrency: [1, 2] },
    { name: 'cls', path: models.ocrCls, dims: [1, 3, 48, 192], concurrency: [1, 8] },
  ];
  const durationMs = ctx.quick ? 1500 : 5000;
  const registry = ModelRegistry.open(ctx.tmpDir);
  const figures: Figure[] = [];
  const targets: Target[] = [];
  const notes: string[] = [];
  try {
    for (const c of cases) {
      const record = await registry.register(c.path, { name: `ocr-${c.name}` });
      const key = ServiceKeys.open(ctx.tmpDir, record.name).primary;
      const data = input(c.dims, 42);
      const raw = await rawSessionLoop(c.path, { x: { type: 'float32', dims: c.dims, data } }, durationMs, ctx.quick ? 300 : 1000);
      ctx.log(`${c.name}: raw loop ${raw.runsPerSec.toFixed(1)} runs/s, p50 ${raw.p50Ms.toFixed(3)} ms`);
      const binary = await serveProfile(ctx, record.id, key, [Buffer.from(data.buffer, data.byteOffset, data.byteLength)], { 'x-ferry-shape': c.dims.join(',') }, c.concurrency, durationMs);
      const json = await serveProfile(ctx, record.id, key, [{ x: nested(data, c.dims) }], undefined, c.concurrency, durationMs);
      figures.push({ label: `${c.name} raw InferenceSession.run loop`, value: raw.runsPerSec, unit: 'runs/s' }, { label: `${c.name} raw p50`, value: raw.p50Ms, unit: 'ms' });
      for (const [body, report] of [['binary', binary], ['json', json]] as const) {
        for (const level of report.levels) {
          ctx.log(`${c.name} ${body} c=${level.concurrency}: ${level.qps.toFixed(1)} q/s, p50 ${level.latency?.p50Ms.toFixed(3)} ms, failed ${level.failedQueries}`);
          figures.push({ label: `${c.name} serve ${body} c=${level.concurrency}`, value: level.qps, unit: 'q/s' });
          figures.push({ label: `${c.name} serve ${body} c=${level.concurrency} p50`, value: level.latency?.p50Ms ?? NaN, unit: 'ms' });
          if (level.failedQueries > 0) notes.push(`${c.name} ${body} c=${level.concurrency}: ${level.failedQueries} failed queries ${JSON.stringify(level.failures)}`);
        }
      }
      const level = (r: ProfileReport, n: number) => r.levels.find((l) => l.concurrency === n);
      if (c.name === 'det') {
        const best = (r: ProfileReport) => Math.max(...r.levels.map((l) => l.qps));
        targets.push({ label: 'det throughput serve/raw (binary body, best level)', value: best(binary) / raw.runsPerSec, bar: 0.95, op: '>=' });
        figures.push({ label: 'det throughput serve/raw (JSON body, best level)', value: best(json) / raw.runsPerSec, unit: 'ratio' });
      } else {
        targets.push({ label: 'cls throughput serve/raw at c=8 (binary body)', value: (level(binary, 8)?.qps ?? 0) / raw.runsPerSec, bar: 0.8, op: '>=' });
        targets.push({ label: 'cls added p50 latency at c=1 (binary body)', value: (level(binary, 1)?.latency?.p50Ms ?? Infinity) - raw.p50Ms, bar: 0.5, op: '<=', unit: 'ms' });
        figures.push({ label: 'cls throughput serve/raw at c=8 (JSON body)', value: (level(json, 8)?.qps ?? 0) / raw.runsPerSec, unit: 'ratio' });
        figures.push({ label: 'cls added p50 latency at c=1 (JSON body)', value: (level(json, 1)?.latency?.p50Ms ?? Infinity) - raw.p50Ms, unit: 'ms' });
      }
    }
  } finally {
    registry.close();
  }
  return { name: 'ferry serve vs raw InferenceSession.run', figures, targets, notes };
}
