/**
 * Registering a 100 MB folder against `sha256sum` + `cp -r` of the same files, side by side in one run
 * (issue §9: target ≤ 2×). Prints the figures; asserts only that the digests agree with sha256sum's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelRegistry } from '../src/registry/index.js';

let root: string;
let source: string;
let files: string[];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'ferry-registry-speed-'));
  source = join(root, 'model');
  mkdirSync(join(source, 'shards'), { recursive: true });
  files = [];
  // 4 × 20 MiB (large weights) + 20 × 1 MiB (shards) = 100 MiB
  for (let i = 0; i < 4; i++) files.push(write(`weights-${i}.bin`, 20));
  for (let i = 0; i < 20; i++) files.push(write(`shards/shard-${i}.bin`, 1));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(rel: string, mib: number): string {
  writeFileSync(join(source, rel), randomBytes(mib * 1024 * 1024));
  return rel;
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const t = performance.now();
  const value = fn();
  return { ms: performance.now() - t, value };
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

describe('registration speed', () => {
  it('registers a 100 MiB folder; prints the time against sha256sum + cp -r', async () => {
    const rounds = 3;
    const baseline: number[] = [];
    const ferry: number[] = [];
    let sums = '';
    for (let round = 0; round < rounds; round++) {
      const copy = join(root, `cp-${round}`);
      const sha = time(() => execFileSync('sha256sum', files, { cwd: source, encoding: 'utf8' }));
      const cp = time(() => execFileSync('cp', ['-r', source, copy]));
      baseline.push(sha.ms + cp.ms);
      sums = sha.value;
      rmSync(copy, { recursive: true, force: true });

      const ws = join(root, `ws-${round}`);
      const registry = ModelRegistry.open(ws);
      try {
        const reg = await timeAsync(() => registry.register(source, { name: 'big' }));
        ferry.push(reg.ms);
        const expected = new Map(sums.trim().split('\n').map((line) => {
          const [hex, path] = line.split(/\s+\*?/) as [string, string];
          return [path, hex];
        }));
        expect(new Map(reg.value.files.map((f) => [f.path, f.sha256]))).toEqual(expected);
        expect(reg.value.size).toBe(100 * 1024 * 1024);
      } finally {
        registry.close();
        rmSync(ws, { recursive: true, force: true });
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const ratio = median(ferry) / median(baseline);
    console.log(
      `registry-speed: 100 MiB in ${files.length} files; sha256sum + cp -r: ${baseline.map((m) => m.toFixed(0)).join(', ')} ms; `
      + `register: ${ferry.map((m) => m.toFixed(0)).join(', ')} ms; median ratio ${ratio.toFixed(2)} (target ≤ 2)`,
    );
    expect(readdirSync(root).filter((n) => n.startsWith('ws-') || n.startsWith('cp-'))).toEqual([]);
  });
});
