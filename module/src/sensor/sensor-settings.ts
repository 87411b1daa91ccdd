/**
 * The sensor's settings (issue 4 §4): read from the environment at start, then changed by the twin's desired
 * properties `rate`, `count` and `enabled` (a desired value wins over the environment's, as in Microsoft's
 * simulated temperature sensor).
 */
import { randomInt } from 'node:crypto';
import type { FerryError } from '../errors.js';
import { sensorError } from './errors.js';
import { DEFAULT_ANOMALY_RATE } from './telemetry-generator.js';

export interface SensorSettings {
  /** Messages per second; 0 sends as fast as edgeHub acknowledges them (bounded by maxInFlight). */
  readonly rate: number;
  /** Messages to send in all; 0 means no limit. */
  readonly count: number;
  /** false pauses sending. */
  readonly enabled: boolean;
  readonly seed: number;
  readonly anomalyRate: number;
  /** Sends waiting for edgeHub's acknowledgement at once. */
  readonly maxInFlight: number;
  readonly output: string;
  /** Least time between two reported-property patches. */
  readonly reportIntervalMs: number;
}

/** The part of the settings the twin can change. */
export type DesiredSensorSettings = Partial<Pick<SensorSettings, 'rate' | 'count' | 'enabled'>>;

export const SENSOR_OUTPUT = 'temperatureOutput';
export const DEFAULT_SENSOR_RATE = 1;
export const DEFAULT_SENSOR_COUNT = 500;

/** Reads FERRY_SENSOR_* from `env`; throws FERRY_E_SENSOR_CONFIG_INVALID for a value it cannot use. */
export function sensorSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): SensorSettings {
  const read = (name: string, fallback: number, valid: (n: number) => boolean): number => {
    const text = env[name];
    if (text === undefined || text.trim() === '') return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || !valid(n)) throw sensorError('FERRY_E_SENSOR_CONFIG_INVALID', `${name}=${JSON.stringify(text)} is not valid`, { details: { name, value: text } });
    return n;
  };
  const whole = (n: number): boolean => Number.isInteger(n) && n >= 0;
  return {
    rate: read('FERRY_SENSOR_RATE', DEFAULT_SENSOR_RATE, (n) => n >= 0),
    count: read('FERRY_SENSOR_COUNT', DEFAULT_SENSOR_COUNT, whole),
    enabled: true,
    seed: read('FERRY_SENSOR_SEED', randomInt(2 ** 31), Number.isSafeInteger),
    anomalyRate: read('FERRY_SENSOR_ANOMALY_RATE', DEFAULT_ANOMALY_RATE, (n) => n >= 0 && n <= 1),
    maxInFlight: read('FERRY_SENSOR_MAX_IN_FLIGHT', 16, (n) => whole(n) && n >= 1),
    output: SENSOR_OUTPUT,
    reportIntervalMs: read('FERRY_SENSOR_REPORT_INTERVAL_MS', 2000, whole),
  };
}

/**
 * Picks `rate`, `count` and `enabled` from a desired-properties patch (other keys, such as `$version`, are
 * ignored; `null`, a deleted property, is left out). A key whose value the sensor cannot use is left out
 * too, and named in a FERRY_E_SENSOR_DESIRED_INVALID error returned beside the usable ones.
 */
export function desiredSensorSettings(patch: unknown): { settings: DesiredSensorSettings; error: FerryError | undefined } {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return { settings: {}, error: undefined };
  const doc = patch as Record<string, unknown>;
  const out: { rate?: number; count?: number; enabled?: boolean } = {};
  const bad: string[] = [];
  const rate = doc['rate'];
  if (typeof rate === 'number' && Number.isFinite(rate) && rate >= 0) out.rate = rate;
  else if (rate !== undefined && rate !== null) bad.push('rate');
  const count = doc['count'];
  if (typeof count === 'number' && Number.isInteger(count) && count >= 0) out.count = count;
  else if (count !== undefined && count !== null) bad.push('count');
  const enabled = doc['enabled'];
  if (typeof enabled === 'boolean') out.enabled = enabled;
  else if (enabled !== undefined && enabled !== null) bad.push('enabled');
  const error = bad.length === 0 ? undefined
    : sensorError('FERRY_E_SENSOR_DESIRED_INVALID', `Desired ${bad.map((k) => `${k}=${JSON.stringify(doc[k])}`).join(', ')} ignored`, { details: { keys: bad } });
  return { settings: out, error };
}
