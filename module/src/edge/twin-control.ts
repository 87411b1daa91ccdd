/**
 * The scorer's module twin (issue 4 §3, PROTOCOLS.md §3): applies the desired `model`, `settings`,
 * `batching` and `logLevel` at attach and on every desired patch, and reports model, status,
 * counters, latency, rate and versions, throttled (ReportedThrottle).
 *
 * Reported properties:
 * `model: {name, version, sha256}`, `status: {state, reason, code}` (loading|ready|error; while error,
 * the previous model keeps scoring), `counters: {in, out, errors}`, `latency: {p50Ms, p99Ms}`,
 * `lastMinuteRate` (messages/s), `versions: {ferry, onnxruntime}`, `logLevel`,
 * `batching: {maxBatchSize, batchWindowMs}`, and `desired: {version, error}`: the desired `$version`
 * last applied, with the first problem met (`{code, message}`) or null.
 */
import type { ModuleClient, Twin } from 'azure-iot-device';
import type { Logger } from 'pino';
import { isFerryError } from '../errors.js';
import { readDesired } from './desired-properties.js';
import { isLogLevel } from './log-levels.js';
import type { ModelSlot } from './model-slot.js';
import type { ModuleStats, ModuleStatsSnapshot } from './module-stats.js';
import { ReportedThrottle } from './reported-throttle.js';
import { runtimeVersions } from './runtime-versions.js';

export const DEFAULT_REPORT_INTERVAL_MS = 5_000;

export interface TwinControlOptions {
  slot: ModelSlot;
  stats: ModuleStats;
  logger: Logger;
  setLogLevel(level: string): void;
  /** At most one routine report per interval (default 5000 ms). */
  reportIntervalMs: number;
}

interface DesiredAck {
  version: number | null;
  error: { code: string; message: string } | null;
}

export class TwinControl {
  readonly #twin: Twin;
  readonly #o: TwinControlOptions;
  readonly #throttle: ReportedThrottle;
  readonly #offStatus: () => void;
  readonly #onDesired = (): void => this.#applyDesired();
  #ticker: NodeJS.Timeout | undefined;
  #lastStats = '';
  #ack: DesiredAck = { version: null, error: null };
  /** The module's own level, which a removed desired `logLevel` reverts to. */
  readonly #baseLevel: string;
  #level: string;
  #applying: Promise<void> = Promise.resolve();
  #applied = 0;
  #closed = false;

  private constructor(twin: Twin, o: TwinControlOptions) {
    this.#twin = twin;
    this.#o = o;
    this.#baseLevel = o.logger.level;
    this.#level = o.logger.level;
    const intervalMs = o.reportIntervalMs > 0 ? o.reportIntervalMs : DEFAULT_REPORT_INTERVAL_MS;
    this.#throttle = new ReportedThrottle({
      intervalMs,
      send: () => this.#send(),
      onError: (err) => o.logger.warn({ err }, 'sending reported properties failed; retrying'),
    });
    this.#offStatus = o.slot.onStatus(() => this.#throttle.request(true));
    // Counters change with every message: look every interval, report when they moved.
    this.#ticker = setInterval(() => {
      if (JSON.stringify(this.#o.stats.snapshot()) !== this.#lastStats) this.#throttle.request(false);
    }, intervalMs);
    this.#ticker.unref();
  }

  /** Gets the twin, reports the current state, and applies the desired properties now and on every patch. */
  static async attach(client: ModuleClient, o: TwinControlOptions): Promise<TwinControl> {
    const twin = await client.getTwin();
    const control = new TwinControl(twin, o);
    control.#throttle.request(true);
    // The SDK fires this at once with the whole desired section, then with each patch (PROTOCOLS.md §3).
    twin.on('properties.desired', control.#onDesired);
    return control;
  }

  /** Desired versions applied so far (each desired event counts once its application settled). */
  get applied(): number {
    return this.#applied;
  }

  /** Resolves once every desired change received so far has been applied (or failed). */
  settled(): Promise<void> {
    return this.#applying;
  }

  /** Sends the pending report now. */
  flush(): Promise<void> {
    this.#throttle.request(true);
    return this.#throttle.flush();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#twin.removeListener('properties.desired', this.#onDesired);
    this.#offStatus();
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = undefined;
    await this.#throttle.close();
  }

  #applyDesired(): void {
    if (this.#closed) return;
    const { slot, logger } = this.#o;
    const desired = readDesired(this.#twin.properties.desired as Record<string, unknown>, slot.baseConfig, slot.requested);
    logger.debug({ version: desired.version }, 'desired properties');

    const level = desired.logLevel ?? this.#baseLevel;
    if (isLogLevel(level) && level !== this.#level) {
      this.#o.setLogLevel(level);
      this.#level = level;
      this.#throttle.request(true);
    }
    // The slot aborts a load still in progress when a newer change arrives; each call settles on its own.
    const swap = slot.reconfigure(desired.change).then(
      () => undefined,
      (e: unknown) => (isFerryError(e) && e.code === 'FERRY_E_EDGE_MODEL_SUPERSEDED' ? 'superseded' : e),
    );
    this.#applying = Promise.all([this.#applying, swap]).then(([, outcome]) => {
      this.#applied++;
      if (outcome === 'superseded') return;
      const problem = outcome ?? desired.problems[0];
      this.#ack = {
        version: desired.version ?? null,
        error: problem === undefined ? null : isFerryError(problem)
          ? { code: problem.code, message: problem.message }
          : { code: 'FERRY_E_EDGE_METHOD_FAILED', message: String((problem as Error)?.message ?? problem) },
      };
      for (const p of desired.problems) logger.warn({ code: p.code, details: p.details }, p.message);
      this.#throttle.request(true);
    });
  }

  async #send(): Promise<void> {
    const snapshot = this.#o.stats.snapshot();
    this.#lastStats = JSON.stringify(snapshot);
    const patch = this.#report(snapshot);
    await new Promise<void>((resolve, reject) => {
      this.#twin.properties.reported.update(patch, (err?: Error) => (err ? reject(err) : resolve()));
    });
  }

  #report(s: ModuleStatsSnapshot): Record<string, unknown> {
    const { slot } = this.#o;
    const model = slot.model;
    const batching = slot.applied.batching;
    return {
      model: { name: model.name, version: model.version, sha256: slot.sha256 },
      status: { state: slot.status, reason: slot.statusReason ?? null, code: slot.statusCode ?? null },
      counters: { in: s.in, out: s.out, errors: s.errors },
      latency: { p50Ms: s.p50Ms, p99Ms: s.p99Ms },
      lastMinuteRate: s.lastMinuteRate,
      versions: runtimeVersions(),
      logLevel: this.#level,
      batching: { maxBatchSize: batching.maxBatchSize ?? null, batchWindowMs: batching.batchWindowMs ?? null },
      desired: this.#ack,
    };
  }
}
