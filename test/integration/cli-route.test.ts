/**
 * `ferry route test` run as a subprocess: one JSON line per message, exit 2 with line and column for
 * a route that does not compile, coded errors for bad message files.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '@ferry/test';

let dir: string;
let ws: string;
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const lines = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as { result: string; sink: string | null });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-cli-route-'));
  ws = join(dir, 'ws');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sensor = { properties: { alert: 'yes' }, systemProperties: { connectionModuleId: 'sensor', outputName: 'temps', contentType: 'application/json', contentEncoding: 'utf-8' }, body: { temperature: 31.5 } };
const cold = { ...sensor, body: '{"temperature": 12}' };
const telemetry = { properties: {}, systemProperties: { connectionDeviceId: 'dev' }, body: 'plain text' };
const notJson = { ...sensor, systemProperties: { ...sensor.systemProperties, contentType: 'text/plain' } };

describe('ferry route test (subprocess)', () => {
  it('evaluates a full route per message: source, condition and sink', async () => {
    const messages = file('m.jsonl', [sensor, cold, telemetry, notJson].map((m) => JSON.stringify(m)).join('\n') + '\n\n');
    const run = await ferry(['route', 'test', 'FROM /messages/modules/sensor/outputs/* WHERE $body.temperature > 30 INTO BrokeredEndpoint("/modules/filter/inputs/input1")', '--messages', messages], { workspace: ws });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(lines(run.stdout)).toEqual([
      { result: 'true', sink: 'BrokeredEndpoint("/modules/filter/inputs/input1")' },
      { result: 'false', sink: null },
      { result: 'false', sink: null },
      { result: 'undefined', sink: null },
    ]);
  });

  it('evaluates a bare condition against one message', async () => {
    const m = file('m.json', JSON.stringify(sensor));
    const yes = await ferry(['route', 'test', "alert = 'yes' AND $outputName = 'temps'", '--message', m], { workspace: ws });
    expect(yes.code).toBe(0);
    expect(lines(yes.stdout)).toEqual([{ result: 'true', sink: null }]);
    const upstream = await ferry(['route', 'test', 'FROM /messages/* INTO $upstream', '--message', m], { workspace: ws });
    expect(lines(upstream.stdout)).toEqual([{ result: 'true', sink: '$upstream' }]);
  });

  it('a route that does not compile exits 2 with its line and column', async () => {
    const m = file('m.json', JSON.stringify(sensor));
    const run = await ferry(['route', 'test', "FROM /messages/*\nWHERE alert > 3\nINTO $upstream", '--message', m], { workspace: ws });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.error?.code).toBe('FERRY_E_ROUTE_INVALID');
    expect(run.stderr).toContain('line 2, column 13');
    const json = await ferry(['route', 'test', 'abs(', '--message', m, '--json'], { workspace: ws });
    expect(json.code).toBe(2);
    const doc = JSON.parse(json.stderr.trim()) as { error: { code: string; details: { line: number; column: number } } };
    expect(doc.error).toMatchObject({ code: 'FERRY_E_ROUTE_INVALID', details: { line: 1, column: 5 } });
  });

  it('bad message files give coded errors', async () => {
    const bad = await ferry(['route', 'test', 'true', '--messages', file('bad.jsonl', `${JSON.stringify(sensor)}\n{"properties": {"a": 1}}\n`)], { workspace: ws });
    expect(bad.code).toBe(1);
    expect(bad.error?.code).toBe('FERRY_E_ROUTE_MESSAGE_INVALID');
    expect(bad.error?.message).toContain('line 2');
    const notJsonFile = await ferry(['route', 'test', 'true', '--message', file('x.json', '{nope')], { workspace: ws });
    expect(notJsonFile.error?.code).toBe('FERRY_E_ROUTE_MESSAGE_INVALID');
    const missing = await ferry(['route', 'test', 'true', '--message', join(dir, 'missing.json')], { workspace: ws });
    expect(missing.error?.code).toBe('FERRY_E_INPUT_UNREADABLE');
    const usage = await ferry(['route', 'test', 'true'], { workspace: ws });
    expect(usage.code).toBe(2);
    expect(usage.error?.code).toBe('FERRY_E_USAGE');
  });
});
