/**
 * Entry point of the sensor module: `node module/dist/sensor/main.js` (issue 4 §4). JSON-line logs (pino) on
 * stdout; SIGTERM (what `docker stop` sends) or SIGINT stops sending, waits for the sends in flight and exits 0.
 */
import pino from 'pino';
import { isFerryError } from '../errors.js';
import { startSensorModule, type SensorModule } from './sensor-module.js';

const logger = pino({
  name: 'ferry-sensor',
  level: process.env['FERRY_LOG_LEVEL'] ?? 'info',
  base: { module: process.env['IOTEDGE_MODULEID'] ?? 'sensor', pid: process.pid },
}, pino.destination({ fd: 1, sync: true }));

const abort = new AbortController();
let sensor: SensorModule | undefined;
let signalled = false;

function onSignal(signal: NodeJS.Signals): void {
  if (signalled) process.exit(1);
  signalled = true;
  logger.info({ signal }, 'stopping');
  abort.abort(new Error(signal));
  if (!sensor) process.exit(0);
  sensor.stop().then(
    () => {
      logger.info({ ...sensor?.sender.stats() }, 'stopped');
      process.exit(0);
    },
    (err: unknown) => {
      logger.error({ err: (err as Error).message }, 'stopping failed');
      process.exit(1);
    },
  );
}
process.on('SIGTERM', onSignal).on('SIGINT', onSignal);

try {
  sensor = await startSensorModule({ logger, signal: abort.signal });
} catch (err) {
  if (signalled) process.exit(0);
  logger.fatal(isFerryError(err) ? { code: err.code, err: err.message } : { err: (err as Error).message }, 'the sensor cannot start');
  process.exit(1);
}
