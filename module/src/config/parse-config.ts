/**
 * Reads and checks an inference config (`ferry.yaml`, `.yml` or `.json`). Every problem is a
 * FERRY_E_CONFIG_INVALID naming the JSON pointer of the field (and line:column in YAML).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { Document } from 'yaml';
import { scoringError, isFerryError } from '../errors.js';
import { isValidModelName, parseModelRef, MODEL_NAME_PATTERN } from '../model-ref.js';
import type { InferenceConfig, RuntimeOptions } from './inference-config.js';

export interface ParseInferenceConfigOptions {
  /** Folder that relative paths (entry script, sample files) are relative to. */
  baseDir: string;
  /** Default 'yaml' (which also reads JSON). */
  format?: 'yaml' | 'json';
  /** Recorded as `config.source`. */
  source?: string;
}

// `edge` is the edge module's section (module/src/edge/edge-config.ts checks it); other readers ignore it.
const TOP_KEYS = new Set(['name', 'models', 'entryScript', 'inputSample', 'outputSample', 'settings', 'runtime', 'edge']);
const ENTRY_EXTENSIONS = new Set(['.js', '.mjs', '.ts', '.mts']);

type IntRule = { min: number; integer: boolean };
const RUNTIME_RULES: Record<keyof RuntimeOptions, IntRule> = {
  threads: { min: 0, integer: true },
  workers: { min: 1, integer: true },
  maxBatchSize: { min: 1, integer: true },
  batchWindowMs: { min: 0, integer: false },
  timeoutMs: { min: 1, integer: true },
  maxConcurrent: { min: 1, integer: true },
  maxQueue: { min: 0, integer: true },
};

/** Reads a config file; the format follows the extension (.json, else YAML). */
export async function loadInferenceConfig(path: string): Promise<InferenceConfig> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw scoringError('FERRY_E_CONFIG_NOT_FOUND', `Cannot read the inference config ${file}: ${(e as Error).message}`, { cause: e });
  }
  const format = extname(file).toLowerCase() === '.json' ? 'json' : 'yaml';
  return parseInferenceConfig(text, { baseDir: dirname(file), format, source: file });
}

/** Parses config text. Reads sample files and checks the entry script exists (relative to baseDir). */
export function parseInferenceConfig(text: string, opts: ParseInferenceConfigOptions): InferenceConfig {
  const where: Locator = new Locator(text, opts);
  const raw = where.value;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) where.fail('', 'must be a mapping (an object)');
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!TOP_KEYS.has(key)) where.fail(`/${escapePointer(key)}`, `is not a known key (known: ${[...TOP_KEYS].join(', ')})`, undefined, true);
  }

  // models: at least one `name` or `name:version`.
  const models = obj.models;
  if (models === undefined) where.fail('/models', 'is required: list at least one model as name or name:version');
  if (!Array.isArray(models) || models.length === 0) where.fail('/models', 'must be a non-empty list of model references');
  (models as unknown[]).forEach((m, i) => {
    if (typeof m !== 'string') where.fail(`/models/${i}`, 'must be a string (name or name:version)');
    try {
      parseModelRef(m);
    } catch (e) {
      where.fail(`/models/${i}`, `is not a model reference: ${isFerryError(e) ? e.reason : String(e)}`, e);
    }
  });
  const modelRefs = models as string[];

  let name: string;
  if (obj.name === undefined) {
    name = parseModelRef(modelRefs[0] as string).name;
  } else {
    if (typeof obj.name !== 'string' || !isValidModelName(obj.name)) where.fail('/name', `must be a string matching ${MODEL_NAME_PATTERN.source}`);
    name = obj.name;
  }

  const config: InferenceConfig = { name, models: [...modelRefs] };
  if (opts.source !== undefined) config.source = opts.source;

  if (obj.entryScript !== undefined) {
    const p = obj.entryScript;
    if (typeof p !== 'string' || p === '') where.fail('/entryScript', 'must be a path relative to the config file');
    if (!ENTRY_EXTENSIONS.has(extname(p).toLowerCase())) where.fail('/entryScript', `must end in one of ${[...ENTRY_EXTENSIONS].join(', ')}`);
    const abs = isAbsolute(p) ? p : resolve(opts.baseDir, p);
    if (!existsSync(abs) || !statSync(abs).isFile()) where.fail('/entryScript', `names ${abs}, which is not a file`);
    config.entryScript = abs;
  } else if (modelRefs.length > 1) {
    where.fail('/models', 'lists several models but no entryScript: no-code mode serves exactly one ONNX model');
  }

  for (const key of ['inputSample', 'outputSample'] as const) {
    if (obj[key] === undefined) continue;
    config[key] = readSample(obj[key], `/${key}`, opts.baseDir, where);
  }

  if (obj.settings !== undefined) {
    const s = obj.settings;
    if (s === null || typeof s !== 'object' || Array.isArray(s)) where.fail('/settings', 'must be a mapping (an object)');
    config.settings = s as Record<string, unknown>;
  }

  if (obj.runtime !== undefined) config.runtime = readRuntime(obj.runtime, where);
  return config;
}

/** The config of `ferry serve name[:version]`: one registered ONNX model served in no-code mode. */
export function noCodeConfig(modelRef: string): InferenceConfig {
  const ref = parseModelRef(modelRef);
  return { name: ref.name, models: [modelRef] };
}

function readSample(value: unknown, pointer: string, baseDir: string, where: Locator): unknown {
  // A string ending in .json is a file relative to the config; anything else is the sample itself.
  if (typeof value !== 'string' || !value.toLowerCase().endsWith('.json')) return value;
  const file = isAbsolute(value) ? value : resolve(baseDir, value);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return where.fail(pointer, `names ${file}, which cannot be read`, e);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    return where.fail(pointer, `names ${file}, which is not valid JSON: ${(e as Error).message}`, e);
  }
}

function readRuntime(value: unknown, where: Locator): RuntimeOptions {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) where.fail('/runtime', 'must be a mapping (an object)');
  const out: RuntimeOptions = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const rule = RUNTIME_RULES[key as keyof RuntimeOptions] as IntRule | undefined;
    const pointer = `/runtime/${escapePointer(key)}`;
    if (!rule) where.fail(pointer, `is not a known runtime option (known: ${Object.keys(RUNTIME_RULES).join(', ')})`, undefined, true);
    if (typeof v !== 'number' || !Number.isFinite(v) || (rule.integer && !Number.isInteger(v)) || v < rule.min) {
      where.fail(pointer, `must be ${rule.integer ? 'an integer' : 'a number'} >= ${rule.min}`);
    }
    out[key as keyof RuntimeOptions] = v;
  }
  return out;
}

export function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Parses the text and turns JSON pointers into "line:column" for error messages. */
class Locator {
  readonly value: unknown;
  readonly #doc: Document | undefined;
  readonly #lines = new LineCounter();
  readonly #label: string;

  constructor(text: string, opts: ParseInferenceConfigOptions) {
    this.#label = opts.source ?? 'inference config';
    if (opts.format === 'json') {
      try {
        this.value = JSON.parse(text) as unknown;
      } catch (e) {
        throw scoringError('FERRY_E_CONFIG_INVALID', `${this.#label} is not valid JSON: ${(e as Error).message}`, { cause: e, details: { pointer: '' } });
      }
      return;
    }
    const doc = parseDocument(text, { lineCounter: this.#lines, uniqueKeys: true });
    const err = doc.errors[0];
    if (err) {
      const at = err.linePos ? ` at ${err.linePos[0].line}:${err.linePos[0].col}` : '';
      throw scoringError('FERRY_E_CONFIG_INVALID', `${this.#label} is not valid YAML${at}: ${err.message.split('\n')[0] ?? ''}`, { cause: err, details: { pointer: '', ...(err.linePos ? { line: err.linePos[0].line, column: err.linePos[0].col } : {}) } });
    }
    this.#doc = doc;
    this.value = doc.toJS() as unknown;
  }

  /** Throws FERRY_E_CONFIG_INVALID for the field at `pointer`; `atKey` points at the key (unknown keys) rather than the value. */
  fail(pointer: string, problem: string, cause?: unknown, atKey = false): never {
    const pos = this.#position(pointer, atKey);
    const at = pos ? ` (line ${pos.line}:${pos.column})` : '';
    const field = pointer === '' ? 'The document' : `"${pointer}"`;
    throw scoringError('FERRY_E_CONFIG_INVALID', `${this.#label}: ${field}${at} ${problem}`, {
      ...(cause === undefined ? {} : { cause }),
      details: { pointer, ...(pos ?? {}) },
    });
  }

  #position(pointer: string, atKey: boolean): { line: number; column: number } | undefined {
    if (!this.#doc) return undefined;
    const path = pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    let node: unknown = this.#doc.contents;
    let keyNode: unknown;
    for (const seg of path) {
      keyNode = undefined;
      if (!node || typeof node !== 'object') return undefined;
      const n = node as { items?: unknown[] };
      if (!Array.isArray(n.items)) return undefined;
      const pair = n.items.find((it): it is { key: unknown; value: unknown } => {
        if (it && typeof it === 'object' && 'key' in it) {
          const k = (it as { key: unknown }).key;
          return String(isNode(k) && 'value' in k ? (k as { value: unknown }).value : k) === seg;
        }
        return false;
      });
      if (pair) {
        keyNode = pair.key;
        node = pair.value;
      } else if (/^\d+$/.test(seg) && n.items[Number(seg)] !== undefined) {
        node = n.items[Number(seg)];
      } else {
        return undefined;
      }
    }
    const target = (atKey && keyNode ? keyNode : isNode(node) ? node : keyNode) as { range?: [number, number, number] } | undefined;
    const offset = target?.range?.[0];
    if (offset === undefined) return undefined;
    const { line, col } = this.#lines.linePos(offset);
    return { line, column: col };
  }
}
