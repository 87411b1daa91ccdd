/**
 * Cold start of `ferry serve` with the OCR direction classifier: process start to the first 200 from
 * /healthz (models loaded). Target ≤ 1 s. For scale, the same run measures a bare `node -e 0`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { ModelRegistry } from '@ferry/builder';
import { FERRY_BIN, thirdPartyModels } from '@ferry/test';
import type { BenchContext, BenchReport } from './report.js';
import { freePort } from './processes.js';

async function startToReady(workspace: string, model: string): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [FERRY_BIN, '--workspace', workspace, 'serve', model, '--port', String(port), '--auth', 'none'], { stdio: 'ignore' });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`ferry serve exited with ${child.exitCode}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        await res.arrayBuffer();
        if (res.status === 200) return performance.now() - t0;
      } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

export async function coldStartBench(ctx: BenchContext): Promise<BenchReport> {
  const registry = ModelRegistry.open(ctx.tmpDir);
  const record = await registry.register(thirdPartyModels().ocrCls, { name: 'ocr-cls' });
  registry.close();
  const rounds = ctx.quick ? 3 : 7;
  const serve: number[] = [];
  const node: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
    serve.push(await startToReady(ctx.tmpDir, record.id));
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    node.push(performance.now() - t0);
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
  ctx.log(`cold start: ferry serve ${serve.map((v) => v.toFixed(0)).join('/')} ms; node -e 0 ${node.map((v) => v.toFixed(0)).join('/')} ms`);
  return {
    name: 'cold start of ferry serve (cls model)',
    figures: [
      { label: 'node -e 0 (median)', value: median(node), unit: 'ms' },
      { label: 'ferry serve start to /healthz 200 (worst)', value: Math.max(...serve), unit: 'ms' },
    ],
    targets: [{ label: 'ferry serve start to /healthz 200 (median)', value: median(serve), bar: 1000, op: '<=', unit: 'ms' }],
  };
}
