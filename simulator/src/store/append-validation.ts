/** Checks what the router gives `append`, and merges deliveries to one endpoint. */
import { storeError } from './errors.js';
import type { Delivery, Message } from './store-types.js';

export interface CheckedDelivery {
  readonly endpoint: string;
  readonly priority: number;
  /** Seconds; 0 means the store's default. */
  readonly ttlSecs: number;
}

export function checkMessage(message: Message): void {
  if (typeof message !== 'object' || message === null) throw invalid('The message is not an object');
  if (!(message.body instanceof Uint8Array)) throw invalid('The message body is not a Uint8Array');
  if (!Number.isFinite(message.enqueuedAt)) throw invalid('The message has no enqueuedAt time');
  checkBag(message.properties, 'properties');
  checkBag(message.systemProperties, 'systemProperties');
}

function checkBag(bag: unknown, what: string): void {
  if (typeof bag !== 'object' || bag === null || Array.isArray(bag)) throw invalid(`The message's ${what} is not an object`);
  for (const [k, v] of Object.entries(bag)) {
    if (typeof v !== 'string') throw invalid(`The message's ${what}.${k} is not a string`);
  }
}

/**
 * One delivery per endpoint at the best priority (PROTOCOLS.md §6; iotedge's route priority design:
 * "the route that yields the highest priority will be used"), with that route's time to live.
 */
export function checkDeliveries(deliveries: readonly Delivery[]): CheckedDelivery[] {
  if (!Array.isArray(deliveries) || deliveries.length === 0) throw invalid('A message needs at least one delivery');
  const byEndpoint = new Map<string, CheckedDelivery>();
  for (const d of deliveries) {
    if (typeof d?.endpoint !== 'string' || d.endpoint.length === 0) throw invalid('A delivery has no endpoint name');
    if (!Number.isInteger(d.priority) || d.priority < 0 || d.priority > 9) throw invalid(`The priority ${String(d.priority)} of a delivery to ${d.endpoint} is not an integer 0-9`);
    const ttlSecs = d.ttlSecs ?? 0;
    if (typeof ttlSecs !== 'number' || !Number.isFinite(ttlSecs) || ttlSecs < 0) throw invalid(`The time to live ${String(d.ttlSecs)} of a delivery to ${d.endpoint} is not a non-negative number of seconds`);
    const seen = byEndpoint.get(d.endpoint);
    if (!seen || d.priority < seen.priority) byEndpoint.set(d.endpoint, { endpoint: d.endpoint, priority: d.priority, ttlSecs });
  }
  return [...byEndpoint.values()];
}

export function checkTimeToLive(secs: number): number {
  if (typeof secs !== 'number' || !Number.isFinite(secs) || secs <= 0) throw invalid(`The default time to live ${String(secs)} is not a positive number of seconds`);
  return secs;
}

function invalid(reason: string): Error {
  return storeError('FERRY_E_SIM_STORE_INPUT_INVALID', reason);
}
