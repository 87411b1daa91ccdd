/**
 * `ferry serve` over HTTP (a real process, keep-alive load from wrk or Ferry's own client) against
 * baseline (a): InferenceSession.run in a loop in this process, same model, same inputs. Every load
 * measurement is bracketed by a raw measurement just before and just after it, and compared with their
 * mean: these machines' speed drifts by 2x within a minute, so only side-by-side pairs are fair. The
 * reported ratio is the median over rounds of these paired ratios.
 *
 * Targets (issue 2 §9): det throughput (b)/(a) ≥ 0.95; cls (b)/(a) ≥ 0.80 at concurrency 8 and added
 * p50 latency ≤ 0.5 ms at concurrency 1. The target rows use raw tensor bodies
 * (application/octet-stream + x-ferry-shape; det also asks for a raw tensor answer); JSON bodies
 * are measured alongside and printed as figures.
 */
import { ModelRegistry, startServeProcess, type ServeProcess } from '@ferry/builder';
import { ServiceKeys } from '@ferry/module';
import { FERRY_BIN, seededRandom, thirdPartyModels } from '@ferry/test';
import { generateLoad, loadGeneratorName, type LoadResult } from './load-generator.js';
import { RawSession, type RawLoopResult } from './raw-session.js';
import type { BenchContext, BenchReport, Figure, Target } from './report.js';

interface Variant {
  label: string;
  body: Buffer;
  headers: Record<string, string>;
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

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;

export async function serveBench(ctx: BenchContext): Promise<BenchReport> {
  const models = thirdPartyModels();
  const rounds = ctx.quick ? 1 : 3;
  const durationMs = ctx.quick ? 1000 : 3000;
  const generator = loadGeneratorName();
  const registry = ModelRegistry.open(ctx.tmpDir);
  const figures: Figure[] = [];
  const targets: Target[] = [];
  const notes: string[] = [`load generator: ${generator === 'wrk' ? 'wrk' : "Ferry's own closed-loop client (install wrk for a lighter one)"}; ${rounds} alternating round(s) of ${durationMs} ms, medians`];
  try {
    for (const c of [
      { name: 'det', path: models.ocrDet, dims: [1, 3, 320, 320], concurrency: [1, 2] },
      { name: 'cls', path: models.ocrCls, dims: [1, 3, 48, 192], concurrency: [1, 8] },
    ]) {
      const record = await registry.register(c.path, { name: `ocr-${c.name}` });
      const key = ServiceKeys.open(ctx.tmpDir, record.name).primary;
      const data = input(c.dims, 42);
      const tensor = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const shape = { 'x-ferry-shape': c.dims.join(','), 'content-type': 'application/octet-stream' };
      const variants: Variant[] = c.name === 'det'
        ? [
          { label: 'raw tensor in and out', body: tensor, headers: { ...shape, accept: 'application/octet-stream' } },
          { label: 'raw tensor in, JSON out', body: tensor, headers: shape },
          { label: 'JSON in and out', body: Buffer.from(JSON.stringify({ x: nested(data, c.dims) })), headers: { 'content-type': 'application/json' } },
        ]
        : [
          { label: 'raw tensor in', body: tensor, headers: shape },
          { label: 'JSON in', body: Buffer.from(JSON.stringify({ x: nested(data, c.dims) })), headers: { 'content-type': 'application/json' } },
        ];
      const raw = await RawSession.open(c.path, { x: { dims: c.dims, data } });
      // Context, not a target: the same loop with one intra-op thread, the setting each serve worker uses.
      const rawOneThread = await RawSession.open(c.path, { x: { dims: c.dims, data } }, 1);
      const oneThreadRuns: RawLoopResult[] = [];
      const serve: ServeProcess = await startServeProcess({ command: [process.execPath, FERRY_BIN, '--workspace', ctx.tmpDir, 'serve', record.id], key });
      // Per measurement id: the paired ratio (serve q/s over the bracketing raw runs/s) and the added p50.
      const pairs = new Map<string, Array<{ load: LoadResult; raw: RawLoopResult; ratio: number; addedP50: number }>>();
      try {
        for (let round = 0; round < rounds; round += 1) {
          oneThreadRuns.push(await rawOneThread.measure(durationMs / 2));
          for (const v of variants) {
            for (const n of c.concurrency) {
              const before = await raw.measure(durationMs / 2);
              const load = await generateLoad({ url: serve.url, key, body: v.body, headers: v.headers, concurrency: n, durationMs, scratch: ctx.tmpDir });
              const after = await raw.measure(durationMs / 2);
              const rawRun: RawLoopResult = { runs: before.runs + after.runs, runsPerSec: (before.runsPerSec + after.runsPerSec) / 2, p50Ms: (before.p50Ms + after.p50Ms) / 2, p99Ms: Math.max(before.p99Ms, after.p99Ms), cpuMsPerRun: (before.cpuMsPerRun + after.cpuMsPerRun) / 2 };
              const id = `${v.label} c=${n}`;
              pairs.set(id, [...(pairs.get(id) ?? []), { load, raw: rawRun, ratio: load.qps / rawRun.runsPerSec, addedP50: load.p50Ms - rawRun.p50Ms }]);
              if (load.errors > 0) notes.push(`${c.name} ${id}: ${load.errors} failed requests`);
              ctx.log(`${c.name} round ${round + 1} ${id}: raw ${rawRun.runsPerSec.toFixed(1)} runs/s p50 ${rawRun.p50Ms.toFixed(2)} ms; serve ${load.qps.toFixed(1)} q/s p50 ${load.p50Ms.toFixed(2)} ms`);
            }
          }
        }
      } finally {
        await serve.stop();
        await raw.close();
        await rawOneThread.close();
      }
      const all = [...pairs.values()].flat();
      figures.push({ label: `${c.name} raw InferenceSession.run loop (median)`, value: median(all.map((p) => p.raw.runsPerSec)), unit: 'runs/s' }, { label: `${c.name} raw p50 (median)`, value: median(all.map((p) => p.raw.p50Ms)), unit: 'ms' });
      figures.push({ label: `${c.name} raw loop with 1 intra-op thread (median, context)`, value: median(oneThreadRuns.map((r) => r.runsPerSec)), unit: 'runs/s' });
      const ratio = (id: string) => median((pairs.get(id) ?? []).map((p) => p.ratio));
      const added = (id: string) => median((pairs.get(id) ?? []).map((p) => p.addedP50));
      for (const [id, ps] of pairs) {
        figures.push({ label: `${c.name} serve ${id}`, value: median(ps.map((p) => p.load.qps)), unit: 'q/s' }, { label: `${c.name} serve ${id} p50`, value: median(ps.map((p) => p.load.p50Ms)), unit: 'ms' });
      }
      if (c.name === 'det') {
        const best = (label: string) => Math.max(...c.concurrency.map((n) => ratio(`${label} c=${n}`)));
        targets.push({ label: 'det throughput serve/raw (raw tensor in and out, best level)', value: best('raw tensor in and out'), bar: 0.95, op: '>=' });
        figures.push({ label: 'det throughput serve/raw (raw tensor in, JSON out, best level)', value: best('raw tensor in, JSON out'), unit: 'ratio' });
        figures.push({ label: 'det throughput serve/raw (JSON in and out, best level)', value: best('JSON in and out'), unit: 'ratio' });
      } else {
        targets.push({ label: 'cls throughput serve/raw at c=8 (raw tensor in)', value: ratio('raw tensor in c=8'), bar: 0.8, op: '>=' });
        targets.push({ label: 'cls added p50 latency at c=1 (raw tensor in)', value: added('raw tensor in c=1'), bar: 0.5, op: '<=', unit: 'ms' });
        figures.push({ label: 'cls throughput serve/raw at c=8 (JSON in)', value: ratio('JSON in c=8'), unit: 'ratio' });
        figures.push({ label: 'cls added p50 latency at c=1 (JSON in)', value: added('JSON in c=1'), unit: 'ms' });
      }
    }
  } finally {
    registry.close();
  }
  return { name: 'ferry serve vs raw InferenceSession.run', figures, targets, notes };
}
