/**
 * The sensor module (issue 4 §4): connects to edgeHub (retrying until it is up, edge/connection.ts), sends
 * telemetry on `temperatureOutput` as its settings say, follows the twin's desired `rate`, `count` and
 * `enabled`, and reports what it sent in its reported properties (throttled, edge/reported-throttle.ts).
 */
import type { ModuleClient, Twin } from 'azure-iot-device';
import type { Logger } from 'pino';
import { connectModuleClient } from '../edge/connection.js';
import { ReportedThrottle } from '../edge/reported-throttle.js';
import type { FerryError } from '../errors.js';
import { desiredSensorSettings, sensorSettingsFromEnv, type SensorSettings } from './sensor-settings.js';
import { TelemetryGenerator } from './telemetry-generator.js';
import { TelemetrySender } from './telemetry-sender.js';

export interface SensorModuleOptions {
  readonly logger: Logger;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Aborting stops the connect retries. */
  readonly signal?: AbortSignal;
}

export interface SensorModule {
  readonly sender: TelemetrySender;
  readonly settings: SensorSettings;
  /** Stops sending, waits for the sends in flight, reports the final counts and closes the client. */
  stop(): Promise<void>;
}

/** Throws FERRY_E_SENSOR_CONFIG_INVALID (bad FERRY_SENSOR_* values) or FERRY_E_EDGE_ENV_INVALID (no edgeHub settings). */
export async function startSensorModule(o: SensorModuleOptions): Promise<SensorModule> {
  const env = o.env ?? process.env;
  const settings = sensorSettingsFromEnv(env);
  const log = o.logger;
  const { client, attempts } = await connectModuleClient({ logger: log, env, ...(o.signal ? { signal: o.signal } : {}) });
  log.info({ attempts }, 'connected to edgeHub');
  const twin = await client.getTwin();

  let lastError: FerryError | undefined;
  const initial = desiredSensorSettings(twin.properties.desired);
  if (initial.error) {
    lastError = initial.error;
    log.warn({ code: initial.error.code, err: initial.error.message }, 'desired properties ignored');
  }
  const generator = new TelemetryGenerator({ seed: settings.seed, anomalyRate: settings.anomalyRate });
  const sender = new TelemetrySender(client, generator, { ...settings, ...initial.settings });

  const reporter = new ReportedThrottle({
    intervalMs: settings.reportIntervalMs,
    send: () => updateReported(twin, {
      ...sender.stats(),
      seed: settings.seed,
      anomalyRate: settings.anomalyRate,
      output: settings.output,
      lastError: lastError ? { code: lastError.code, message: lastError.message } : null,
    }),
    onError: (err) => log.warn({ err: (err as Error).message }, 'reporting properties failed; retrying'),
  });

  twin.on('properties.desired', (patch: unknown) => {
    const { settings: desired, error } = desiredSensorSettings(patch);
    if (error) {
      lastError = error;
      log.warn({ code: error.code, err: error.message }, 'desired properties ignored');
    }
    if (Object.keys(desired).length === 0 && !error) return;
    const now = sender.update(desired);
    log.info({ rate: now.rate, count: now.count, enabled: now.enabled }, 'settings changed by the twin');
    reporter.request(true);
  });
  sender.on('progress', () => reporter.request());
  sender.on('done', (stats) => {
    log.info({ sent: stats.sent, failed: stats.failed, anomaliesSent: stats.anomaliesSent }, 'sent every message asked for');
    reporter.request(true);
  });
  sender.on('send-failed', (err, messageId) => log.warn({ messageId, err: err.message }, 'send failed'));

  log.info({ rate: sender.stats().rate, count: sender.stats().count, enabled: sender.stats().enabled, seed: settings.seed, anomalyRate: settings.anomalyRate, output: settings.output }, 'sending telemetry');
  sender.start();
  reporter.request(true);

  let stopping: Promise<void> | undefined;
  return {
    sender,
    settings,
    stop: () => (stopping ??= (async () => {
      await sender.stop();
      await withTimeout(reporter.flush(), 3000);
      await reporter.close();
      await closeClient(client);
    })()),
  };
}

function updateReported(twin: Twin, patch: Record<string, unknown>): Promise<void> {
  return new Promise((resolve, reject) => twin.properties.reported.update(patch, (err?: Error) => (err ? reject(err) : resolve())));
}

async function closeClient(client: ModuleClient): Promise<void> {
  await withTimeout(client.close().then(() => undefined), 3000).catch(() => undefined);
}

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    p.then(() => {
      clearTimeout(timer);
      resolve();
    }, (e: unknown) => {
      clearTimeout(timer);
      reject(e instanceof Error ? e : new Error(String(e)));
    });
  });
}
