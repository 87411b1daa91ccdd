/**
 * The local IoT Hub behind `$upstream` (issue 3 §5): it takes every device-to-cloud message at once, keeps the
 * latest ones in memory and emits each (for `ferry monitor`, like `az iot hub monitor-events`).
 */
import { EventEmitter } from 'node:events';
import type { UpstreamMessage, UpstreamSink } from './upstream-sink.js';

/** A message the hub received. */
export interface CloudMessage {
  readonly deviceId: string;
  /** The sending module, or undefined for device telemetry. */
  readonly moduleId: string | undefined;
  readonly properties: Readonly<Record<string, string>>;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly enqueuedAt: number;
  /** When the hub received it, ms since the epoch (with a fraction by default: performance.timeOrigin + now()). */
  readonly receivedAt: number;
  /** Counts up from 1 for each message the hub received. */
  readonly sequenceNumber: number;
}

export interface CloudMessageFilter {
  readonly deviceId?: string;
  readonly moduleId?: string;
  /** At most this many, the newest (default: all kept). */
  readonly limit?: number;
}

export interface LocalIotHubOptions {
  /** How many of the latest messages to keep (default 1000). */
  readonly capacity?: number;
  readonly now?: () => number;
}

export interface LocalIotHubEvents {
  message: [message: CloudMessage];
}

export class LocalIotHub extends EventEmitter<LocalIotHubEvents> implements UpstreamSink {
  readonly #capacity: number;
  readonly #now: () => number;
  /** A ring of the latest messages. */
  readonly #ring: CloudMessage[] = [];
  #head = 0;
  #received = 0;

  constructor(options: LocalIotHubOptions = {}) {
    super();
    const capacity = options.capacity ?? 1000;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity ${String(capacity)} is not a positive integer`);
    this.#capacity = capacity;
    this.#now = options.now ?? (() => performance.timeOrigin + performance.now());
  }

  /** Messages received since the hub was made. */
  get received(): number {
    return this.#received;
  }

  /** Takes the messages at once (the local hub is always there). */
  send(messages: readonly UpstreamMessage[]): Promise<void> {
    const receivedAt = this.#now();
    for (const m of messages) {
      const message: CloudMessage = {
        deviceId: m.systemProperties['connectionDeviceId'] ?? '',
        moduleId: m.systemProperties['connectionModuleId'] || undefined,
        properties: m.properties,
        systemProperties: m.systemProperties,
        body: Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength),
        enqueuedAt: m.enqueuedAt,
        receivedAt,
        sequenceNumber: ++this.#received,
      };
      if (this.#ring.length < this.#capacity) this.#ring.push(message);
      else {
        this.#ring[this.#head] = message;
        this.#head = (this.#head + 1) % this.#capacity;
      }
      this.emit('message', message);
    }
    return Promise.resolve();
  }

  /** The latest messages kept, oldest first, optionally only one device's or module's. */
  recent(filter: CloudMessageFilter = {}): CloudMessage[] {
    const all = [...this.#ring.slice(this.#head), ...this.#ring.slice(0, this.#head)];
    const picked = all.filter((m) => (filter.deviceId === undefined || m.deviceId === filter.deviceId) && (filter.moduleId === undefined || m.moduleId === filter.moduleId));
    return filter.limit === undefined ? picked : picked.slice(Math.max(0, picked.length - filter.limit));
  }
}
