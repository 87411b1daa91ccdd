/**
 * Reads the scorer's desired properties (issue 4 §3) into what the slot and the logger apply:
 * `model` ("name:version" or {url, sha256}), `settings` (context.settings), `batching`
 * ({maxBatchSize, batchWindowMs}), `logLevel`. The whole desired section is read each time (the SDK
 * keeps it merged, PROTOCOLS.md §3), so a removed property (null) reverts to the module's config.
 */
import type { InferenceConfig } from '../config/inference-config.js';
import type { FerryError } from '../errors.js';
import { edgeError } from './errors.js';
import { parseLogLevel } from './log-levels.js';
import type { LogLevel } from './log-levels.js';
import type { ModelChoice, SlotBatching, SlotChange } from './model-slot.js';

export const MAX_BATCH_SIZE = 1024;
export const MAX_BATCH_WINDOW_MS = 1000;

export interface DesiredState {
  /** `$version` of the desired section read. */
  version: number | undefined;
  change: Required<SlotChange>;
  /** undefined: the twin names no level (keep the module's own). */
  logLevel: LogLevel | undefined;
  /** Properties that could not be used; the others are applied. Model problems surface as the slot's load error. */
  problems: FerryError[];
}

export function readDesired(desired: Record<string, unknown>, base: InferenceConfig, current: { model: ModelChoice; settings: Record<string, unknown>; batching: SlotBatching }): DesiredState {
  const problems: FerryError[] = [];
  const version = typeof desired['$version'] === 'number' ? desired['$version'] : undefined;

  const rawModel = desired['model'];
  // Anything but absent/null goes to the slot, which refuses a bad one with a load error (status error).
  const model = rawModel === undefined || rawModel === null ? (base.models[0] as string) : (rawModel as ModelChoice);

  const baseSettings = base.settings ?? {};
  let settings: Record<string, unknown> = { ...baseSettings };
  const rawSettings = desired['settings'];
  if (isObject(rawSettings)) {
    for (const [k, v] of Object.entries(rawSettings)) if (v !== null && !k.startsWith('$')) settings[k] = v;
  } else if (rawSettings !== undefined && rawSettings !== null) {
    problems.push(edgeError('FERRY_E_EDGE_DESIRED_INVALID', 'The desired property settings must be an object', { details: { property: 'settings' } }));
    settings = current.settings;
  }

  const baseRt = base.runtime ?? {};
  let batching: SlotBatching = definedBatching(baseRt.maxBatchSize, baseRt.batchWindowMs);
  const rawBatching = desired['batching'];
  if (isObject(rawBatching)) {
    const size = rawBatching['maxBatchSize'];
    const windowMs = rawBatching['batchWindowMs'];
    const sizeOk = size === undefined || size === null || (Number.isInteger(size) && (size as number) >= 1 && (size as number) <= MAX_BATCH_SIZE);
    const windowOk = windowMs === undefined || windowMs === null || (typeof windowMs === 'number' && Number.isFinite(windowMs) && windowMs >= 0 && windowMs <= MAX_BATCH_WINDOW_MS);
    if (sizeOk && windowOk) {
      batching = definedBatching(
        typeof size === 'number' ? size : baseRt.maxBatchSize,
        typeof windowMs === 'number' ? windowMs : baseRt.batchWindowMs,
      );
    } else {
      problems.push(edgeError('FERRY_E_EDGE_DESIRED_INVALID', `The desired property batching must be {maxBatchSize: 1..${MAX_BATCH_SIZE}, batchWindowMs: 0..${MAX_BATCH_WINDOW_MS}}`, { details: { property: 'batching' } }));
      batching = current.batching;
    }
  } else if (rawBatching !== undefined && rawBatching !== null) {
    problems.push(edgeError('FERRY_E_EDGE_DESIRED_INVALID', 'The desired property batching must be an object', { details: { property: 'batching' } }));
    batching = current.batching;
  }

  let logLevel: LogLevel | undefined;
  const rawLevel = desired['logLevel'];
  if (rawLevel !== undefined && rawLevel !== null) {
    try {
      logLevel = parseLogLevel(rawLevel);
    } catch (e) {
      problems.push(e as FerryError);
    }
  }
  return { version, change: { model, settings, batching }, logLevel, problems };
}

function definedBatching(maxBatchSize: number | undefined, batchWindowMs: number | undefined): SlotBatching {
  return { ...(maxBatchSize !== undefined ? { maxBatchSize } : {}), ...(batchWindowMs !== undefined ? { batchWindowMs } : {}) };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
