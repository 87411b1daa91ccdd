/**
 * The on-device models folder: writeModel's layout and digests (checked against sha256 computed here),
 * resolution by version, refusals (traversal, links leaving the folder, existing versions), corrupt
 * descriptions, and a stored model loaded by onnxruntime-node.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ortRun, thirdPartyModels, writeFixtureModels } from '@ferry/test';
import type { FixtureModels } from '@ferry/test';
import { DeviceModelStore } from '../src/device-models/index.js';
import { isFerryError } from '../src/errors.js';

let tmp: string;
let fx: FixtureModels;
let counter = 0;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ferry-device-store-'));
  fx = await writeFixtureModels(join(tmp, 'fixtures'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const freshDir = (): string => join(tmp, `models-${++counter}`);
const sha = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isFerryError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a coded error');
}

describe('DeviceModelStore.writeModel', () => {
  it('stores a one-file ONNX model with its digest and signature', () => {
    const dir = freshDir();
    const model = DeviceModelStore.writeModel(dir, { name: 'linear', version: 3, path: fx.linear.path, tags: { team: 'edge' } });
    const versionDir = join(dir, 'linear', '3');
    expect(model).toMatchObject({ name: 'linear', version: 3, id: 'linear:3', kind: 'file', framework: 'onnx', tags: { team: 'edge' } });
    expect(model.path).toBe(join(versionDir, 'linear.onnx'));
    expect(model.onnxFile).toBe(model.path);
    expect(model.sha256).toBe(sha(readFileSync(fx.linear.path)));
    expect(model.onnx?.inputs.map((i) => i.name)).toEqual(['data']);
    expect(readFileSync(model.path)).toEqual(readFileSync(fx.linear.path));
    const manifest = JSON.parse(readFileSync(join(versionDir, 'ferry-model.json'), 'utf8')) as unknown;
    expect(manifest).toEqual({ name: 'linear', version: 3, kind: 'file', framework: 'onnx', file: 'linear.onnx', sha256: model.sha256, tags: { team: 'edge' } });
    // No staging folder is left behind.
    expect(readdirSync(dir)).toEqual(['linear']);
  });

  it('stores a folder with the registry digest (sha256 of the sorted sha256sum listing)', () => {
    const src = join(tmp, `folder-${++counter}`);
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'model.onnx'), readFileSync(fx.linear.path));
    writeFileSync(join(src, 'sub', 'labels.txt'), 'a\nb\nc\n');
    writeFileSync(join(src, 'Z.txt'), 'upper case sorts first');
    symlinkSync(join(src, 'Z.txt'), join(src, 'link.txt')); // a link to a file inside: stored as a file
    const dir = freshDir();
    const model = DeviceModelStore.writeModel(dir, { name: 'folder-model', version: 1, path: src });
    const listing = [
      ['Z.txt', 'upper case sorts first'],
      ['link.txt', 'upper case sorts first'],
      ['model.onnx', readFileSync(fx.linear.path)],
      ['sub/labels.txt', 'a\nb\nc\n'],
    ].map(([p, c]) => `${sha(c as string)}  ${p as string}\n`).join('');
    expect(model).toMatchObject({ kind: 'folder', framework: 'onnx', path: join(dir, 'folder-model', '1'), sha256: sha(listing) });
    expect(model.onnxFile).toBe(join(dir, 'folder-model', '1', 'model.onnx'));
    expect(readFileSync(join(dir, 'folder-model', '1', 'sub', 'labels.txt'), 'utf8')).toBe('a\nb\nc\n');
    expect(readFileSync(join(dir, 'folder-model', '1', 'link.txt'), 'utf8')).toBe('upper case sorts first');
  });

  it('stores a non-ONNX file as custom, without a signature', () => {
    const src = join(tmp, `weights-${++counter}.bin`);
    writeFileSync(src, Buffer.from([1, 2, 3]));
    const model = DeviceModelStore.writeModel(freshDir(), { name: 'custom', version: 1, path: src });
    expect(model).toMatchObject({ framework: 'custom', kind: 'file', sha256: sha(Buffer.from([1, 2, 3])) });
    expect(model.onnx).toBeUndefined();
    expect(model.onnxFile).toBeUndefined();
  });

  it('refuses traversal in names, bad versions, links leaving the folder, corrupt ONNX, existing versions', () => {
    const dir = freshDir();
    expect(codeOf(() => DeviceModelStore.writeModel(dir, { name: '../escape', version: 1, path: fx.linear.path }))).toBe('FERRY_E_DEVICE_MODEL_NAME_INVALID');
    expect(codeOf(() => DeviceModelStore.writeModel(dir, { name: 'a/b', version: 1, path: fx.linear.path }))).toBe('FERRY_E_DEVICE_MODEL_NAME_INVALID');
    expect(codeOf(() => DeviceModelStore.writeModel(dir, { name: 'ok', version: 0, path: fx.linear.path }))).toBe('FERRY_E_DEVICE_MODEL_NAME_INVALID');
    expect(codeOf(() => DeviceModelStore.writeModel(dir, { name: 'ok', version: 1.5, path: fx.linear.path }))).toBe('FERRY_E_DEVICE_MODEL_NAME_INVALID');
    expect(codeOf(() => DeviceModelStore.writeModel(dir, { name: 'ok', version: 1, path: join(tmp, 'nope.onnx') }))).toBe('FERRY_E_DEVICE_MODEL_SOURCE_NOT_FOUND');

    const leaking = join(tmp, `leaking-${++counter}`);
    mkdirSync(leaking);
    writeFileSync(join(leaking, 'model.onnx'), readFileSync(fx.linear.path));
    symlinkSync('/etc/hostname', join(leaking, 'secret'));
    expect(codeOf(() => DeviceModelStore.writeModel(dir, { name: 'leak', version: 1, path: leaking }))).toBe('FERRY_E_DEVICE_MODEL_PATH_UNSAFE');
    const dangling = join(tmp, `dangling-${++counter}`);
    mkdirSync(dangling);
    symlinkSync(join(dangling, 'missing'), join(dangling, 'broken'));
    expect(codeOf(() => DeviceModelStore.writeModel(dir, { name: 'dangling', version: 1, path: dangling }))).toBe('FERRY_E_DEVICE_MODEL_PATH_UNSAFE');

    expect(codeOf(() => DeviceModelStore.writeModel(dir, { name: 'bad', version: 1, path: fx.corrupt.truncated, framework: 'onnx' }))).toBe('FERRY_E_DEVICE_MODEL_INVALID');

    DeviceModelStore.writeModel(dir, { name: 'ok', version: 1, path: fx.linear.path });
    expect(codeOf(() => DeviceModelStore.writeModel(dir, { name: 'ok', version: 1, path: fx.int64.path }))).toBe('FERRY_E_DEVICE_MODEL_EXISTS');
    // Nothing of the refused writes is left: no staging folder, no half model.
    expect(readdirSync(dir)).toEqual(['ok']);
    expect(readFileSync(join(dir, 'ok', '1', 'linear.onnx'))).toEqual(readFileSync(fx.linear.path));
  });
});

describe('DeviceModelStore', () => {
  it('resolves the highest version without one, a given version, and refuses unknown ones', () => {
    const dir = freshDir();
    DeviceModelStore.writeModel(dir, { name: 'm', version: 2, path: fx.linear.path });
    DeviceModelStore.writeModel(dir, { name: 'm', version: 10, path: fx.int64.path });
    DeviceModelStore.writeModel(dir, { name: 'other', version: 1, path: fx.bytes.path });
    const store = DeviceModelStore.open(dir);
    expect(store.resolveModel({ name: 'm', version: undefined })).toMatchObject({ id: 'm:10', sha256: sha(readFileSync(fx.int64.path)) });
    expect(store.resolveModel({ name: 'm', version: 2 }).onnx?.inputs[0]?.name).toBe('data');
    expect(store.list().map((m) => m.id)).toEqual(['m:2', 'm:10', 'other:1']);
    expect(codeOf(() => store.resolveModel({ name: 'm', version: 3 }))).toBe('FERRY_E_MODEL_NOT_FOUND');
    expect(codeOf(() => store.resolveModel({ name: 'missing', version: undefined }))).toBe('FERRY_E_MODEL_NOT_FOUND');
    expect(codeOf(() => store.resolveModel({ name: '..', version: undefined }))).toBe('FERRY_E_MODEL_NOT_FOUND');
    // A models folder that does not exist is an empty store.
    expect(DeviceModelStore.open(join(tmp, 'never-made')).list()).toEqual([]);
  });

  it('names the path of a missing or corrupt description or model file', () => {
    const dir = freshDir();
    DeviceModelStore.writeModel(dir, { name: 'm', version: 1, path: fx.linear.path });
    const store = DeviceModelStore.open(dir);
    const manifest = join(dir, 'm', '1', 'ferry-model.json');
    const failure = (): { code: string; path: unknown } => {
      try {
        store.resolveModel({ name: 'm', version: 1 });
      } catch (e) {
        if (isFerryError(e)) return { code: e.code, path: e.details?.path };
      }
      return { code: 'none', path: undefined };
    };
    const good = readFileSync(manifest, 'utf8');

    writeFileSync(manifest, '{not json');
    expect(failure()).toEqual({ code: 'FERRY_E_DEVICE_MODEL_INVALID', path: manifest });
    writeFileSync(manifest, JSON.stringify({ ...JSON.parse(good) as object, file: '../../escape.onnx' }));
    expect(failure()).toEqual({ code: 'FERRY_E_DEVICE_MODEL_INVALID', path: manifest });
    writeFileSync(manifest, JSON.stringify({ ...JSON.parse(good) as object, version: 2 }));
    expect(failure()).toEqual({ code: 'FERRY_E_DEVICE_MODEL_INVALID', path: manifest });
    rmSync(manifest);
    expect(failure()).toEqual({ code: 'FERRY_E_DEVICE_MODEL_INVALID', path: manifest });
    expect(codeOf(() => store.list())).toBe('FERRY_E_DEVICE_MODEL_INVALID');

    writeFileSync(manifest, good);
    const file = join(dir, 'm', '1', 'linear.onnx');
    rmSync(file);
    expect(failure()).toEqual({ code: 'FERRY_E_DEVICE_MODEL_INVALID', path: file });
    writeFileSync(file, 'not a model');
    expect(failure()).toEqual({ code: 'FERRY_E_DEVICE_MODEL_INVALID', path: file });
    writeFileSync(file, readFileSync(fx.linear.path));
    expect(store.resolveModel({ name: 'm', version: 1 }).id).toBe('m:1');
    expect(existsSync(manifest)).toBe(true);
  });

  it('a stored third-party model runs in onnxruntime-node from its resolved path', async () => {
    const dir = freshDir();
    const cls = thirdPartyModels().ocrCls;
    DeviceModelStore.writeModel(dir, { name: 'ocr-cls', version: 1, path: cls });
    const model = DeviceModelStore.open(dir).resolveModel({ name: 'ocr-cls', version: undefined });
    expect(model.onnx?.inputs[0]).toMatchObject({ name: 'x', elementType: 'float32' });
    expect(model.onnx?.inputs[0]?.shape?.[1]).toBe(3);
    const data = Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.sin(i) * 0.5);
    const feed = { x: { type: 'float32' as const, dims: [1, 3, 48, 192], data } };
    const [stored, original] = [await ortRun(model.onnxFile as string, feed), await ortRun(cls, feed)];
    expect(stored['softmax_0.tmp_0']?.dims).toEqual([1, 2]);
    expect(stored['softmax_0.tmp_0']?.data).toEqual(original['softmax_0.tmp_0']?.data);
  });
});
