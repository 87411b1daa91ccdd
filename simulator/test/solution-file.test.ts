/** The solution file: module ids mapped to commands, cwd relative to the file; bad entries coded with where. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSolution, readSolutionFile } from '../src/solution/solution-file.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-solution-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readSolutionFile', () => {
  it('maps modules to commands, resolving cwd against the file\'s folder', () => {
    const file = join(dir, 'solution.json');
    writeFileSync(file, JSON.stringify({ modules: { scorer: { command: ['node', 'scorer.js'], cwd: 'scorer' }, camera: { command: ['python3', '-m', 'camera'] } } }));
    const solution = readSolutionFile(file);
    expect(solution.get('scorer')).toEqual({ command: ['node', 'scorer.js'], cwd: join(dir, 'scorer') });
    expect(solution.get('camera')).toEqual({ command: ['python3', '-m', 'camera'], cwd: dir });
    expect(solution.has('other')).toBe(false);
  });

  it('refuses unreadable files, non-JSON and bad entries with FERRY_E_SIM_SOLUTION_INVALID and a pointer', () => {
    expect(() => readSolutionFile(join(dir, 'absent.json'))).toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_SOLUTION_INVALID' }));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"modules": ');
    expect(() => readSolutionFile(bad)).toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_SOLUTION_INVALID' }));
    const cases: Array<[unknown, string]> = [
      [[], ''],
      [{ modules: [] }, '/modules'],
      [{ modules: { a: 'node a.js' } }, '/modules/a'],
      [{ modules: { a: { command: [] } } }, '/modules/a/command'],
      [{ modules: { a: { command: ['node', 3] } } }, '/modules/a/command'],
      [{ modules: { a: { command: ['node'], cwd: 1 } } }, '/modules/a/cwd'],
    ];
    for (const [doc, pointer] of cases) {
      expect(() => parseSolution(doc, dir), JSON.stringify(doc)).toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_SOLUTION_INVALID', details: { pointer } }));
    }
  });
});
