/**
 * Delivers one module input endpoint's queue (issue 3 §2-3): in store order (highest priority first, then
 * arrival), with a window of deliveries in flight, only while the module is connected; a message counts as
 * delivered only on the module's PUBACK (deliverInput resolving), then it is acknowledged in the store.
 *
 * A session with clean=false keeps its unacknowledged deliveries across a reconnect (MQTT-4.4.0-1: aedes
 * sends them again and deliverInput still resolves), so a disconnect alone rewinds nothing. A delivery that
 * fails (the module is gone for good, its clean session replaced, not subscribed) stops the pump; once
 * nothing is in flight the store is rewound, and the pump waits for the module to (re)connect or subscribe.
 */
import type { EdgeBroker, OutboundMessage } from '../broker/edge-broker.js';
import type { MessageStore } from '../store/message-store.js';
import type { Message } from '../store/store-types.js';
import { EndpointPump } from './endpoint-pump.js';

export interface InputPumpOptions {
  readonly endpoint: string;
  readonly module: string;
  readonly input: string;
  readonly broker: EdgeBroker;
  readonly store: MessageStore;
  /** Deliveries in flight at most. */
  readonly window: number;
  /** Whether the module is connected now. */
  readonly online: () => boolean;
}

export class InputPump extends EndpointPump {
  readonly module: string;
  readonly #o: InputPumpOptions;
  /** A delivery failed: send nothing until the in-flight ones settle and the store is rewound. */
  #failed = false;
  #acks: number[] = [];
  #ackScheduled = false;

  constructor(options: InputPumpOptions) {
    super(options.endpoint);
    this.#o = options;
    this.module = options.module;
  }

  protected run(): void {
    if (this.closed || this.#failed || this.blocked || !this.#o.online()) return;
    const room = this.#o.window - this.inFlightCount;
    // Refill in slices of a quarter window (one store read each) rather than one message per PUBACK.
    if (room <= 0 || (this.inFlightCount > 0 && room < Math.max(1, this.#o.window >> 2))) return;
    const batch = this.#o.store.next(this.endpoint, room);
    for (const queued of batch) {
      this.inFlightCount++;
      this.#o.broker.deliverInput(this.module, this.#o.input, outbound(queued.message)).then(
        () => this.#delivered(queued.offset),
        () => this.#failedDelivery(),
      );
    }
  }

  #delivered(offset: number): void {
    this.inFlightCount--;
    if (this.closed) return;
    this.#acks.push(offset);
    // The store hands out past its cursor, so refilling need not wait for the acknowledgements' commit.
    this.kick();
    if (!this.#ackScheduled) {
      // One store transaction for the PUBACKs of one event-loop turn.
      this.#ackScheduled = true;
      setImmediate(() => this.#flushAcks());
    }
    if (this.#failed && this.inFlightCount === 0) this.#rewind();
  }

  #flushAcks(): void {
    this.#ackScheduled = false;
    if (this.closed || this.#acks.length === 0) return;
    const acks = this.#acks;
    this.#acks = [];
    this.#o.store.ack(this.endpoint, acks);
    this.kick();
  }

  #failedDelivery(): void {
    this.inFlightCount--;
    if (this.closed) return;
    this.#failed = true;
    this.blocked = true;
    if (this.inFlightCount === 0) this.#rewind();
  }

  #rewind(): void {
    // Acknowledge what was delivered first, so the rewind hands out only what was not.
    this.#flushAcks();
    this.#o.store.rewind(this.endpoint);
    this.#failed = false;
  }
}

/** The stored message as the broker publishes it: properties and system properties kept; the broker turns
 * connectionDeviceId/connectionModuleId into `$.cdid`/`$.cmid` (PROTOCOLS.md §3). */
function outbound(message: Message): OutboundMessage {
  const body = message.body;
  return {
    properties: message.properties,
    systemProperties: message.systemProperties,
    body: Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
  };
}
