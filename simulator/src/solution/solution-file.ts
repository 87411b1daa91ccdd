/**
 * The solution file (issue 3 §6): maps module ids of a deployment to local commands, so that those
 * modules run as processes instead of containers.
 * `{"modules": {"scorer": {"command": ["node", "scorer.js"], "cwd": "scorer"}}}`, cwd relative to the file.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { simulatorError } from '../errors.js';

export interface SolutionModule {
  readonly command: readonly string[];
  /** Absolute working directory (the solution file's folder when the entry gives none). */
  readonly cwd: string;
}

/** Module id -> process entry. */
export type Solution = ReadonlyMap<string, SolutionModule>;

/** Reads and checks a solution file; throws FERRY_E_SIM_SOLUTION_INVALID. */
export function readSolutionFile(path: string): Solution {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw simulatorError('FERRY_E_SIM_SOLUTION_INVALID', `Cannot read the solution file ${path}`, { cause, details: { path } });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw simulatorError('FERRY_E_SIM_SOLUTION_INVALID', `The solution file ${path} is not JSON: ${(cause as Error).message}`, { cause, details: { path } });
  }
  return parseSolution(doc, dirname(resolve(path)), path);
}

/** Checks a parsed solution document; relative cwds are resolved against `baseDir`. */
export function parseSolution(doc: unknown, baseDir: string, source = 'the solution'): Solution {
  const bad = (pointer: string, what: string): Error =>
    simulatorError('FERRY_E_SIM_SOLUTION_INVALID', `${source} at ${pointer || '/'}: ${what}`, { details: { pointer } });
  if (!isObject(doc)) throw bad('', 'expected an object {"modules": {...}}');
  const modules = doc['modules'] ?? {};
  if (!isObject(modules)) throw bad('/modules', 'expected an object of module entries');
  const out = new Map<string, SolutionModule>();
  for (const [id, entry] of Object.entries(modules)) {
    const at = `/modules/${id.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (!isObject(entry)) throw bad(at, 'expected {"command": [...], "cwd"?: "..."}');
    const command = entry['command'];
    if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === 'string' && c !== '')) {
      throw bad(`${at}/command`, 'expected a non-empty array of non-empty strings (the program and its arguments; no shell)');
    }
    const cwd = entry['cwd'];
    if (cwd !== undefined && typeof cwd !== 'string') throw bad(`${at}/cwd`, 'expected a string');
    out.set(id, { command: command as string[], cwd: resolve(baseDir, cwd ?? '.') });
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
