/**
 * When the module sends its reported properties (issue 4 §3: "throttled, at most one report every few
 * seconds"). Reports are built at send time, so everything asked for in between goes out as one patch.
 * A routine request goes out at most once per `intervalMs`; an urgent one (a status change) after
 * `promptMs`, still coalesced with anything else pending. One send at a time; a failed send is retried
 * at the next routine slot.
 */
export interface ReportedThrottleOptions {
  intervalMs: number;
  /** Delay of urgent reports (default 50 ms): status changes that follow each other closely share one. */
  promptMs?: number;
  send(): Promise<void>;
  onError?(err: unknown): void;
}

export class ReportedThrottle {
  readonly #o: ReportedThrottleOptions;
  readonly #promptMs: number;
  #lastSentAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #dueAt = Number.POSITIVE_INFINITY;
  #pending = false;
  #urgent = false;
  #sending: Promise<void> | undefined;
  #closed = false;
  #sent = 0;

  constructor(o: ReportedThrottleOptions) {
    this.#o = o;
    this.#promptMs = o.promptMs ?? 50;
  }

  /** Reports sent so far. */
  get sent(): number {
    return this.#sent;
  }

  request(urgent = false): void {
    if (this.#closed) return;
    this.#pending = true;
    this.#urgent ||= urgent;
    if (this.#sending) return; // rescheduled when the send ends
    const now = Date.now();
    const due = urgent ? now + this.#promptMs : Math.max(now, this.#lastSentAt + this.#o.intervalMs);
    this.#schedule(Math.min(due, this.#dueAt));
  }

  /** Sends what is pending now (waits for a send in progress first). */
  async flush(): Promise<void> {
    await this.#sending;
    if (this.#pending) await this.#fire();
  }

  /** Stops scheduling; waits for a send in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#clear();
    await this.#sending;
  }

  #schedule(at: number): void {
    if (this.#timer !== undefined && at >= this.#dueAt) return;
    this.#clear();
    this.#dueAt = at;
    this.#timer = setTimeout(() => void this.#fire(), Math.max(0, at - Date.now()));
    this.#timer.unref();
  }

  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dueAt = Number.POSITIVE_INFINITY;
  }

  #fire(): Promise<void> {
    this.#clear();
    if (this.#sending || !this.#pending) return this.#sending ?? Promise.resolve();
    this.#pending = false;
    this.#urgent = false;
    this.#lastSentAt = Date.now();
    this.#sending = (async () => {
      try {
        await this.#o.send();
        this.#sent++;
      } catch (err) {
        this.#pending = true;
        this.#o.onError?.(err);
      } finally {
        this.#sending = undefined;
        if (this.#pending && !this.#closed) {
          this.#schedule(this.#urgent ? Date.now() + this.#promptMs : Math.max(Date.now(), this.#lastSentAt + this.#o.intervalMs));
        }
      }
    })();
    return this.#sending;
  }
}
