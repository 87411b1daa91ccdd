/** The module config's `edge` section (module/src/edge/edge-config.ts): defaults, checks with JSON pointers. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModuleConfig, moduleRuntimeConfig, parseEdgeConfig } from '../src/edge/edge-config.js';

describe('parseEdgeConfig', () => {
  it('gives Azure ML\'s names and the module defaults when the section is absent', () => {
    expect(parseEdgeConfig(undefined)).toEqual({
      inputs: ['amlInput'], output: 'amlOutput', errorOutput: 'errors', carryProperties: [], maxInFlight: 64, logLevel: 'info', reportIntervalMs: 5000,
    });
  });

  it('reads every key', () => {
    const c = parseEdgeConfig({
      inputs: ['a', 'b'], output: 'out', errorOutput: 'bad', carryProperties: ['seq'], features: { data: ['/machine/temperature', '/x~1y'] },
      batchWindowMs: 1.5, maxBatchSize: 16, maxInFlight: 8, http: { port: 0, auth: 'key' }, logLevel: 'debug', reportIntervalMs: 2000,
    });
    expect(c).toMatchObject({ inputs: ['a', 'b'], output: 'out', errorOutput: 'bad', features: { data: ['/machine/temperature', '/x~1y'] }, batchWindowMs: 1.5, maxBatchSize: 16, http: { port: 0, auth: 'key', host: '0.0.0.0' } });
  });

  it.each([
    [{ nope: 1 }, '/edge/nope'],
    [{ inputs: [] }, '/edge/inputs'],
    [{ inputs: ['ok', 'bad/name'] }, '/edge/inputs/1'],
    [{ output: '#' }, '/edge/output'],
    [{ carryProperties: ['$.mid'] }, '/edge/carryProperties/0'],
    [{ features: { data: ['machine/temperature'] } }, '/edge/features/data/0'],
    [{ features: { data: [] } }, '/edge/features/data'],
    [{ batchWindowMs: -1 }, '/edge/batchWindowMs'],
    [{ maxBatchSize: 1.5 }, '/edge/maxBatchSize'],
    [{ maxInFlight: 0 }, '/edge/maxInFlight'],
    [{ http: { port: 70000 } }, '/edge/http/port'],
    [{ http: { port: 1, auth: 'basic' } }, '/edge/http/auth'],
    [{ logLevel: 'loud' }, '/edge/logLevel'],
    ['edge', '/edge'],
  ])('refuses %j at %s', (value, pointer) => {
    expect(() => parseEdgeConfig(value)).toThrow(expect.objectContaining({ code: 'FERRY_E_EDGE_CONFIG_INVALID', details: { pointer } }));
  });
});

describe('loadModuleConfig', () => {
  it('reads the inference config and its edge section from one YAML file; the runtime gets the module\'s batching', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-edge-config-'));
    try {
      const file = join(dir, 'module.yaml');
      writeFileSync(file, 'models: [linear:1]\nruntime: {maxQueue: 10}\nedge:\n  maxInFlight: 32\n  maxBatchSize: 4\n');
      const { inference, edge } = await loadModuleConfig(file);
      expect(inference).toMatchObject({ name: 'linear', models: ['linear:1'] });
      expect(edge.maxInFlight).toBe(32);
      expect(moduleRuntimeConfig(inference, edge).runtime).toEqual({ maxQueue: 32, maxBatchSize: 4, batchWindowMs: 2 });
      writeFileSync(file, 'models: [linear:1]\nedge: {output: 3}\n');
      await expect(loadModuleConfig(file)).rejects.toMatchObject({ code: 'FERRY_E_EDGE_CONFIG_INVALID', details: { pointer: '/edge/output' } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
