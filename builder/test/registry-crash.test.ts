/**
 * Registration atomicity and concurrency, for real: child processes killed with SIGKILL at random
 * moments of a registration, and several processes registering one name at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelRegistry } from '../src/registry/index.js';
import { bundleRegistryChild } from './fixtures/registry-child-bundle.js';

let root: string;
let child: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'ferry-registry-crash-'));
  child = await bundleRegistryChild(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface ChildResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

function runChild(ws: string, source: string, name: string, killAfterMs?: number): Promise<ChildResult> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const proc = spawn(process.execPath, [child, ws, source, name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
    proc.on('error', fail);
    proc.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      done({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** A folder of `bigFiles` random 1 MiB files plus `smallFiles` small ones; returns it and its files' hashes. */
function makeFolder(dir: string, bigFiles: number, smallFiles: number): Map<string, string> {
  const hashes = new Map<string, string>();
  const put = (rel: string, bytes: Buffer) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), bytes);
    hashes.set(rel, createHash('sha256').update(bytes).digest('hex'));
  };
  for (let i = 0; i < bigFiles; i++) put(`weights/part-${String(i).padStart(3, '0')}.bin`, randomBytes(1024 * 1024));
  for (let i = 0; i < smallFiles; i++) put(`vocab/${i % 10}/item-${i}.txt`, Buffer.from(`item ${i} ${randomBytes(8).toString('hex')}`));
  return hashes;
}

/** Every visible version is complete and intact, and nothing half-registered is visible. */
async function expectConsistent(ws: string, name: string, expected: Map<string, string>): Promise<string[]> {
  const registry = ModelRegistry.open(ws);
  try {
    const records = registry.list({ name });
    for (const record of records) {
      expect(record.files.map((f) => [f.path, f.sha256])).toEqual([...expected.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    }
    const report = await registry.verify();
    expect(report.problems).toEqual([]);
    return records.map((r) => r.id);
  } finally {
    registry.close();
  }
}

describe('a registration killed at random moments', () => {
  it('never leaves a half-registered model visible, and the next registration works', async () => {
    const ws = join(root, 'ws-kill');
    const source = join(root, 'big', 'model');
    const expected = makeFolder(source, 8, 200);

    // Undisturbed runs (the second one warm) give the time span to aim the kills at.
    for (const id of ['big:1', 'big:2']) {
      const run = await runChild(ws, source, 'big');
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual({ id });
    }
    const full = await runChild(ws, source, 'big');
    expect(JSON.parse(full.stdout)).toEqual({ id: 'big:3' });
    expect(await expectConsistent(ws, 'big', expected)).toEqual(['big:3', 'big:2', 'big:1']);

    // Half the kills anywhere, half in the last 30% (copy end, blob store, commit, exit).
    const kills = 16;
    let killedBefore = 0;
    let killedAfterCommit = 0;
    let killedMidStaging = 0;
    let completed = 0;
    let visibleCount = 3;
    const moments: number[] = [];
    for (let i = 0; i < kills; i++) {
      const at = Math.round(full.ms * (i % 2 === 0 ? Math.random() * 0.9 : 0.7 + Math.random() * 0.3));
      moments.push(at);
      const result = await runChild(ws, source, 'big', at);
      const visible = await expectConsistent(ws, 'big', expected);
      if (result.signal !== 'SIGKILL') {
        expect(result.code).toBe(0);
        completed++;
        expect(visible.length).toBe(visibleCount + 1);
      } else if (visible.length > visibleCount) {
        killedAfterCommit++;
      } else {
        killedBefore++;
        if (readdirSync(join(ws, 'staging')).length > 0) killedMidStaging++;
      }
      expect(visible.length - visibleCount).toBeLessThanOrEqual(1);
      visibleCount = visible.length;
    }
    console.log(`registry-crash: undisturbed registration (process start to exit) ${full.ms.toFixed(0)} ms; kills at ${moments.sort((a, b) => a - b).join(', ')} ms: `
      + `${killedBefore} before the commit (nothing visible; ${killedMidStaging} of them left a staging folder), ${killedAfterCommit} after it (whole version visible), ${completed} finished first`);

    // The next registration works, cleans up after the dead ones, and gets the next version.
    const registry = ModelRegistry.open(ws);
    try {
      const before = registry.list({ name: 'big' }).map((r) => r.version);
      const next = await registry.register(source, { name: 'big' });
      expect(next.version).toBe(Math.max(...before) + 1);
      expect(readdirSync(join(ws, 'staging'))).toEqual([]);
      const versions = registry.list({ name: 'big' }).map((r) => String(r.version)).sort();
      expect(readdirSync(join(ws, 'models', 'big')).sort()).toEqual(versions);
      await registry.collectGarbage();
      // Exactly the referenced blobs remain.
      const referenced = new Set(registry.list().flatMap((r) => r.files.map((f) => f.sha256)));
      const base = join(ws, 'blobs', 'sha256');
      const stored = readdirSync(base).flatMap((p) => readdirSync(join(base, p)));
      expect(new Set(stored)).toEqual(referenced);
      expect((await registry.verify()).ok).toBe(true);
      const contents = readFileSync(join(next.path, 'weights', 'part-000.bin'));
      expect(createHash('sha256').update(contents).digest('hex')).toBe(expected.get('weights/part-000.bin'));
    } finally {
      registry.close();
    }
  });
});

describe('concurrent registrations of one name', () => {
  it('give distinct versions 1..N, each intact (same and different contents)', async () => {
    const ws = join(root, 'ws-concurrent');
    const same = join(root, 'same', 'model');
    makeFolder(same, 2, 20);
    const sources = Array.from({ length: 6 }, (_, i) => {
      if (i % 2 === 0) return same;
      const dir = join(root, `different-${i}`, 'model');
      makeFolder(dir, 2, 20);
      return dir;
    });
    const results = await Promise.all(sources.map((s) => runChild(ws, s, 'shared')));
    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const ids = results.map((r) => (JSON.parse(r.stdout) as { id: string }).id).sort();
    expect(ids).toEqual(['shared:1', 'shared:2', 'shared:3', 'shared:4', 'shared:5', 'shared:6']);

    const registry = ModelRegistry.open(ws);
    try {
      const report = await registry.verify('shared');
      expect(report.problems).toEqual([]);
      expect(report.models).toHaveLength(6);
      // Each version holds what its own process registered.
      const bySource = new Map(results.map((r, i) => [(JSON.parse(r.stdout) as { id: string }).id, sources[i] as string]));
      for (const [id, source] of bySource) {
        const record = registry.get(id);
        for (const f of record.files) {
          const original = readFileSync(join(source, f.path));
          expect(createHash('sha256').update(original).digest('hex')).toBe(f.sha256);
        }
      }
    } finally {
      registry.close();
    }
  });
});
