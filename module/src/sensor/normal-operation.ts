/**
 * The sensor's normal operation: the mean and standard deviation of each telemetry field, keyed by its JSON
 * pointer in the message body. The telemetry generator draws readings from these, and the Quick start's
 * anomaly model (cli/src/quickstart/anomaly-model.ts) is built from the same numbers, so both stay in step.
 */

export interface SensorFeature {
  /** JSON pointer into the message body (RFC 6901), e.g. `/machine/temperature`. */
  readonly pointer: string;
  readonly unit: string;
  readonly mean: number;
  readonly sd: number;
}

/** In the order of the anomaly model's input columns: machine temperature and pressure, ambient temperature and humidity. */
export const SENSOR_FEATURES: readonly SensorFeature[] = Object.freeze([
  Object.freeze({ pointer: '/machine/temperature', unit: '°C', mean: 70, sd: 2 }),
  Object.freeze({ pointer: '/machine/pressure', unit: 'bar', mean: 6.5, sd: 0.25 }),
  Object.freeze({ pointer: '/ambient/temperature', unit: '°C', mean: 21, sd: 0.5 }),
  Object.freeze({ pointer: '/ambient/humidity', unit: '%', mean: 25, sd: 1.5 }),
]);

/**
 * Bounds the generator keeps: a normal reading is at most NORMAL_MAX_Z standard deviations from the mean in
 * each field (a slow drift of up to 1 sd plus noise truncated at 2 sd), so its distance from normal operation
 * (the square root of the summed squared z-scores) is at most 2 * NORMAL_MAX_Z = 6. A spike adds
 * SPIKE_MIN_Z..SPIKE_MAX_Z standard deviations to the machine temperature, the pressure or both, so a spiked
 * field's z-score is at least SPIKE_MIN_Z - NORMAL_MAX_Z = 8.
 */
export const NORMAL_MAX_Z = 3;
export const SPIKE_MIN_Z = 11;
export const SPIKE_MAX_Z = 16;
