/**
 * Delivers the `$upstream` queue to the upstream sink in batches, in store order; a batch is acknowledged in
 * the store once the sink has taken it. A failed batch rewinds the queue and waits for the next wake.
 */
import type { MessageStore } from '../store/message-store.js';
import type { UpstreamSink } from '../upstream/upstream-sink.js';

const BATCH = 256;

export class UpstreamPump {
  readonly endpoint: string;
  readonly #store: MessageStore;
  readonly #sink: UpstreamSink;
  #inFlight = 0;
  #blocked = false;
  #scheduled = false;
  #closed = false;

  constructor(endpoint: string, store: MessageStore, sink: UpstreamSink) {
    this.endpoint = endpoint;
    this.#store = store;
    this.#sink = sink;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  kick(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => this.#run());
  }

  wake(): void {
    this.#blocked = false;
    this.kick();
  }

  close(): void {
    this.#closed = true;
  }

  #run(): void {
    this.#scheduled = false;
    if (this.#closed || this.#blocked || this.#inFlight > 0) return;
    const batch = this.#store.next(this.endpoint, BATCH);
    if (batch.length === 0) return;
    this.#inFlight = batch.length;
    let sent: Promise<void>;
    try {
      sent = this.#sink.send(batch.map((q) => q.message));
    } catch (e) {
      sent = Promise.reject(e as Error);
    }
    sent.then(
      () => {
        this.#inFlight = 0;
        if (this.#closed) return;
        this.#store.ack(this.endpoint, batch.map((q) => q.offset));
        this.kick();
      },
      () => {
        this.#inFlight = 0;
        if (this.#closed) return;
        this.#store.rewind(this.endpoint);
        this.#blocked = true;
      },
    );
  }
}
