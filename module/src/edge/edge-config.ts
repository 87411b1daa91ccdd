/**
 * The module config (FERRY_MODULE_CONFIG): an inference config (module/src/config) plus an optional
 * `edge:` section that says how messages reach the model. Every problem in the edge section is a
 * FERRY_E_EDGE_CONFIG_INVALID naming its JSON pointer (`/edge/...`).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadInferenceConfig } from '../config/parse-config.js';
import type { InferenceConfig } from '../config/inference-config.js';
import { edgeError } from './errors.js';
import { isLogLevel, LOG_LEVELS, type LogLevel } from './log-levels.js';


export interface EdgeHttpConfig {
  port: number;
  /** Interface to listen on (default 0.0.0.0: other modules reach it by the module's name). */
  host: string;
  /** Default 'none': the endpoint is for local clients on the device. */
  auth: 'key' | 'none';
}

export interface EdgeConfig {
  /** Inputs scored (default ["amlInput"], Azure ML's name, PROTOCOLS.md §7). */
  inputs: string[];
  /** Output of the results (default "amlOutput"). */
  output: string;
  /** Output of messages that could not be scored (default "errors"). */
  errorOutput: string;
  /** Application properties copied from an input to its result. */
  carryProperties: string[];
  /** No-code telemetry: model input name -> JSON pointers into the body, giving a one-row tensor. */
  features?: Record<string, string[]>;
  /** Micro-batching window; default: the inference config's runtime.batchWindowMs, else 2 ms. */
  batchWindowMs?: number;
  /** Largest batch; default: the inference config's runtime.maxBatchSize. */
  maxBatchSize?: number;
  /** Inputs taken but not yet acknowledged before the module stops scoring new ones (default 64). */
  maxInFlight: number;
  http?: EdgeHttpConfig;
  logLevel: LogLevel;
  /** How often at most the twin's reported properties are written (default 5000 ms). */
  reportIntervalMs: number;
}

const EDGE_KEYS = new Set(['inputs', 'output', 'errorOutput', 'carryProperties', 'features', 'batchWindowMs', 'maxBatchSize', 'maxInFlight', 'http', 'logLevel', 'reportIntervalMs']);
/** Input and output names travel in topics (PROTOCOLS.md §3): no `/`, `#`, `+` or `?`. */
const ENDPOINT_NAME = /^[A-Za-z0-9_.\-$]{1,128}$/;

export const EDGE_DEFAULTS = { inputs: ['amlInput'], output: 'amlOutput', errorOutput: 'errors', batchWindowMs: 2, maxInFlight: 64, logLevel: 'info', reportIntervalMs: 5000 } as const;

/** Checks the `edge` section (undefined gives the defaults). `source` names the file in messages. */
export function parseEdgeConfig(value: unknown, source = 'module config'): EdgeConfig {
  const fail = (pointer: string, problem: string): never => {
    throw edgeError('FERRY_E_EDGE_CONFIG_INVALID', `${source}: "${pointer}" ${problem}`, { details: { pointer } });
  };
  const config: EdgeConfig = {
    inputs: [...EDGE_DEFAULTS.inputs], output: EDGE_DEFAULTS.output, errorOutput: EDGE_DEFAULTS.errorOutput, carryProperties: [],
    maxInFlight: EDGE_DEFAULTS.maxInFlight, logLevel: EDGE_DEFAULTS.logLevel,
    reportIntervalMs: EDGE_DEFAULTS.reportIntervalMs,
  };
  if (value === undefined || value === null) return config;
  if (!isObject(value)) return fail('/edge', 'must be a mapping (an object)');
  for (const key of Object.keys(value)) if (!EDGE_KEYS.has(key)) fail(`/edge/${escape(key)}`, `is not a known key (known: ${[...EDGE_KEYS].join(', ')})`);

  const name = (v: unknown, pointer: string): string => (typeof v === 'string' && ENDPOINT_NAME.test(v) ? v : fail(pointer, 'must be an input or output name (letters, digits, _ . - $)'));
  const number = (v: unknown, pointer: string, min: number, max: number, integer: boolean): number =>
    typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max && (!integer || Number.isInteger(v)) ? v : fail(pointer, `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);

  if (value['inputs'] !== undefined) {
    const list = value['inputs'];
    if (!Array.isArray(list) || list.length === 0) fail('/edge/inputs', 'must be a non-empty list of input names');
    config.inputs = (list as unknown[]).map((v, i) => name(v, `/edge/inputs/${i}`));
  }
  if (value['output'] !== undefined) config.output = name(value['output'], '/edge/output');
  if (value['errorOutput'] !== undefined) config.errorOutput = name(value['errorOutput'], '/edge/errorOutput');
  if (value['carryProperties'] !== undefined) {
    const list = value['carryProperties'];
    if (!Array.isArray(list)) fail('/edge/carryProperties', 'must be a list of application property names');
    config.carryProperties = (list as unknown[]).map((v, i) => (typeof v === 'string' && v !== '' && !v.startsWith('$') ? v : fail(`/edge/carryProperties/${i}`, 'must be an application property name (not empty, not starting with $)')));
  }
  if (value['features'] !== undefined) {
    const f = value['features'];
    if (!isObject(f) || Object.keys(f).length === 0) fail('/edge/features', 'must map model input names to lists of JSON pointers');
    const features: Record<string, string[]> = {};
    for (const [input, pointers] of Object.entries(f as Record<string, unknown>)) {
      const at = `/edge/features/${escape(input)}`;
      if (!Array.isArray(pointers) || pointers.length === 0) fail(at, 'must be a non-empty list of JSON pointers into the message body');
      features[input] = (pointers as unknown[]).map((p, i) => (typeof p === 'string' && (p === '' || p.startsWith('/')) && !/~[^01]|~$/.test(p) ? p : fail(`${at}/${i}`, 'must be a JSON pointer (RFC 6901), such as "/machine/temperature"')));
    }
    config.features = features;
  }
  if (value['batchWindowMs'] !== undefined) config.batchWindowMs = number(value['batchWindowMs'], '/edge/batchWindowMs', 0, 1000, false);
  if (value['maxBatchSize'] !== undefined) config.maxBatchSize = number(value['maxBatchSize'], '/edge/maxBatchSize', 1, 1024, true);
  if (value['maxInFlight'] !== undefined) config.maxInFlight = number(value['maxInFlight'], '/edge/maxInFlight', 1, 10_000, true);
  if (value['reportIntervalMs'] !== undefined) config.reportIntervalMs = number(value['reportIntervalMs'], '/edge/reportIntervalMs', 0, 3_600_000, true);
  if (value['logLevel'] !== undefined) {
    const l = value['logLevel'];
    config.logLevel = isLogLevel(l) ? l : fail('/edge/logLevel', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  if (value['http'] !== undefined) {
    const h = value['http'];
    if (!isObject(h)) return fail('/edge/http', 'must be a mapping {port, auth?, host?}');
    for (const key of Object.keys(h)) if (!['port', 'auth', 'host'].includes(key)) fail(`/edge/http/${escape(key)}`, 'is not a known key (known: port, auth, host)');
    const port = number(h['port'], '/edge/http/port', 0, 65535, true);
    const auth = h['auth'] ?? 'none';
    if (auth !== 'key' && auth !== 'none') fail('/edge/http/auth', 'must be "key" or "none"');
    const host = h['host'] ?? '0.0.0.0';
    if (typeof host !== 'string' || host === '') fail('/edge/http/host', 'must be an interface address such as "0.0.0.0" or "127.0.0.1"');
    config.http = { port, host: host as string, auth: auth as 'key' | 'none' };
  }
  return config;
}

export interface ModuleConfig {
  inference: InferenceConfig;
  edge: EdgeConfig;
}

/**
 * Reads FERRY_MODULE_CONFIG: the inference config (FERRY_E_CONFIG_INVALID / FERRY_E_CONFIG_NOT_FOUND)
 * and its `edge` section (FERRY_E_EDGE_CONFIG_INVALID).
 */
export async function loadModuleConfig(path: string): Promise<ModuleConfig> {
  const file = resolve(path);
  const inference = await loadInferenceConfig(file);
  // loadInferenceConfig read and checked the document; parse it once more for the edge section.
  const doc = parseYaml(await readFile(file, 'utf8')) as unknown;
  const edge = parseEdgeConfig(isObject(doc) ? doc['edge'] : undefined, file);
  return { inference, edge };
}

/** The runtime options of the module: the edge section's batching over the inference config's. */
export function moduleRuntimeConfig(inference: InferenceConfig, edge: EdgeConfig): InferenceConfig {
  const rt = inference.runtime ?? {};
  return {
    ...inference,
    runtime: {
      ...rt,
      batchWindowMs: edge.batchWindowMs ?? rt.batchWindowMs ?? EDGE_DEFAULTS.batchWindowMs,
      ...(edge.maxBatchSize !== undefined ? { maxBatchSize: edge.maxBatchSize } : {}),
      // Every message the module holds may be queued in the runtime at once: never FERRY_E_BUSY.
      maxQueue: Math.max(rt.maxQueue ?? 100, edge.maxInFlight),
    },
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function escape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
