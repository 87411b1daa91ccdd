/**
 * Registering a 100 MB folder model against `sha256sum` + `cp -r` of the same files, alternating
 * rounds in one run. Target: register ≤ 2× the baseline.
 */
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelRegistry } from '@ferry/builder';
import type { BenchContext, BenchReport } from './report.js';

export async function registerFolderBench(ctx: BenchContext): Promise<BenchReport> {
  const source = join(ctx.tmpDir, 'folder-model');
  mkdirSync(join(source, 'shards'), { recursive: true });
  const totalMb = ctx.quick ? 20 : 100;
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < totalMb / 4; i += 1) writeFileSync(join(source, 'shards', `weights-${String(i).padStart(3, '0')}.bin`), randomFillSync(chunk));
  writeFileSync(join(source, 'config.json'), JSON.stringify({ shards: totalMb / 4 }));
  const files = readdirSync(join(source, 'shards')).map((f) => join(source, 'shards', f));

  const rounds = ctx.quick ? 1 : 3;
  const baseline: number[] = [];
  const ferry: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const copy = join(ctx.tmpDir, `copy-${round}`);
    execFileSync('sync');
    let t0 = performance.now();
    execFileSync('sha256sum', [join(source, 'config.json'), ...files], { stdio: 'ignore' });
    execFileSync('cp', ['-r', source, copy]);
    baseline.push(performance.now() - t0);
    rmSync(copy, { recursive: true, force: true });

    const ws = join(ctx.tmpDir, `ws-${round}`);
    const registry = ModelRegistry.open(ws);
    execFileSync('sync');
    t0 = performance.now();
    await registry.register(source, { name: 'folder-bench', framework: 'custom' });
    ferry.push(performance.now() - t0);
    registry.close();
    rmSync(ws, { recursive: true, force: true });
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
  const ratio = median(ferry) / median(baseline);
  ctx.log(`register ${totalMb} MB: sha256sum+cp ${baseline.map((v) => v.toFixed(0)).join('/')} ms, ferry ${ferry.map((v) => v.toFixed(0)).join('/')} ms`);
  return {
    name: `register a ${totalMb} MB folder model`,
    figures: [
      { label: 'sha256sum + cp -r (median)', value: median(baseline), unit: 'ms' },
      { label: 'ferry model register (median)', value: median(ferry), unit: 'ms' },
    ],
    targets: [{ label: 'register / (sha256sum + cp)', value: ratio, bar: 2, op: '<=' }],
  };
}
