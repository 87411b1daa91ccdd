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
import type { Message, QueuedMessage } from '../store/store-types.js';
import { EndpointPump } from './endpoint-pump.js';

export interface InputPumpOptions {
  readonly endpoint: string;
  readonly module: string;
  readonly input: string;
  readonly broker: EdgeBroker;
  readonly store: MessageStore;
  /** Deliveries in flight at most. */
  readonly window: number;
  /** Body bytes in flight at most (default 4 MiB; one delivery always goes, whatever its size). */
  readonly windowBytes?: number;
  /** Whether the module is connected now. */
  readonly online: () => boolean;
}

/** Body bytes in flight per input by default. */
const DEFAULT_WINDOW_BYTES = 4 * 1024 * 1024;

export class InputPump extends EndpointPump {
  readonly module: string;
  readonly #o: InputPumpOptions;
  /** A delivery failed: send nothing until the in-flight ones settle and the store is rewound. */
  #failed = false;
  #acks: number[] = [];
  #ackScheduled = false;
  /**
   * Read from the store (its cursor is past them) and not sent yet: one store read per window, while each
   * PUBACK turn still sends at once. Bounded by the window, so a newer message of a higher priority waits
   * behind at most one window.
   */
  #ahead: QueuedMessage[] = [];
  #aheadAt = 0;
  #inFlightBytes = 0;

  constructor(options: InputPumpOptions) {
    super(options.endpoint);
    this.#o = options;
    this.module = options.module;
  }

  protected run(): void {
    if (this.closed || this.#failed || this.blocked || !this.#o.online()) return;
    // Refill on every PUBACK turn, even for one message: the next PUBLISH carries the TCP ACK of the module's
    // PUBACK. Waiting for a bigger slice leaves the ACK to the kernel's delayed-ACK timer (~40 ms), and a
    // client with Nagle on (the SDK's MQTT.js sockets) holds its following PUBACKs back until then.
    const maxBytes = this.#o.windowBytes ?? DEFAULT_WINDOW_BYTES;
    for (let room = this.#o.window - this.inFlightCount; room > 0 && (this.#inFlightBytes < maxBytes || this.inFlightCount === 0);) {
      if (this.#aheadAt >= this.#ahead.length) {
        this.#ahead = this.#o.store.next(this.endpoint, this.#o.window);
        this.#aheadAt = 0;
        if (this.#ahead.length === 0) return;
      }
      const queued = this.#ahead[this.#aheadAt++] as QueuedMessage;
      const size = queued.message.body.byteLength;
      room--;
      this.inFlightCount++;
      this.#inFlightBytes += size;
      this.#o.broker.deliverInput(this.module, this.#o.input, outbound(queued.message)).then(
        () => this.#delivered(queued.offset, size),
        () => this.#failedDelivery(size),
      );
    }
  }

  #delivered(offset: number, size: number): void {
    this.inFlightCount--;
    this.#inFlightBytes -= size;
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

  #failedDelivery(size: number): void {
    this.inFlightCount--;
    this.#inFlightBytes -= size;
    if (this.closed) return;
    this.#failed = true;
    this.blocked = true;
    if (this.inFlightCount === 0) this.#rewind();
  }

  #rewind(): void {
    // Acknowledge what was delivered first, so the rewind hands out only what was not.
    this.#flushAcks();
    this.#ahead = [];
    this.#aheadAt = 0;
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
