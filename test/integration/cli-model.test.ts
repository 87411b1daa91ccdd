/**
 * `ferry model ...` run as a subprocess against a temporary workspace, with real ONNX models.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '@ferry/builder';
import { ferry, thirdPartyModels, writeFixtureModels, type FixtureModels } from '@ferry/test';
import ort from 'onnxruntime-node';

let dir: string;
let ws: string;
let fixtures: FixtureModels;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-cli-model-'));
  ws = join(dir, 'ws');
  fixtures = await writeFixtureModels(join(dir, 'fixtures'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('ferry model (subprocess)', () => {
  it('register prints name:version, counting up per name', async () => {
    const first = await ferry(['model', 'register', fixtures.linear.path, '--name', 'linear', '--tag', 'stage=dev', '--property', 'owner=ml'], { workspace: ws });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toBe('linear:1');
    const second = await ferry(['model', 'register', fixtures.linear.path, '--name', 'linear', '--tag', 'stage=prod', '--json'], { workspace: ws });
    expect(second.code).toBe(0);
    expect((second.json as { id: string }).id).toBe('linear:2');
  });

  it('show reads the ONNX signature of a third-party model the way onnxruntime does', async () => {
    const cls = thirdPartyModels().ocrCls;
    expect((await ferry(['model', 'register', cls, '--name', 'ocr-cls'], { workspace: ws })).code).toBe(0);
    const shown = await ferry(['model', 'show', 'ocr-cls', '--json'], { workspace: ws });
    expect(shown.code).toBe(0);
    const record = shown.json as { id: string; onnx: { inputs: Array<{ name: string; elementType: string; shape: unknown[] }>; opset: number }; files: Array<{ sha256: string }> };
    const session = await ort.InferenceSession.create(cls);
    try {
      const meta = session.inputMetadata[0] as unknown as { name: string; type: string; shape: unknown[] };
      expect(record.onnx.inputs[0]).toMatchObject({ name: meta.name, elementType: meta.type, shape: meta.shape });
    } finally {
      await session.release();
    }
    expect(record.onnx.opset).toBeGreaterThan(0);
    expect(record.files[0]!.sha256).toBe(sha256(cls));
    const human = await ferry(['model', 'show', 'ocr-cls:1'], { workspace: ws });
    expect(human.stdout).toContain('input        x: float32[');
  });

  it('list filters by name, tag, tag value, property and latest', async () => {
    const list = async (...args: string[]) => ((await ferry(['model', 'list', '--json', ...args], { workspace: ws })).json as Array<{ id: string }>).map((r) => r.id).sort();
    expect(await list('--name', 'linear')).toEqual(['linear:1', 'linear:2']);
    expect(await list('--tag', 'stage=prod')).toEqual(['linear:2']);
    expect(await list('--tag', 'stage')).toEqual(['linear:1', 'linear:2']);
    expect(await list('--property', 'owner=ml')).toEqual(['linear:1']);
    expect(await list('--latest', '--name', 'linear')).toEqual(['linear:2']);
    const table = await ferry(['model', 'list'], { workspace: ws });
    expect(table.stdout).toMatch(/linear:2\s+onnx\s+file/);
  });

  it('path gives the file of a one-file model and the folder of a folder model', async () => {
    const file = (await ferry(['model', 'path', 'linear:1'], { workspace: ws })).stdout.trim();
    expect(basename(file)).toBe(basename(fixtures.linear.path));
    expect(sha256(file)).toBe(sha256(fixtures.linear.path));
    const folder = join(dir, 'folder-model');
    mkdirSync(join(folder, 'sub'), { recursive: true });
    copyFileSync(fixtures.multiInput.path, join(folder, 'model.onnx'));
    writeFileSync(join(folder, 'sub', 'labels.txt'), 'a\nb\n');
    expect((await ferry(['model', 'register', folder, '--name', 'folder'], { workspace: ws })).stdout.trim()).toBe('folder:1');
    const folderPath = (await ferry(['model', 'path', 'folder'], { workspace: ws })).stdout.trim();
    expect(readFileSync(join(folderPath, 'sub', 'labels.txt'), 'utf8')).toBe('a\nb\n');
    expect(sha256(join(folderPath, 'model.onnx'))).toBe(sha256(fixtures.multiInput.path));
  });

  it('download copies a model out, and refuses to overwrite without --overwrite', async () => {
    const out = join(dir, 'download');
    const first = await ferry(['model', 'download', 'folder:1', '-o', out], { workspace: ws });
    expect(first.code).toBe(0);
    const target = first.stdout.trim();
    expect(sha256(join(target, 'model.onnx'))).toBe(sha256(fixtures.multiInput.path));
    writeFileSync(join(target, 'sub', 'labels.txt'), 'changed');
    const again = await ferry(['model', 'download', 'folder:1', '-o', out, '--json'], { workspace: ws });
    expect(again.code).toBe(1);
    expect(again.error?.code).toBe('FERRY_E_DOWNLOAD_EXISTS');
    expect(readFileSync(join(target, 'sub', 'labels.txt'), 'utf8')).toBe('changed');
    const forced = await ferry(['model', 'download', 'folder:1', '-o', out, '--overwrite'], { workspace: ws });
    expect(forced.code).toBe(0);
    expect(readFileSync(join(target, 'sub', 'labels.txt'), 'utf8')).toBe('a\nb\n');
  });

  it('update changes tags and description; properties are add-only', async () => {
    const updated = await ferry(['model', 'update', 'linear:1', '--add-tag', 'stage=test', '--remove-tag', 'missing', '--add-property', 'team=vision', '--description', 'first', '--json'], { workspace: ws });
    expect(updated.code).toBe(0);
    expect(updated.json).toMatchObject({ tags: { stage: 'test' }, properties: { owner: 'ml', team: 'vision' }, description: 'first' });
    const refused = await ferry(['model', 'update', 'linear:1', '--add-property', 'owner=someone-else', '--json'], { workspace: ws });
    expect(refused.code).toBe(1);
    expect(refused.error?.code).toBe('FERRY_E_MODEL_PROPERTY_IMMUTABLE');
  });

  it('delete is refused while a build or deployment uses the model, unless --force', async () => {
    expect((await ferry(['model', 'register', fixtures.fixedShape.path, '--name', 'used'], { workspace: ws })).code).toBe(0);
    const registry = ModelRegistry.open(ws);
    registry.recordUsage('used:1', { kind: 'deployment', id: 'plant-7' });
    registry.close();
    const refused = await ferry(['model', 'delete', 'used:1', '--json'], { workspace: ws });
    expect(refused.error?.code).toBe('FERRY_E_MODEL_IN_USE');
    expect((await ferry(['model', 'show', 'used:1'], { workspace: ws })).code).toBe(0);
    const forced = await ferry(['model', 'delete', 'used:1', '--force'], { workspace: ws });
    expect(forced.code).toBe(0);
    expect((await ferry(['model', 'show', 'used:1', '--json'], { workspace: ws })).error?.code).toBe('FERRY_E_MODEL_NOT_FOUND');
  });

  it('verify re-hashes stored files and reports corruption with exit status 1', async () => {
    const clean = await ferry(['model', 'verify', '--json'], { workspace: ws });
    expect(clean.code).toBe(0);
    expect(clean.json).toMatchObject({ ok: true });
    const stored = (await ferry(['model', 'path', 'linear:2'], { workspace: ws })).stdout.trim();
    chmodSync(stored, 0o644);
    writeFileSync(stored, 'not the model any more');
    const broken = await ferry(['model', 'verify', 'linear'], { workspace: ws });
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/CORRUPT linear:\d/);
  });

  describe('bad input answers with a code and leaves nothing behind', () => {
    const cases: Array<[string, () => string[], string]> = [
      ['a corrupt ONNX file', () => ['model', 'register', fixtures.corrupt.truncated, '--name', 'bad'], 'FERRY_E_MODEL_INVALID'],
      ['a text file registered as ONNX', () => ['model', 'register', fixtures.corrupt.text, '--name', 'bad', '--framework', 'onnx'], 'FERRY_E_MODEL_INVALID'],
      ['a name breaking the naming rule', () => ['model', 'register', fixtures.linear.path, '--name', '-bad name'], 'FERRY_E_MODEL_REF_INVALID'],
      ['an unknown model name', () => ['model', 'show', 'nope'], 'FERRY_E_MODEL_NOT_FOUND'],
      ['an unknown version', () => ['model', 'show', 'linear:99'], 'FERRY_E_MODEL_NOT_FOUND'],
      ['a missing source path', () => ['model', 'register', join(dir, 'missing.onnx'), '--name', 'bad'], 'FERRY_E_MODEL_SOURCE_NOT_FOUND'],
      ['a tag without a value separator', () => ['model', 'register', fixtures.linear.path, '--name', 'bad', '--tag', 'novalue'], 'FERRY_E_USAGE'],
      ['an unknown option', () => ['model', 'list', '--colour'], 'FERRY_E_USAGE'],
    ];
    for (const [what, args, code] of cases) {
      it(what, async () => {
        const run = await ferry([...args(), '--json'], { workspace: ws });
        expect(run.error?.code, run.stderr).toBe(code);
        expect(run.code).toBe(code === 'FERRY_E_USAGE' ? 2 : 1);
        expect((await ferry(['model', 'list', '--name', 'bad', '--json'], { workspace: ws })).json).toEqual([]);
      });
    }

    it('a folder with a symlink to /etc', async () => {
      const folder = join(dir, 'escape');
      mkdirSync(folder, { recursive: true });
      copyFileSync(fixtures.linear.path, join(folder, 'model.onnx'));
      symlinkSync('/etc', join(folder, 'etc'));
      const run = await ferry(['model', 'register', folder, '--name', 'escape', '--json'], { workspace: ws });
      expect(run.error?.code).toBe('FERRY_E_MODEL_PATH_UNSAFE');
      expect((await ferry(['model', 'list', '--name', 'escape', '--json'], { workspace: ws })).json).toEqual([]);
      expect(existsSync(join(ws, 'models', 'escape'))).toBe(false);
    });
  });
});
