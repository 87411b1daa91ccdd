/**
 * The main thread's side of scoring: a bounded queue in front of a fixed set of worker threads.
 * Each free worker takes the oldest queued requests (up to maxBatchSize when the model batches) as
 * one job. Every request has a deadline (504 on expiry); a worker still busy past the last deadline
 * of its job plus a grace period is terminated and replaced, so a script that never returns cannot
 * wedge the service.
 */
import { Worker } from 'node:worker_threads';
import { scoringError } from '../errors.js';
import type { FerryError } from '../errors.js';
import type { ScoreResult, ScoringStats } from './types.js';
import type { MainToWorker, ReadyInfo, TensorInfo, WireItem, WireResult, WorkerSetup, WorkerToMain } from './worker-protocol.js';
import { fromWireError } from './worker-protocol.js';
import { createNativeFlags, terminateWorker, watchWorker } from './native-guard.js';

export interface PoolLimits {
  workers: number;
  timeoutMs: number;
  maxConcurrent: number;
  maxQueue: number;
  maxBatchSize: number;
  batchWindowMs: number;
  terminateGraceMs: number;
}

interface Pending {
  item: WireItem;
  transfer: ArrayBuffer[];
  enqueuedAt: number;
  /** Time since the request before it arrived (Infinity for the first). */
  gapBefore: number;
  /** A lone arrival has waited one event-loop turn for requests sent together with it. */
  turnPassed: boolean;
  deadline: number;
  timer: NodeJS.Timeout;
  state: 'queued' | 'running' | 'settled';
  resolve: (r: ScoreResult) => void;
  reject: (e: FerryError) => void;
  unlisten: (() => void) | undefined;
}

interface Slot {
  worker: Worker | undefined;
  /** The running worker's native-call flags (see native-guard.ts). */
  flags: SharedArrayBuffer;
  state: 'starting' | 'idle' | 'busy' | 'down';
  job: { id: number; entries: Pending[] } | undefined;
  watchdog: NodeJS.Timeout | undefined;
  restarts: number;
}

const decoder = new TextDecoder();

function makeResult(body: Uint8Array, execMs: number, tensor: TensorInfo | undefined): ScoreResult {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let json: string | undefined;
  if (tensor) return { body: buf, execMs, contentType: 'application/octet-stream', tensor, get json() { return (json ??= decoder.decode(buf)); } };
  return { body: buf, execMs, contentType: 'application/json', get json() { return (json ??= decoder.decode(buf)); } };
}

export class WorkerPool {
  readonly #script: URL;
  readonly #setup: WorkerSetup;
  readonly #limits: PoolLimits;
  readonly #slots: Slot[] = [];
  #queue: Pending[] = [];
  #head = 0;
  #queued = 0;
  #inFlight = 0;
  #nextJob = 1;
  #batchable = false;
  #windowTimer: NodeJS.Timeout | undefined;
  #lastArrival = -Infinity;
  #turnWait: NodeJS.Immediate | undefined;
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  /** Workers being terminated in the background (init failed, stuck): close() and a failed start() wait for them. */
  readonly #ending = new Set<Promise<void>>();
  /** Moving average of service time per request, for Retry-After. */
  #msPerRequest = 10;

  constructor(script: URL, setup: WorkerSetup, limits: PoolLimits) {
    this.#script = script;
    this.#setup = setup;
    this.#limits = limits;
  }

  /** Starts every worker; rejects with the first start error (and stops the others). */
  async start(): Promise<ReadyInfo> {
    const starts: Promise<ReadyInfo>[] = [];
    for (let i = 0; i < this.#limits.workers; i++) {
      const slot: Slot = { worker: undefined, flags: createNativeFlags(), state: 'down', job: undefined, watchdog: undefined, restarts: 0 };
      this.#slots.push(slot);
      starts.push(this.#spawn(slot));
    }
    try {
      const infos = await Promise.all(starts);
      const info = infos[0] as ReadyInfo;
      this.#batchable = info.batchable && this.#limits.maxBatchSize > 1;
      return info;
    } catch (e) {
      // Detach every worker first, so that none that ends now is taken for a lost one and replaced. Ready ones
      // release their sessions and end; starting ones (possibly still loading onnxruntime) are terminated once
      // out of native code.
      await Promise.allSettled(this.#slots.map((s) => {
        const w = s.worker;
        const ready = s.state === 'idle';
        s.worker = undefined;
        s.state = 'down';
        if (!w) return undefined;
        return ready ? closeWorker(w, s.flags) : terminateWorker(w, s.flags);
      }));
      await this.#allEnded();
      throw e;
    }
  }

  stats(): ScoringStats {
    return { inFlight: this.#inFlight, queued: this.#queued };
  }

  submit(item: WireItem, transfer: ArrayBuffer[], signal?: AbortSignal): Promise<ScoreResult> {
    if (this.#closing) return Promise.reject(scoringError('FERRY_E_SHUTTING_DOWN', 'The scoring service is shutting down'));
    if (signal?.aborted) return Promise.reject(scoringError('FERRY_E_SCORING_CANCELLED', 'The request was cancelled before it was scored'));
    const { maxConcurrent, maxQueue, timeoutMs } = this.#limits;
    if (this.#inFlight + this.#queued >= maxConcurrent + maxQueue) {
      const retryAfterSeconds = Math.min(60, Math.max(1, Math.ceil(((this.#queued + this.#inFlight) * this.#msPerRequest) / this.#limits.workers / 1000)));
      return Promise.reject(scoringError('FERRY_E_BUSY', `The service is busy: ${this.#inFlight} requests scoring and ${this.#queued} queued (runtime.maxQueue is ${maxQueue})`, { details: { retryAfterSeconds } }));
    }
    return new Promise<ScoreResult>((resolve, reject) => {
      const now = performance.now();
      const gapBefore = now - this.#lastArrival;
      this.#lastArrival = now;
      const p: Pending = {
        item, transfer, enqueuedAt: now, gapBefore, turnPassed: false, deadline: now + timeoutMs, state: 'queued', resolve, reject, unlisten: undefined,
        timer: setTimeout(() => this.#expire(p), timeoutMs),
      };
      if (signal) {
        const onAbort = (): void => {
          if (p.state !== 'queued') return;
          this.#settleQueued(p);
          p.reject(scoringError('FERRY_E_SCORING_CANCELLED', 'The request was cancelled before it was scored'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        p.unlisten = () => signal.removeEventListener('abort', onAbort);
      }
      this.#queue.push(p);
      this.#queued++;
      this.#pump();
    });
  }

  /** Refuses new work, lets queued and running work finish, then stops the workers. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#queued > 0 || this.#inFlight > 0) await new Promise<void>((r) => { this.#drained = r; });
      if (this.#windowTimer) clearTimeout(this.#windowTimer);
      if (this.#turnWait) clearImmediate(this.#turnWait);
      await Promise.allSettled(this.#slots.map(async (s) => {
        if (s.watchdog) clearTimeout(s.watchdog);
        const w = s.worker;
        s.state = 'down';
        s.worker = undefined;
        if (w) await closeWorker(w, s.flags);
      }));
      // A worker still being terminated (a stuck job's) may be inside native code: the process must not exit before it ends.
      await this.#allEnded();
    })();
    return this.#closing;
  }

  #spawn(slot: Slot): Promise<ReadyInfo> {
    slot.state = 'starting';
    slot.flags = createNativeFlags();
    const flags = slot.flags;
    const worker = new Worker(this.#script, { workerData: { ...this.#setup, nativeFlags: flags } satisfies WorkerSetup });
    slot.worker = worker;
    watchWorker(worker, flags);
    return new Promise<ReadyInfo>((resolve, reject) => {
      let ready = false;
      worker.on('message', (msg: WorkerToMain) => {
        if (slot.worker !== worker) return;
        switch (msg.type) {
          case 'ready':
            ready = true;
            slot.state = 'idle';
            slot.restarts = 0;
            resolve(msg.info);
            this.#pump();
            return;
          case 'init-failed':
            reject(fromWireError(msg.error));
            slot.worker = undefined;
            slot.state = 'down';
            void this.#track(terminateWorker(worker, flags));
            return;
          case 'done':
            this.#finish(slot, msg.id, msg.results);
            return;
        }
      });
      worker.on('error', (e) => {
        if (slot.worker !== worker) return;
        if (!ready) reject(scoringError('FERRY_E_ENTRY_INIT_FAILED', `The scoring worker failed to start: ${e.message}`, { cause: e }));
        else this.#lost(slot, `the scoring worker failed: ${e.message}`);
      });
      worker.on('exit', (code) => {
        if (slot.worker !== worker) return;
        if (!ready) reject(scoringError('FERRY_E_ENTRY_INIT_FAILED', `The scoring worker exited with code ${code} while starting`));
        else this.#lost(slot, `the scoring worker exited with code ${code}`);
      });
    });
  }

  /** A worker died on its own: fail its job, start another one. */
  #lost(slot: Slot, why: string): void {
    const job = slot.job;
    slot.job = undefined;
    slot.worker = undefined;
    if (slot.watchdog) clearTimeout(slot.watchdog);
    if (job) this.#failJob(job.entries, () => scoringError('FERRY_E_SCORING_FAILED', `The request was lost: ${why}`, { details: { functionFailed: false } }));
    this.#replace(slot);
  }

  #replace(slot: Slot): void {
    slot.state = 'down';
    if (this.#closing && this.#inFlight === 0 && this.#queued === 0) return;
    const delay = slot.restarts === 0 ? 0 : Math.min(30_000, 500 * 2 ** (slot.restarts - 1));
    slot.restarts++;
    setTimeout(() => {
      if (slot.state !== 'down' || (this.#closing && this.#queued === 0)) return;
      // A failed restart (init throws this time) is retried with backoff; queued work waits or times out.
      this.#spawn(slot).catch(() => this.#replace(slot));
    }, delay).unref();
  }

  #expire(p: Pending): void {
    if (p.state === 'settled') return;
    if (p.state === 'queued') this.#settleQueued(p);
    else { p.state = 'settled'; p.unlisten?.(); }
    p.reject(scoringError('FERRY_E_SCORING_TIMEOUT', `The request was not answered within ${this.#limits.timeoutMs} ms`, { details: { timeoutMs: this.#limits.timeoutMs } }));
  }

  #settleQueued(p: Pending): void {
    p.state = 'settled';
    clearTimeout(p.timer);
    p.unlisten?.();
    this.#queued--;
    this.#checkDrained();
  }

  #pump(): void {
    const { maxConcurrent, maxBatchSize, batchWindowMs } = this.#limits;
    while (this.#queued > 0 && this.#inFlight < maxConcurrent) {
      const slot = this.#slots.find((s) => s.state === 'idle');
      if (!slot) return;
      const room = Math.min(this.#batchable ? maxBatchSize : 1, maxConcurrent - this.#inFlight);
      if (this.#batchable && batchWindowMs > 0 && this.#queued < room && !this.#closing) {
        // Requests that come close together wait (at most batchWindowMs after the oldest arrived) for the batch
        // to fill. One that came alone (its predecessor more than a window earlier) waits only for the rest of
        // its event-loop turn (requests sent together, e.g. from one network read): at a low rate, waiting the
        // whole window would add it to every request and batch nothing.
        const oldest = this.#peek();
        if (oldest && oldest.gapBefore > batchWindowMs) {
          if (!oldest.turnPassed) {
            this.#turnWait ??= setImmediate(() => {
              this.#turnWait = undefined;
              oldest.turnPassed = true;
              this.#pump();
            });
            return;
          }
        } else if (oldest) {
          const wait = oldest.enqueuedAt + batchWindowMs - performance.now();
          if (wait > 0) {
            this.#windowTimer ??= setTimeout(() => { this.#windowTimer = undefined; this.#pump(); }, wait);
            return;
          }
        }
      }
      const entries: Pending[] = [];
      while (entries.length < room) {
        const p = this.#take();
        if (!p) break;
        entries.push(p);
      }
      if (entries.length === 0) return;
      this.#dispatch(slot, entries);
    }
  }

  #peek(): Pending | undefined {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const p = this.#queue[i] as Pending;
      if (p.state === 'queued') return p;
    }
    return undefined;
  }

  #take(): Pending | undefined {
    while (this.#head < this.#queue.length) {
      const p = this.#queue[this.#head] as Pending;
      this.#queue[this.#head] = undefined as unknown as Pending;
      this.#head++;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      if (p.state === 'queued') {
        p.state = 'running';
        this.#queued--;
        return p;
      }
    }
    return undefined;
  }

  #dispatch(slot: Slot, entries: Pending[]): void {
    const id = this.#nextJob++;
    slot.state = 'busy';
    slot.job = { id, entries };
    this.#inFlight += entries.length;
    const items = entries.map((p) => p.item);
    const transfer = entries.flatMap((p) => p.transfer);
    try {
      slot.worker?.postMessage({ type: 'job', id, items }, transfer);
    } catch {
      // A buffer that cannot be transferred (e.g. from Node's pool) is copied instead.
      slot.worker?.postMessage({ type: 'job', id, items });
    }
    for (const p of entries) { p.item = undefined as unknown as WireItem; p.transfer = []; }
    const lastDeadline = Math.max(...entries.map((p) => p.deadline));
    slot.watchdog = setTimeout(() => this.#stuck(slot, id), Math.max(0, lastDeadline - performance.now()) + this.#limits.terminateGraceMs);
  }

  #finish(slot: Slot, id: number, results: WireResult[]): void {
    const job = slot.job;
    if (!job || job.id !== id) return;
    if (slot.watchdog) clearTimeout(slot.watchdog);
    slot.job = undefined;
    slot.state = 'idle';
    this.#inFlight -= job.entries.length;
    let execMs = 0;
    job.entries.forEach((p, i) => {
      const r = results[i];
      if (r?.ok) execMs = Math.max(execMs, r.execMs);
      if (p.state === 'settled') return;
      p.state = 'settled';
      clearTimeout(p.timer);
      p.unlisten?.();
      if (!r) p.reject(scoringError('FERRY_E_SCORING_FAILED', 'The scoring worker gave no answer for this request', { details: { functionFailed: false } }));
      else if (r.ok) p.resolve(makeResult(r.body, r.execMs, r.tensor));
      else p.reject(fromWireError(r.error));
    });
    this.#msPerRequest = 0.8 * this.#msPerRequest + 0.2 * (execMs / Math.max(1, job.entries.length));
    this.#checkDrained();
    this.#pump();
  }

  /** The job outlived every deadline plus the grace period: terminate the worker and start a new one. */
  #stuck(slot: Slot, id: number): void {
    const job = slot.job;
    if (!job || job.id !== id) return;
    const worker = slot.worker;
    const flags = slot.flags;
    slot.worker = undefined;
    slot.job = undefined;
    slot.watchdog = undefined;
    this.#failJob(job.entries, () => scoringError('FERRY_E_SCORING_TIMEOUT', `The request was not answered within ${this.#limits.timeoutMs} ms`, { details: { timeoutMs: this.#limits.timeoutMs } }));
    slot.state = 'down';
    void this.#track(worker ? terminateWorker(worker, flags) : Promise.resolve()).then(() => this.#replace(slot));
  }

  /** Keeps a background termination until it is over. */
  #track(ending: Promise<void>): Promise<void> {
    const p = ending.catch(() => undefined);
    this.#ending.add(p);
    void p.then(() => this.#ending.delete(p));
    return p;
  }

  async #allEnded(): Promise<void> {
    while (this.#ending.size > 0) await Promise.allSettled([...this.#ending]);
  }

  #failJob(entries: Pending[], error: () => FerryError): void {
    this.#inFlight -= entries.length;
    for (const p of entries) {
      if (p.state === 'settled') continue;
      p.state = 'settled';
      clearTimeout(p.timer);
      p.unlisten?.();
      p.reject(error());
    }
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (this.#drained && this.#queued === 0 && this.#inFlight === 0) {
      const d = this.#drained;
      this.#drained = undefined;
      d();
    }
  }
}

/** How long a worker may take to release its sessions and end before it is terminated. */
const CLOSE_GRACE_MS = 5_000;

/**
 * Ends a worker that is not stuck: it releases its onnxruntime sessions and ends its thread itself
 * (terminating a thread that still holds native sessions can abort the whole process when their
 * finalizers run during the thread's teardown). terminate() only if it does not end in time.
 */
function closeWorker(worker: Worker, flags: SharedArrayBuffer): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => { void terminateWorker(worker, flags).finally(resolve); }, CLOSE_GRACE_MS);
    worker.once('exit', () => { clearTimeout(timer); resolve(); });
    try {
      worker.postMessage({ type: 'close' } satisfies MainToWorker);
    } catch {
      clearTimeout(timer);
      void terminateWorker(worker, flags).finally(resolve);
    }
  });
}
