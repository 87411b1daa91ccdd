/**
 * Delivers the `$upstream` queue to the upstream sink in batches, in store order; a batch is acknowledged in
 * the store once the sink has taken it. A failed batch rewinds the queue and waits for the next wake.
 */
import type { MessageStore } from '../store/message-store.js';
import type { UpstreamSink } from '../upstream/upstream-sink.js';
import { EndpointPump } from './endpoint-pump.js';

const BATCH = 256;

export class UpstreamPump extends EndpointPump {
  readonly #store: MessageStore;
  readonly #sink: UpstreamSink;

  constructor(endpoint: string, store: MessageStore, sink: UpstreamSink) {
    super(endpoint);
    this.#store = store;
    this.#sink = sink;
  }

  protected run(): void {
    if (this.closed || this.blocked || this.inFlightCount > 0) return;
    const batch = this.#store.next(this.endpoint, BATCH);
    if (batch.length === 0) return;
    this.inFlightCount = batch.length;
    let sent: Promise<void>;
    try {
      sent = this.#sink.send(batch.map((q) => q.message));
    } catch (e) {
      sent = Promise.reject(e as Error);
    }
    sent.then(
      () => {
        this.inFlightCount = 0;
        if (this.closed) return;
        this.#store.ack(this.endpoint, batch.map((q) => q.offset));
        this.kick();
      },
      () => {
        this.inFlightCount = 0;
        if (this.closed) return;
        this.#store.rewind(this.endpoint);
        this.blocked = true;
      },
    );
  }
}
