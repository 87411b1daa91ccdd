/** Layered deployments (IoT Hub's rules): merge order, what a layer may set, errors positioned in the layer file. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseLayeredDeployment, readLayeredDeployment } from '../src/manifest/layered-deployment.js';
import type { LayeredManifestProblem } from '../src/manifest/layered-deployment.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/layered-deployment/', import.meta.url));
const BASE = { file: 'deployment.json', text: readFileSync(`${EXAMPLES}deployment.json`, 'utf8') };

function layer(file: string, modulesContent: Record<string, unknown>): { file: string; text: string } {
  return { file, text: JSON.stringify({ modulesContent }, null, 2) };
}

function problemOf(f: () => unknown): { code: string; details: { file: string; fileLine?: number; fileColumn?: number; filePointer: string; line?: number; errors: LayeredManifestProblem[] } } {
  try {
    f();
  } catch (e) {
    return e as ReturnType<typeof problemOf>;
  }
  throw new Error('no error thrown');
}

describe('layered deployments', () => {
  it('merges the example layers onto the base in order, a later layer winning', () => {
    const m = readLayeredDeployment(`${EXAMPLES}deployment.json`, [`${EXAMPLES}layer-scoring.json`, `${EXAMPLES}layer-site.json`]);
    expect(m.modules.map((x) => x.id).sort()).toEqual(['scorer', 'sensor']);
    const routes = new Map(m.hub.routes.map((r) => [r.name, r]));
    expect([...routes.keys()].sort()).toEqual(['scoresToCloud', 'sensorToCloud', 'sensorToScorer']);
    expect(routes.get('sensorToCloud')?.text).toContain('$body.alarm = true');
    expect(routes.get('scoresToCloud')?.priority).toBe(1);
    // A path under properties.desired changes one property; the rest of the twin stays.
    expect(m.twins['sensor']).toEqual({ intervalMs: 500, units: 'C' });
    expect(m.twins['scorer']).toEqual({ threshold: 0.8, site: { name: 'plant-7' } });
    // System settings come from the base.
    expect(m.hub.storeAndForward.timeToLiveSecs).toBe(7200);
  });

  it('applies layers in the order given', () => {
    const a = layer('a.json', { sensor: { 'properties.desired.units': 'F' } });
    const b = layer('b.json', { sensor: { 'properties.desired.units': 'K' } });
    expect(parseLayeredDeployment(BASE, [a, b]).twins['sensor']?.['units']).toBe('K');
    expect(parseLayeredDeployment(BASE, [b, a]).twins['sensor']?.['units']).toBe('F');
  });

  it('"properties.desired" in a layer replaces the whole desired section; a module replaces the whole module', () => {
    const m = parseLayeredDeployment(BASE, [layer('l.json', {
      sensor: { 'properties.desired': { units: 'K' } },
      $edgeAgent: { 'properties.desired.modules.sensor': { version: '2.0', type: 'docker', status: 'stopped', restartPolicy: 'never', settings: { image: 'example/sensor:2.0' } } },
    })]);
    expect(m.twins['sensor']).toEqual({ units: 'K' });
    expect(m.modules[0]).toMatchObject({ id: 'sensor', version: '2.0', status: 'stopped', restartPolicy: 'never' });
  });

  it('places a problem of the merged manifest in the layer that wrote it: a bad route', () => {
    const bad = layer('bad-route.json', { $edgeHub: { 'properties.desired.routes.broken': 'FROM /messages/* WHERE a = INTO $upstream' } });
    const e = problemOf(() => parseLayeredDeployment(BASE, [bad]));
    expect(e.code).toBe('FERRY_E_MANIFEST_INVALID');
    expect(e.details.file).toBe('bad-route.json');
    expect(e.details.filePointer).toBe('/modulesContent/$edgeHub/properties.desired.routes.broken');
    // JSON.stringify(.., 2): the key sits on line 4, after 6 spaces.
    expect(bad.text.split('\n')[e.details.fileLine! - 1]!.slice(e.details.fileColumn! - 1)).toMatch(/^"properties\.desired\.routes\.broken"/);
    expect(e.details.line).toBe(1);
  });

  it('places a problem inside a layer module in the layer, deeper than the key', () => {
    const bad = layer('bad-module.json', { $edgeAgent: { 'properties.desired.modules.extra': { version: '1.0', type: 'docker', status: 'sleeping', restartPolicy: 'always', settings: { image: 'x/y:1' } } } });
    const e = problemOf(() => parseLayeredDeployment(BASE, [bad]));
    expect(e.details).toMatchObject({ file: 'bad-module.json', filePointer: '/modulesContent/$edgeAgent/properties.desired.modules.extra/status' });
    expect(bad.text.split('\n')[e.details.fileLine! - 1]!.slice(e.details.fileColumn! - 1)).toMatch(/^"status": "sleeping"/);
  });

  it('a later layer that replaces a value takes the blame for it, not the earlier one', () => {
    const first = layer('first.json', { $edgeHub: { 'properties.desired.routes.r': 'FROM /messages/* INTO $upstream' } });
    const second = layer('second.json', { $edgeHub: { 'properties.desired.routes.r': 'FROM /messages/modules/ghost/* INTO $upstream' } });
    const e = problemOf(() => parseLayeredDeployment(BASE, [first, second]));
    expect(e.details.file).toBe('second.json');
    expect(() => parseLayeredDeployment(BASE, [second, first])).not.toThrow();
  });

  it('a problem the layers did not touch is placed in the base file', () => {
    const base = { file: 'base.json', text: BASE.text.replace('"timeToLiveSecs": 7200', '"timeToLiveSecs": -1') };
    const e = problemOf(() => parseLayeredDeployment(base, [layer('ok.json', { sensor: { 'properties.desired.units': 'F' } })]));
    expect(e.details).toMatchObject({ file: 'base.json', filePointer: '/modulesContent/$edgeHub/properties.desired/storeAndForwardConfiguration/timeToLiveSecs' });
    expect(base.text.split('\n')[e.details.fileLine! - 1]).toContain('"timeToLiveSecs": -1');
  });

  it('refuses layer keys IoT Hub does not take, each positioned', () => {
    const bad = layer('keys.json', {
      $edgeAgent: { 'properties.desired.runtime': { type: 'docker' } },
      $edgeHub: { 'properties.desired.storeAndForwardConfiguration.timeToLiveSecs': 5 },
      sensor: { 'properties.reported.x': 1, 'properties.desired..x': 2 },
      other: 'not an object',
    });
    const e = problemOf(() => parseLayeredDeployment(BASE, [bad]));
    expect(e.code).toBe('FERRY_E_MANIFEST_INVALID');
    expect(e.details.errors.map((p) => p.filePointer)).toEqual([
      '/modulesContent/$edgeAgent/properties.desired.runtime',
      '/modulesContent/$edgeHub/properties.desired.storeAndForwardConfiguration.timeToLiveSecs',
      '/modulesContent/sensor/properties.reported.x',
      '/modulesContent/sensor/properties.desired..x',
      '/modulesContent/other',
    ]);
    for (const p of e.details.errors) expect(p.fileLine).toBeGreaterThan(1);
  });

  it('a path through a value that is not an object is refused', () => {
    const e = problemOf(() => parseLayeredDeployment(BASE, [layer('through.json', { sensor: { 'properties.desired.units.name': 'x' } })]));
    expect(e.details).toMatchObject({ file: 'through.json', filePointer: '/modulesContent/sensor/properties.desired.units.name' });
  });

  it('a layer that is not JSON is reported with its line and column', () => {
    const e = problemOf(() => parseLayeredDeployment(BASE, [{ file: 'broken.json', text: '{\n  "modulesContent": {\n    "a": ,\n  }\n}' }]));
    expect(e.code).toBe('FERRY_E_MANIFEST_INVALID');
    expect(e.details).toMatchObject({ file: 'broken.json', fileLine: 3, fileColumn: 10 });
  });

  it('a file that cannot be read is reported with its name', () => {
    const e = problemOf(() => readLayeredDeployment(`${EXAMPLES}deployment.json`, [`${EXAMPLES}absent.json`]));
    expect(e.code).toBe('FERRY_E_MANIFEST_INVALID');
    expect(e.details.file).toBe(`${EXAMPLES}absent.json`);
  });
});
