import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInferenceConfig, noCodeConfig, parseInferenceConfig } from '../src/config/index.js';
import type { FerryError } from '../src/errors.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-config-'));
  await writeFile(join(dir, 'score.ts'), 'export function run() { return 1; }\n');
  await writeFile(join(dir, 'input.json'), JSON.stringify({ data: [[1, 2, 3, 4]] }));
  await writeFile(join(dir, 'broken.json'), '{"data": [');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function failure(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (e) {
    return e as FerryError;
  }
  throw new Error('expected an error');
}

describe('parseInferenceConfig', () => {
  it('reads every key of a YAML config, resolving paths against baseDir', () => {
    const yaml = [
      'name: my-service',
      'models: [linear, "int64:2"]',
      'entryScript: score.ts',
      'inputSample: input.json',
      'outputSample: {scores: [[1, 2, 3]]}',
      'settings: {threshold: 0.5, labels: [a, b]}',
      'runtime: {threads: 1, workers: 2, maxBatchSize: 4, batchWindowMs: 0.5, timeoutMs: 1000, maxConcurrent: 3, maxQueue: 0}',
    ].join('\n');
    const c = parseInferenceConfig(yaml, { baseDir: dir });
    expect(c).toEqual({
      name: 'my-service',
      models: ['linear', 'int64:2'],
      entryScript: join(dir, 'score.ts'),
      inputSample: { data: [[1, 2, 3, 4]] },
      outputSample: { scores: [[1, 2, 3]] },
      settings: { threshold: 0.5, labels: ['a', 'b'] },
      runtime: { threads: 1, workers: 2, maxBatchSize: 4, batchWindowMs: 0.5, timeoutMs: 1000, maxConcurrent: 3, maxQueue: 0 },
    });
  });

  it('derives the service name from the first model and reads JSON', () => {
    const c = parseInferenceConfig(JSON.stringify({ models: ['cls-model.v2:3'], inputSample: 'just a string' }), { baseDir: dir, format: 'json' });
    expect(c.name).toBe('cls-model.v2');
    expect(c.inputSample).toBe('just a string');
    expect(c.entryScript).toBeUndefined();
  });

  it('names the JSON pointer and the YAML line:column of an unknown key', () => {
    const e = failure(() => parseInferenceConfig('models: [linear]\nruntime:\n  timeoutMs: 5\n  retries: 3\n', { baseDir: dir }));
    expect(e.code).toBe('FERRY_E_CONFIG_INVALID');
    expect(e.details).toMatchObject({ pointer: '/runtime/retries', line: 4, column: 3 });
    const top = failure(() => parseInferenceConfig('models: [linear]\nentry: x.js\n', { baseDir: dir }));
    expect(top.details).toMatchObject({ pointer: '/entry', line: 2, column: 1 });
  });

  it.each([
    ['models: linear', '/models'],
    ['models: []', '/models'],
    ['name: x', '/models'],
    ['models: [linear, 3]', '/models/1'],
    ['models: ["bad name!"]', '/models/0'],
    ['models: ["linear:0"]', '/models/0'],
    ['models: [linear]\nname: "-bad"', '/name'],
    ['models: [linear]\nname: 12', '/name'],
    ['models: [a, b]', '/models'],
    ['models: [linear]\nentryScript: score.py', '/entryScript'],
    ['models: [linear]\nentryScript: missing.ts', '/entryScript'],
    ['models: [linear]\ninputSample: nowhere.json', '/inputSample'],
    ['models: [linear]\noutputSample: broken.json', '/outputSample'],
    ['models: [linear]\nsettings: [1, 2]', '/settings'],
    ['models: [linear]\nruntime: 5', '/runtime'],
    ['models: [linear]\nruntime: {timeoutMs: "30s"}', '/runtime/timeoutMs'],
    ['models: [linear]\nruntime: {workers: 0}', '/runtime/workers'],
    ['models: [linear]\nruntime: {maxBatchSize: 2.5}', '/runtime/maxBatchSize'],
    ['models: [linear]\nruntime: {maxQueue: -1}', '/runtime/maxQueue'],
    ['- just\n- a list', ''],
  ])('refuses %j at %s', (text, pointer) => {
    const e = failure(() => parseInferenceConfig(text, { baseDir: dir }));
    expect(e.code).toBe('FERRY_E_CONFIG_INVALID');
    expect(e.details?.pointer).toBe(pointer);
  });

  it('gives line and column for a wrong type in YAML', () => {
    const e = failure(() => parseInferenceConfig('models:\n  - linear\nruntime:\n  workers: many\n', { baseDir: dir }));
    expect(e.details).toMatchObject({ pointer: '/runtime/workers', line: 4, column: 12 });
  });

  it('refuses YAML syntax errors and duplicate keys with a position', () => {
    const syntax = failure(() => parseInferenceConfig('models: [linear\n', { baseDir: dir }));
    expect(syntax.code).toBe('FERRY_E_CONFIG_INVALID');
    const dup = failure(() => parseInferenceConfig('models: [a]\nmodels: [b]\n', { baseDir: dir }));
    expect(dup.code).toBe('FERRY_E_CONFIG_INVALID');
    expect(dup.details?.line).toBe(2);
  });

  it('refuses malformed JSON', () => {
    const e = failure(() => parseInferenceConfig('{"models": [', { baseDir: dir, format: 'json' }));
    expect(e.code).toBe('FERRY_E_CONFIG_INVALID');
  });
});

describe('loadInferenceConfig', () => {
  it('loads .yaml and .json files relative to their folder', async () => {
    await writeFile(join(dir, 'ferry.yaml'), 'models: [linear:1]\nentryScript: ./score.ts\n');
    await writeFile(join(dir, 'ferry.json'), JSON.stringify({ name: 'svc', models: ['linear'], inputSample: 'input.json' }));
    const y = await loadInferenceConfig(join(dir, 'ferry.yaml'));
    expect(y).toMatchObject({ name: 'linear', models: ['linear:1'], entryScript: join(dir, 'score.ts'), source: join(dir, 'ferry.yaml') });
    const j = await loadInferenceConfig(join(dir, 'ferry.json'));
    expect(j.inputSample).toEqual({ data: [[1, 2, 3, 4]] });
  });

  it('answers FERRY_E_CONFIG_NOT_FOUND for a missing file', async () => {
    await expect(loadInferenceConfig(join(dir, 'nope.yaml'))).rejects.toMatchObject({ code: 'FERRY_E_CONFIG_NOT_FOUND' });
  });
});

describe('noCodeConfig', () => {
  it('serves one model by id', () => {
    expect(noCodeConfig('linear:3')).toEqual({ name: 'linear', models: ['linear:3'] });
    expect(() => noCodeConfig('bad name')).toThrow(expect.objectContaining({ code: 'FERRY_E_MODEL_REF_INVALID' }));
  });
});
