/**
 * What every endpoint pump shares: wake-ups coalesced into one run per turn of the event loop, a
 * blocked state that only `wake` clears (the endpoint went away), and close. Subclasses say how one
 * run moves messages from the store to their endpoint.
 */
export abstract class EndpointPump {
  readonly endpoint: string;
  /** Messages handed to the endpoint and not settled yet. */
  protected inFlightCount = 0;
  /** Waiting for the endpoint to come back (wake). */
  protected blocked = false;
  protected closed = false;
  #scheduled = false;

  constructor(endpoint: string) {
    this.endpoint = endpoint;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** New messages may be waiting. */
  kick(): void {
    if (this.#scheduled || this.closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.run();
    });
  }

  /** The endpoint may be reachable again (a module connected or subscribed, or a periodic retry). */
  wake(): void {
    this.blocked = false;
    this.kick();
  }

  close(): void {
    this.closed = true;
  }

  protected abstract run(): void;
}
