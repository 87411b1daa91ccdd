/** The twin store on real files: versions, JSON merge patches, IoT Hub's key rules and limits, persistence. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TwinStore } from '../src/twins/twin-store.js';
import { diffPatch, mergePatch } from '../src/twins/twin-document.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-twins-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('TwinStore', () => {
  it('starts a twin empty at version 1, seeds desired from a manifest and keeps reported across a new deployment', () => {
    const store = TwinStore.open(join(dir, 'twins'));
    expect(store.get('scorer')).toEqual({ desired: { $version: 1 }, reported: { $version: 1 } });
    const first = store.seed('scorer', { threshold: 0.5, model: { name: 'm', version: 2 } });
    expect(first).toEqual({ version: 2, patch: { threshold: 0.5, model: { name: 'm', version: 2 } } });
    expect(store.patchReported('scorer', { status: 'ready', stats: { n: 1 } })).toBe(2);
    // The same deployment again changes nothing; a new one replaces desired and says what changed.
    expect(store.seed('scorer', { threshold: 0.5, model: { name: 'm', version: 2 } })).toEqual({ version: 2, patch: undefined });
    const second = store.seed('scorer', { model: { name: 'm', version: 3 }, batch: 4 });
    expect(second).toEqual({ version: 3, patch: { threshold: null, model: { version: 3 }, batch: 4 } });
    expect(store.get('scorer')).toEqual({
      desired: { model: { name: 'm', version: 3 }, batch: 4, $version: 3 },
      reported: { status: 'ready', stats: { n: 1 }, $version: 2 },
    });
  });

  it('applies JSON merge patches: null deletes, objects merge, arrays replace', () => {
    const store = TwinStore.open(dir);
    store.patchReported('m', { a: { b: 1, c: 2 }, list: [1, 2], gone: 'x' });
    const v = store.patchReported('m', { a: { c: null, d: { e: true } }, list: [3], gone: null });
    expect(v).toBe(3);
    expect(store.get('m').reported).toEqual({ a: { b: 1, d: { e: true } }, list: [3], $version: 3 });
    expect(store.patchDesired('m', { x: 1 })).toEqual({ version: 2, patch: { x: 1 } });
    expect(mergePatch({ a: 1 }, { a: { b: null, c: 1 } })).toEqual({ a: { c: 1 } });
    expect(diffPatch({ a: 1, b: { c: 1, d: 2 } }, { b: { c: 1, d: 3 }, e: [1] })).toEqual({ a: null, b: { d: 3 }, e: [1] });
  });

  it('refuses $-prefixed and other invalid keys, non-objects, deep nesting and long strings, changing nothing', () => {
    const store = TwinStore.open(dir);
    store.patchReported('m', { ok: 1 });
    const bad: unknown[] = [
      { $version: 5 },
      { a: { $metadata: {} } },
      { 'a.b': 1 },
      { 'a b': 1 },
      { '': 1 },
      [1, 2],
      'text',
      null,
      { s: 'x'.repeat(4097) },
      { a: { b: { c: { d: { e: { f: { g: { h: { i: { j: { k: 1 } } } } } } } } } } },
    ];
    for (const patch of bad) expect(codeOf(() => store.patchReported('m', patch)), JSON.stringify(patch).slice(0, 60)).toBe('FERRY_E_SIM_TWIN_PATCH_INVALID');
    expect(codeOf(() => store.patchDesired('m', { $x: 1 }))).toBe('FERRY_E_SIM_TWIN_PATCH_INVALID');
    expect(store.get('m')).toEqual({ desired: { $version: 1 }, reported: { ok: 1, $version: 2 } });
    // Ten levels are allowed.
    expect(store.patchReported('m', { a: { b: { c: { d: { e: { f: { g: { h: { i: { j: 1 } } } } } } } } } })).toBe(3);
  });

  it('refuses a patch that would grow a section past 32 KB, keeping the section as it was', () => {
    const store = TwinStore.open(dir);
    for (let i = 0; i < 7; i++) store.patchReported('m', { [`k${i}`]: 'x'.repeat(4000) });
    const before = store.get('m');
    let error: { code?: string; status?: number; details?: Record<string, unknown> } | undefined;
    try {
      store.patchReported('m', { k7: 'x'.repeat(4000), k8: 'y'.repeat(4000) });
    } catch (e) {
      error = e as typeof error;
    }
    expect(error).toMatchObject({ code: 'FERRY_E_SIM_TWIN_TOO_LARGE', status: 413, details: { section: 'reported', limit: 32 * 1024 } });
    expect(error!.details!.size as number).toBeGreaterThan(32 * 1024);
    expect(store.get('m')).toEqual(before);
    // Deleting makes room again; desired has its own budget.
    expect(store.patchReported('m', { k0: null, k7: 'x'.repeat(4000) })).toBe(9);
    expect(codeOf(() => store.seed('m', { big: 'z'.repeat(4000), more: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`p${i}`, 'q'.repeat(4000)])) }))).toBe('FERRY_E_SIM_TWIN_TOO_LARGE');
    expect(store.get('m').desired).toEqual({ $version: 1 });
  });

  it('persists twins in 0600 files, one per twin, with names safe for any module id', () => {
    const path = join(dir, 'twins');
    const store = TwinStore.open(path);
    store.seed('..', { a: 1 });
    store.patchReported('we*ird:id', { b: 2 });
    store.patchReported(undefined, { device: true });
    const files = readdirSync(path).sort();
    expect(files).toEqual(['device.json', 'module-%2E%2E.json', 'module-we%2Aird%3Aid.json']);
    for (const f of files) expect(statSync(join(path, f)).mode & 0o777).toBe(0o600);
    const again = TwinStore.open(path);
    expect(again.modules()).toEqual(['..', 'we*ird:id']);
    expect(again.get('..').desired).toEqual({ a: 1, $version: 2 });
    expect(again.get('we*ird:id').reported).toEqual({ b: 2, $version: 2 });
    expect(again.get(undefined).reported).toEqual({ device: true, $version: 2 });
    expect(again.patchReported('we*ird:id', { c: 3 })).toBe(3);
  });

  it('refuses a damaged or foreign twin file with FERRY_E_SIM_WORKSPACE_IO', () => {
    writeFileSync(join(dir, 'module-x.json'), '{"format":1,');
    expect(codeOf(() => TwinStore.open(dir))).toBe('FERRY_E_SIM_WORKSPACE_IO');
    writeFileSync(join(dir, 'module-x.json'), JSON.stringify({ format: 1, moduleId: 'y', desired: {}, desiredVersion: 1, reported: {}, reportedVersion: 1 }));
    expect(codeOf(() => TwinStore.open(dir))).toBe('FERRY_E_SIM_WORKSPACE_IO');
  });
});
