/**
 * The scorer module's process (`node module/dist/edge/main.js`, issue 4 §1). Environment:
 * FERRY_MODULE_CONFIG (required: the inference config with its `edge:` section), FERRY_MODELS_DIR
 * (default /app/models), FERRY_MODEL_CACHE (default /app/model-cache), FERRY_LOG_LEVEL (default: the
 * config's edge.logLevel, else info), plus what edgeHub gives a module (PROTOCOLS.md §1).
 * Logs are JSON lines (pino) on stdout. SIGTERM/SIGINT: finish the messages in flight, exit 0.
 */
import pino from 'pino';
import { isFerryError } from '../errors.js';
import { loadModuleConfig } from './edge-config.js';
import { EdgeModule } from './edge-module.js';
import { edgeError } from './errors.js';
import { isLogLevel } from './log-levels.js';

const env = process.env;
const logger = pino({
  name: env['IOTEDGE_MODULEID'] ?? 'ferry-scorer',
  level: 'info',
  base: { pid: process.pid, module: env['IOTEDGE_MODULEID'] ?? null },
}, pino.destination({ fd: 1, sync: true }));

async function main(): Promise<void> {
  const configPath = env['FERRY_MODULE_CONFIG'];
  if (!configPath) throw edgeError('FERRY_E_EDGE_ENV_INVALID', 'FERRY_MODULE_CONFIG is not set: it names the module config (an inference config with an edge section)');
  const config = await loadModuleConfig(configPath);
  const level = env['FERRY_LOG_LEVEL'] ?? config.edge.logLevel;
  if (!isLogLevel(level)) throw edgeError('FERRY_E_EDGE_ENV_INVALID', `FERRY_LOG_LEVEL "${level}" is not a log level`);
  logger.level = level;

  const running: { module?: EdgeModule } = {};
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    void (running.module?.stop() ?? Promise.resolve()).then(() => process.exit(0), (err: unknown) => {
      logger.error({ err }, 'stopping failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const started = performance.now();
  const module = await EdgeModule.start({
    config,
    modelsDir: env['FERRY_MODELS_DIR'] ?? '/app/models',
    cacheDir: env['FERRY_MODEL_CACHE'] ?? '/app/model-cache',
    logger,
  });
  running.module = module;
  logger.info({ ms: Math.round(performance.now() - started), model: module.slot.model.id, http: module.httpUrl ?? null }, 'ready');
  if (stopping) await module.stop().then(() => process.exit(0));
}

main().catch((err: unknown) => {
  logger.fatal(isFerryError(err) ? { code: err.code, details: err.details, err: err.message } : { err }, 'the module could not start');
  process.exit(1);
});
