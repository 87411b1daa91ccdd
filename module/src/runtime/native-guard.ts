/**
 * Terminating a worker thread while onnxruntime-node is inside native work (creating a session or
 * running one) aborts the whole process ("terminate called after throwing an instance of
 * 'Napi::Error'": the native completion lands in a torn-down environment; reproduced with
 * onnxruntime-node 1.30). So every native call in a worker goes through `inNative`, and the pool
 * terminates a worker only through `terminateWorker`, which first forbids new native work, then waits
 * until none is running. The handshake uses two shared counters with sequentially consistent atomics:
 * the worker announces before it checks, the pool forbids before it checks, so one always sees the other.
 */
import type { Worker } from 'node:worker_threads';

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

/** Worker thread: runs a native onnxruntime call; never starts one once the pool is terminating this worker. */
export async function inNative<T>(call: () => Promise<T>): Promise<T> {
  const flags = workerFlags;
  if (!flags) return call();
  Atomics.add(flags, BUSY, 1);
  if (Atomics.load(flags, STOP) === 1) {
    Atomics.sub(flags, BUSY, 1);
    return new Promise<T>(() => {}); // the thread is about to be terminated
  }
  try {
    return await call();
  } finally {
    Atomics.sub(flags, BUSY, 1);
  }
}

/** Main thread: terminates a worker once no native call is running in it (waiting for a running one to finish). */
export async function terminateWorker(worker: Worker, flags: SharedArrayBuffer): Promise<void> {
  const view = new Int32Array(flags);
  Atomics.store(view, STOP, 1);
  while (Atomics.load(view, BUSY) !== 0) await new Promise((r) => setTimeout(r, 10));
  await worker.terminate();
}
