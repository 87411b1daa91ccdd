/**
 * The scoring worker thread: loads onnxruntime-node and one engine (no-code session or entry
 * script), reports ready, then answers one job at a time. onnxruntime-node's session.run blocks the
 * thread it runs on (ENVIRONMENT.md), which is why scoring lives here and not on the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MainToWorker, WireResult, WorkerSetup, WorkerToMain } from './worker-protocol.js';
import { toWireError } from './worker-protocol.js';
import { NoCodeEngine } from './no-code-engine.js';
import { EntryScriptEngine } from './entry-script-engine.js';
import { loadOnnxRuntime, useNativeFlags } from './native-guard.js';

const port = parentPort;
if (!port) throw new Error('scoring-worker.js runs as a worker thread only');
const setup = workerData as WorkerSetup;
useNativeFlags(setup.nativeFlags);

function post(msg: WorkerToMain, transfer: ArrayBuffer[] = []): void {
  try {
    port?.postMessage(msg, transfer);
  } catch {
    port?.postMessage(msg); // a buffer that cannot be transferred is copied instead
  }
}

async function start(): Promise<void> {
  let engine: NoCodeEngine | EntryScriptEngine;
  try {
    // Loading the binding is native work: the pool must not terminate this thread in the middle of it.
    const ort = await loadOnnxRuntime(() => import('onnxruntime-node'));
    engine = setup.mode === 'no-code' ? await NoCodeEngine.create(ort, setup) : await EntryScriptEngine.create(ort, setup);
  } catch (e) {
    post({ type: 'init-failed', error: toWireError(e, { code: 'FERRY_E_ENTRY_INIT_FAILED', prefix: 'The scoring worker failed to start: ' }) });
    return;
  }
  port?.on('message', (msg: MainToWorker) => {
    if (msg.type === 'close') {
      // Release native sessions while the thread is whole, then let it end on its own.
      void engine.close().finally(() => port?.close());
      return;
    }
    void engine.process(msg.items).then((results) => {
      const transfer: ArrayBuffer[] = [];
      for (const r of results) if (r.ok) transfer.push(r.body.buffer as ArrayBuffer);
      post({ type: 'done', id: msg.id, results }, transfer);
    }, (e: unknown) => {
      const error = toWireError(e, { code: 'FERRY_E_SCORING_FAILED', prefix: 'The scoring worker failed: ' });
      post({ type: 'done', id: msg.id, results: msg.items.map((): WireResult => ({ ok: false, error })) });
    });
  });
  post({ type: 'ready', info: engine.info });
}

void start();
