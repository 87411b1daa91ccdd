/**
 * The messages appended lately, by offset, kept in memory up to a byte budget (bodies plus a fixed cost
 * per message) so that `next` hands a message out without reading its row back (a 110 KB body read
 * from SQLite costs more than routing it).
 * Only committed messages are added; a message leaves when its row is deleted or, oldest first, when
 * the budget is exceeded (a backlog then reads its oldest messages from the file, as before).
 */
import type { Message } from './store-types.js';

/** Bytes kept by default. */
export const DEFAULT_RECENT_BYTES = 8 * 1024 * 1024;

/**
 * What one kept message costs besides its body (the entry, the message, two property bags), counted
 * against the budget so that small messages cannot pile up unbounded objects.
 */
export const ENTRY_OVERHEAD_BYTES = 1024;

export class RecentMessages {
  readonly #maxBytes: number;
  /** Insertion order is offset order: the first entry is the oldest. */
  readonly #byOffset = new Map<number, Message>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get size(): number {
    return this.#byOffset.size;
  }

  /** Body bytes plus ENTRY_OVERHEAD_BYTES per message. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Keeps a committed message (its property bags copied, so later changes by the caller do not leak in). */
  add(offset: number, message: Message): void {
    const cost = message.body.byteLength + ENTRY_OVERHEAD_BYTES;
    if (cost > this.#maxBytes) return;
    this.#byOffset.set(offset, {
      properties: Object.freeze({ ...message.properties }),
      systemProperties: Object.freeze({ ...message.systemProperties }),
      body: message.body,
      enqueuedAt: message.enqueuedAt,
    });
    this.#bytes += cost;
    for (const [oldest, m] of this.#byOffset) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#byOffset.delete(oldest);
      this.#bytes -= m.body.byteLength + ENTRY_OVERHEAD_BYTES;
    }
  }

  get(offset: number): Message | undefined {
    return this.#byOffset.get(offset);
  }

  delete(offset: number): void {
    const m = this.#byOffset.get(offset);
    if (!m) return;
    this.#byOffset.delete(offset);
    this.#bytes -= m.body.byteLength + ENTRY_OVERHEAD_BYTES;
  }
}
