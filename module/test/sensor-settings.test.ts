/** The sensor's settings from FERRY_SENSOR_* and from twin desired properties (issue 4 §4). */
import { describe, expect, it } from 'vitest';
import { isFerryError } from '../src/errors.js';
import { DEFAULT_SENSOR_COUNT, DEFAULT_SENSOR_RATE, desiredSensorSettings, sensorSettingsFromEnv } from '../src/sensor/sensor-settings.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isFerryError(e) ? e.code : `not coded: ${String(e)}`;
  }
  return undefined;
}

describe('sensorSettingsFromEnv', () => {
  it('reads rate, count, seed and anomaly rate', () => {
    const s = sensorSettingsFromEnv({ FERRY_SENSOR_RATE: '250', FERRY_SENSOR_COUNT: '1000', FERRY_SENSOR_SEED: '17', FERRY_SENSOR_ANOMALY_RATE: '0.2', FERRY_SENSOR_MAX_IN_FLIGHT: '4' });
    expect(s).toMatchObject({ rate: 250, count: 1000, seed: 17, anomalyRate: 0.2, maxInFlight: 4, enabled: true, output: 'temperatureOutput' });
  });

  it('has defaults, and a random seed when none is given', () => {
    const a = sensorSettingsFromEnv({});
    expect(a.rate).toBe(DEFAULT_SENSOR_RATE);
    expect(a.count).toBe(DEFAULT_SENSOR_COUNT);
    const seeds = new Set(Array.from({ length: 5 }, () => sensorSettingsFromEnv({}).seed));
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('takes 0 for rate (as fast as possible) and count (no limit)', () => {
    expect(sensorSettingsFromEnv({ FERRY_SENSOR_RATE: '0', FERRY_SENSOR_COUNT: '0' })).toMatchObject({ rate: 0, count: 0 });
  });

  it.each([
    ['FERRY_SENSOR_RATE', '-1'], ['FERRY_SENSOR_RATE', 'fast'], ['FERRY_SENSOR_COUNT', '1.5'], ['FERRY_SENSOR_COUNT', '-3'],
    ['FERRY_SENSOR_SEED', '1e300'], ['FERRY_SENSOR_ANOMALY_RATE', '2'], ['FERRY_SENSOR_MAX_IN_FLIGHT', '0'],
  ])('refuses %s=%s with FERRY_E_SENSOR_CONFIG_INVALID', (name, value) => {
    expect(codeOf(() => sensorSettingsFromEnv({ [name]: value }))).toBe('FERRY_E_SENSOR_CONFIG_INVALID');
  });
});

describe('desiredSensorSettings', () => {
  it('picks rate, count and enabled and ignores other keys', () => {
    expect(desiredSensorSettings({ rate: 5, count: 10, enabled: false, $version: 3, other: 'x' })).toEqual({ settings: { rate: 5, count: 10, enabled: false }, error: undefined });
    expect(desiredSensorSettings({ rate: null })).toEqual({ settings: {}, error: undefined });
    expect(desiredSensorSettings('nonsense')).toEqual({ settings: {}, error: undefined });
  });

  it('keeps the usable keys and names the bad ones in FERRY_E_SENSOR_DESIRED_INVALID', () => {
    const { settings, error } = desiredSensorSettings({ rate: -5, count: 20, enabled: 'yes' });
    expect(settings).toEqual({ count: 20 });
    expect(error?.code).toBe('FERRY_E_SENSOR_DESIRED_INVALID');
    expect(error?.details).toEqual({ keys: ['rate', 'enabled'] });
  });
});
