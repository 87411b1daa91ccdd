/**
 * An append-only JSON Lines file written by group commit: lines queued while a write is in progress go out
 * together in the next write, so scoring never waits for the disk unless more than `highWaterBytes` are
 * queued. Only whole lines are queued, so the file only ever holds whole lines, except after a crash inside
 * a write, where the last one may be torn (batch-output.ts repairs that on resume).
 */
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { isFerryError } from '@ferry/module';
import { clientError } from './errors.js';

export class LineAppender {
  readonly path: string;
  #highWaterBytes: number;
  #handle: Promise<FileHandle> | undefined;
  #queued: string[] = [];
  #queuedBytes = 0;
  #flushing: Promise<void> | undefined;
  #failure: unknown;

  constructor(path: string, highWaterBytes = 1_048_576) {
    this.path = path;
    this.#highWaterBytes = highWaterBytes;
  }

  /** Opens the file now (it is otherwise opened on the first line); throws FERRY_E_BATCH_OUTPUT_UNWRITABLE. */
  async open(): Promise<void> {
    await this.#open();
  }

  /** Queues one line (`line` must end with `\n`). Resolves at once, or once written when too much is queued. */
  append(line: string): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    this.#queued.push(line);
    this.#queuedBytes += line.length;
    if (!this.#flushing) {
      this.#flushing = this.#flush();
      this.#flushing.catch(() => undefined);
    }
    return this.#queuedBytes > this.#highWaterBytes ? this.#flushing : Promise.resolve();
  }

  /** Writes what is queued and closes the file; throws the first write failure, if any. */
  async close(): Promise<void> {
    await this.#flushing?.catch(() => undefined);
    if (this.#handle) await (await this.#handle.catch(() => undefined))?.close();
    if (this.#failure !== undefined) throw this.#failure;
  }

  #open(): Promise<FileHandle> {
    this.#handle ??= open(this.path, 'a').catch((e: unknown) => {
      throw clientError('FERRY_E_BATCH_OUTPUT_UNWRITABLE', `Cannot open ${this.path} for appending.`, { cause: e, details: { path: this.path } });
    });
    return this.#handle;
  }

  async #flush(): Promise<void> {
    try {
      const handle = await this.#open();
      while (this.#queued.length > 0) {
        const text = this.#queued.join('');
        this.#queued = [];
        this.#queuedBytes = 0;
        await handle.appendFile(text);
      }
    } catch (e) {
      this.#failure ??= isFerryError(e)
        ? e
        : clientError('FERRY_E_BATCH_OUTPUT_UNWRITABLE', `Appending to ${this.path} failed.`, { cause: e, details: { path: this.path } });
      throw this.#failure;
    } finally {
      this.#flushing = undefined;
    }
  }
}
