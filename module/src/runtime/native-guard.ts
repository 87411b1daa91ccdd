/**
 * Terminating a worker thread while onnxruntime-node is inside native work (creating a session or
 * running one) aborts the whole process ("terminate called after throwing an instance of
 * 'Napi::Error'": the native completion lands in a torn-down environment; reproduced with
 * onnxruntime-node 1.30). So every native call in a worker goes through `inNative`, and the pool
 * terminates a worker only through `terminateWorker`, which first forbids new native work, then waits
 * until none is running. The handshake uses two shared counters with sequentially consistent atomics:
 * the worker announces before it checks, the pool forbids before it checks, so one always sees the other.
 * Loading the binding is native work too: a worker terminated while importing onnxruntime-node aborts
 * in the binding's module registration (napi_register_module_v1, seen in a core dump of a vitest fork).
 * Process exit tears workers down as well, so an 'exit' handler waits for the running native calls.
 */
import type { Worker } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';

const BUSY = 0;
const STOP = 1;

/** Main thread: the flags a new worker gets in its workerData. */
export function createNativeFlags(): SharedArrayBuffer {
  return new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
}

let workerFlags: Int32Array | undefined;

/** Worker thread: adopt the flags the pool gave this worker. */
export function useNativeFlags(flags: SharedArrayBuffer | undefined): void {
  workerFlags = flags ? new Int32Array(flags) : undefined;
}

/** This thread's native calls admitted and not yet over (the thread's own count: one JS thread touches it). */
let admitted = 0;

/**
 * Worker thread: runs a native onnxruntime call; never starts one once the pool is terminating this worker.
 * A call made while another is admitted (a nested one: the session calls are guarded themselves, and the
 * engines guard them again) goes ahead even when the pool has asked to stop: the pool is then still
 * waiting for the admitted one, and parking the nested call would keep that one running forever.
 */
export async function inNative<T>(call: () => Promise<T>): Promise<T> {
  const flags = workerFlags;
  if (!flags) return call();
  Atomics.add(flags, BUSY, 1);
  if (admitted === 0 && Atomics.load(flags, STOP) === 1) {
    Atomics.sub(flags, BUSY, 1);
    return new Promise<T>(() => {}); // the thread is about to be terminated
  }
  admitted++;
  try {
    return await call();
  } finally {
    admitted--;
    Atomics.sub(flags, BUSY, 1);
  }
}

/** Worker thread: imports onnxruntime-node as native work, and routes every session call of this thread through `inNative`. */
export async function loadOnnxRuntime(load: () => Promise<typeof Ort>): Promise<typeof Ort> {
  const ort = await inNative(load);
  guardSessions(ort);
  return ort;
}

type SessionClass = {
  create: (...args: unknown[]) => Promise<unknown>;
  prototype: { run: (...args: unknown[]) => Promise<unknown>; release: () => Promise<void> };
};

const guarded = new WeakSet<object>();

/**
 * Creating, running and releasing any session of this thread goes through `inNative`, including
 * sessions an entry script makes itself with `context.ort` or its own import of onnxruntime-node
 * (the same module instance when it resolves to Ferry's copy, as a TypeScript script always does):
 * the pool may terminate a worker whose script is inside `session.run` (a timeout), and only the
 * guard makes it wait.
 */
function guardSessions(ort: typeof Ort): void {
  const S = ort.InferenceSession as unknown as SessionClass;
  if (guarded.has(S)) return;
  guarded.add(S);
  const { create } = S;
  const { run, release } = S.prototype;
  S.create = function (this: unknown, ...args: unknown[]) { return inNative(() => create.apply(this, args)); };
  S.prototype.run = function (this: unknown, ...args: unknown[]) { return inNative(() => run.apply(this, args)); };
  S.prototype.release = function (this: unknown) { return inNative(() => release.apply(this)); };
}

/** Main thread: terminates a worker once no native call is running in it (waiting for a running one to finish). */
export async function terminateWorker(worker: Worker, flags: SharedArrayBuffer): Promise<void> {
  const view = new Int32Array(flags);
  Atomics.store(view, STOP, 1);
  while (Atomics.load(view, BUSY) !== 0) await new Promise((r) => setTimeout(r, 10));
  await worker.terminate();
}

/** The flags of every worker thread of this process that has not exited yet (main thread). */
const live = new Set<Int32Array>();
let exitHooked = false;

/** Longest a process exit waits for the native calls running in worker threads. */
const EXIT_WAIT_MS = 10_000;

/**
 * Main thread: registers a new worker until it exits. Process exit (process.exit(), a second signal)
 * tears worker threads down wherever they are, so one inside session.run would abort the process on
 * its way out; the exit handler below forbids new native calls and waits for the running ones first.
 */
export function watchWorker(worker: Worker, flags: SharedArrayBuffer): void {
  const view = new Int32Array(flags);
  live.add(view);
  worker.once('exit', () => live.delete(view));
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', waitForNativeCalls);
  }
}

/** 'exit' handlers run synchronously: block (Atomics.wait) until no worker is inside native code. */
function waitForNativeCalls(): void {
  for (const view of live) Atomics.store(view, STOP, 1);
  const deadline = performance.now() + EXIT_WAIT_MS;
  for (const view of live) {
    for (let busy = Atomics.load(view, BUSY); busy !== 0 && performance.now() < deadline; busy = Atomics.load(view, BUSY)) {
      Atomics.wait(view, BUSY, busy, 5);
    }
  }
}
