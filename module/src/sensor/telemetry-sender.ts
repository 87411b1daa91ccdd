/**
 * The sensor's send loop (issue 4 §4): readings at `rate` messages per second until `count` have gone out,
 * paused while `enabled` is false, with at most `maxInFlight` sends waiting for edgeHub's PUBACK (the SDK
 * resolves sendOutputEvent on it, PROTOCOLS.md §3). The settings can change while it runs (twin desired
 * properties); a change of rate restarts the schedule from now.
 */
import { EventEmitter } from 'node:events';
import type device from 'azure-iot-device';
import type { DesiredSensorSettings, SensorSettings } from './sensor-settings.js';
import type { TelemetryGenerator } from './telemetry-generator.js';
import { telemetryMessage } from './telemetry-message.js';

/** What the loop needs of a ModuleClient. */
export interface OutputSender {
  sendOutputEvent(output: string, message: device.Message): Promise<unknown>;
}

export type SenderStatus = 'sending' | 'paused' | 'done' | 'stopped';

export interface SenderStats {
  readonly status: SenderStatus;
  /** Messages edgeHub acknowledged. */
  readonly sent: number;
  /** Of those, spikes (ground truth anomalies). */
  readonly anomaliesSent: number;
  /** Sends the SDK gave up on. */
  readonly failed: number;
  readonly inFlight: number;
  readonly rate: number;
  readonly count: number;
  readonly enabled: boolean;
}

export interface TelemetrySenderEvents {
  /** After each acknowledged or failed send. */
  progress: [stats: SenderStats];
  /** `count` messages have been sent and acknowledged (or failed). */
  done: [stats: SenderStats];
  'send-failed': [error: Error, messageId: string];
}

type LoopSettings = Pick<SensorSettings, 'rate' | 'count' | 'enabled' | 'maxInFlight' | 'output'>;

/** A schedule that fell this far behind (backpressure, a pause) restarts instead of bursting to catch up. */
const MAX_CATCH_UP_MS = 1000;

export class TelemetrySender extends EventEmitter<TelemetrySenderEvents> {
  readonly #client: OutputSender;
  readonly #generator: TelemetryGenerator;
  #settings: LoopSettings;
  #issued = 0;
  #sent = 0;
  #anomalies = 0;
  #failed = 0;
  #inFlight = 0;
  #epochStart = 0;
  #epochIssued = 0;
  #running: Promise<void> | undefined;
  #stopping = false;
  #doneReported = false;
  #wake: (() => void) | undefined;
  readonly #drained: Array<() => void> = [];

  constructor(client: OutputSender, generator: TelemetryGenerator, settings: LoopSettings) {
    super();
    this.#client = client;
    this.#generator = generator;
    this.#settings = { ...settings };
  }

  start(): void {
    if (this.#running) return;
    this.#restartSchedule();
    this.#running = this.#loop();
  }

  /** Applies desired settings; returns the settings now in force. */
  update(desired: DesiredSensorSettings): LoopSettings {
    const before = this.#settings;
    this.#settings = { ...before, ...desired };
    if (this.#settings.count !== before.count) this.#doneReported = false;
    if (this.#settings.rate !== before.rate || (this.#settings.enabled && !before.enabled)) this.#restartSchedule();
    this.#reportDone(this.stats());
    this.#wakeUp();
    return { ...this.#settings };
  }

  stats(): SenderStats {
    const s = this.#settings;
    const finished = s.count > 0 && this.#issued >= s.count && this.#inFlight === 0;
    const status: SenderStatus = this.#stopping ? 'stopped' : finished ? 'done' : s.enabled ? 'sending' : 'paused';
    return { status, sent: this.#sent, anomaliesSent: this.#anomalies, failed: this.#failed, inFlight: this.#inFlight, rate: s.rate, count: s.count, enabled: s.enabled };
  }

  /** Sends nothing more; resolves once the sends in flight have been acknowledged or have failed. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wakeUp();
    await this.#running;
    if (this.#inFlight > 0) await new Promise<void>((resolve) => this.#drained.push(resolve));
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      const s = this.#settings;
      if (!s.enabled || (s.count > 0 && this.#issued >= s.count) || this.#inFlight >= s.maxInFlight) {
        await this.#sleep();
        continue;
      }
      if (s.rate > 0) {
        const now = performance.now();
        const due = this.#epochStart + (this.#epochIssued * 1000) / s.rate;
        if (due < now - MAX_CATCH_UP_MS) this.#restartSchedule();
        else if (due > now) {
          await this.#sleep(due - now);
          continue;
        }
      }
      this.#issue();
    }
  }

  #issue(): void {
    const generated = this.#generator.next();
    const message = telemetryMessage(generated);
    this.#issued++;
    this.#epochIssued++;
    this.#inFlight++;
    this.#client.sendOutputEvent(this.#settings.output, message).then(
      () => {
        this.#sent++;
        if (generated.anomaly !== null) this.#anomalies++;
      },
      (e: unknown) => {
        this.#failed++;
        this.emit('send-failed', e instanceof Error ? e : new Error(String(e)), String(message.messageId));
      },
    ).finally(() => {
      this.#inFlight--;
      const stats = this.stats();
      this.emit('progress', stats);
      this.#reportDone(stats);
      if (this.#inFlight === 0) for (const resolve of this.#drained.splice(0)) resolve();
      this.#wakeUp();
    });
  }

  #reportDone(stats: SenderStats): void {
    if (stats.status !== 'done' || this.#doneReported) return;
    this.#doneReported = true;
    this.emit('done', stats);
  }

  #restartSchedule(): void {
    this.#epochStart = performance.now();
    this.#epochIssued = 0;
  }

  /** Resolves on the next wakeUp (a settings change, a finished send, stop) or after `ms`. */
  #sleep(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, Math.max(1, ms));
      this.#wake = () => {
        if (timer) clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  #wakeUp(): void {
    this.#wake?.();
  }
}
