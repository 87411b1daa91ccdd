/**
 * The sensor module's coded errors (issue 4 §4). Keep docs/errors.md in step: a test compares them.
 */
import { defineCatalogue } from '../errors.js';

export const { catalogue: sensorCatalogue, error: sensorError } = defineCatalogue({
  FERRY_E_SENSOR_CONFIG_INVALID: { status: 400, hint: 'Set FERRY_SENSOR_RATE to messages per second (a number >= 0, 0 for as fast as possible), FERRY_SENSOR_COUNT to a whole number >= 0 (0 for no limit), FERRY_SENSOR_SEED to an integer and FERRY_SENSOR_ANOMALY_RATE to a number in [0, 1].' },
  FERRY_E_SENSOR_DESIRED_INVALID: { status: 400, hint: 'Desired properties of the sensor: `rate` (number >= 0), `count` (whole number >= 0), `enabled` (true or false); the previous value stays in force.' },
});
