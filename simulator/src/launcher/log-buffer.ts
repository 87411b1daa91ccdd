/**
 * A module's recent output: a ring buffer of the last N lines, each numbered, and a follow mode that
 * streams new lines as they arrive (what `ferry logs <module> -f` prints).
 */

/** `launcher` lines are the launcher's own notes about the module (started, exited, restarting). */
export type LogStream = 'stdout' | 'stderr' | 'launcher';

export interface LogLine {
  /** Position in the module's output since the launcher started it, from 0; gaps mean lines fell out of the buffer. */
  readonly seq: number;
  /** When the launcher read the line (ISO 8601). */
  readonly time: string;
  readonly stream: LogStream;
  readonly text: string;
}

export interface FollowOptions {
  /** The first line to yield; default: the oldest line still buffered. */
  readonly fromSeq?: number;
  /** Ends the iteration when aborted. */
  readonly signal?: AbortSignal;
}

export class LogBuffer {
  readonly #ring: (LogLine | undefined)[];
  #next = 0;
  #closed = false;
  readonly #waiters = new Set<() => void>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`log buffer capacity must be a positive integer, got ${capacity}`);
    this.#ring = new Array<LogLine | undefined>(capacity);
  }

  get capacity(): number {
    return this.#ring.length;
  }

  /** The seq the next line will get. */
  get nextSeq(): number {
    return this.#next;
  }

  /** The seq of the oldest line still buffered. */
  get firstSeq(): number {
    return Math.max(0, this.#next - this.#ring.length);
  }

  push(stream: LogStream, text: string, now: Date = new Date()): LogLine {
    const line: LogLine = { seq: this.#next, time: now.toISOString(), stream, text };
    this.#ring[this.#next % this.#ring.length] = line;
    this.#next++;
    this.#wake();
    return line;
  }

  /** Buffered lines with seq >= `fromSeq`, oldest first. */
  since(fromSeq = 0): LogLine[] {
    const out: LogLine[] = [];
    for (let seq = Math.max(fromSeq, this.firstSeq); seq < this.#next; seq++) {
      const line = this.#ring[seq % this.#ring.length];
      if (line) out.push(line);
    }
    return out;
  }

  /** Ends every follower once it has read what is buffered; later pushes are still kept. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  /** Yields buffered lines from `fromSeq`, then new lines as they come, until aborted or closed. */
  async *follow(options: FollowOptions = {}): AsyncGenerator<LogLine, void, undefined> {
    let cursor = options.fromSeq ?? this.firstSeq;
    const { signal } = options;
    for (;;) {
      for (const line of this.since(cursor)) {
        if (signal?.aborted) return;
        cursor = line.seq + 1;
        yield line;
      }
      if (this.#next > cursor) continue; // lines came while the consumer held the last one
      if (this.#closed || signal?.aborted) return;
      await this.#changed(signal);
    }
  }

  #changed(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
