/**
 * Messages between the main thread (worker-pool.ts) and the scoring workers (scoring-worker.ts).
 * Request and response bodies travel as transferred ArrayBuffers (no copies).
 */
import { FerryError, isFerryError, scoringCatalogue } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { ResolvedModel } from '../model-ref.js';
import type { ValueSignature } from '../onnx/model-info.js';
import type { JsonSchema } from '../openapi/service-schema.js';

/** Given to every worker as workerData. */
export interface WorkerSetup {
  mode: 'no-code' | 'entry-script';
  models: ResolvedModel[];
  /** No-code: the .onnx file to load. */
  onnxFile?: string;
  /** Entry-script mode: the script file, and its transpiled code for TypeScript scripts. */
  entryScript?: string;
  entryCode?: string;
  settings: Record<string, unknown>;
  /** Entry-script mode with an input sample: requests are validated against it (ajv). */
  inputSchema?: JsonSchema;
  /** onnxruntime intra-op threads (undefined: onnxruntime's default). */
  threads?: number;
  maxBatchSize: number;
  /** Per worker: the native-call flags of native-guard.ts. */
  nativeFlags?: SharedArrayBuffer;
}

export type WireItem = (
  | { kind: 'json-bytes'; body: Uint8Array }
  | { kind: 'json'; value: unknown }
  | { kind: 'binary'; body: Uint8Array; shape?: number[] }
) & { output?: 'binary' };

export interface TensorInfo {
  name: string;
  elementType: string;
  dims: number[];
}

export type WireResult =
  | { ok: true; body: Uint8Array; execMs: number; tensor?: TensorInfo }
  | { ok: false; error: WireError };

export interface WireError {
  code: string;
  reason: string;
  details?: Record<string, unknown>;
  stack?: string;
}

export interface ReadyInfo {
  /** No-code mode: the session's signature. */
  inputs?: ValueSignature[];
  outputs?: ValueSignature[];
  /** Requests may run together as one batch. */
  batchable: boolean;
}

export type MainToWorker =
  | { type: 'job'; id: number; items: WireItem[] }
  /** Release every onnxruntime session and end the thread: terminating a thread that still holds sessions can abort the process. */
  | { type: 'close' };

export type WorkerToMain =
  | { type: 'ready'; info: ReadyInfo }
  | { type: 'init-failed'; error: WireError }
  | { type: 'done'; id: number; results: WireResult[] };

/** Output kinds a no-code binary answer can carry (fixed-size little-endian elements). */
export const BINARY_OUTPUT_TYPES: ReadonlySet<string> = new Set(['float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'bool', 'float16']);

export function toWireError(e: unknown, fallback: { code: ErrorCode; prefix: string; details?: Record<string, unknown> }): WireError {
  if (isFerryError(e)) {
    const fe = e as FerryError;
    return { code: fe.code, reason: fe.reason ?? fe.message, ...(fe.details ? { details: { ...fe.details } } : {}), ...(fe.stack ? { stack: fe.stack } : {}) };
  }
  const message = e instanceof Error ? e.message : String(e);
  return {
    code: fallback.code,
    reason: `${fallback.prefix}${message}`,
    ...(fallback.details ? { details: fallback.details } : {}),
    ...(e instanceof Error && e.stack ? { stack: e.stack } : {}),
  };
}

export function fromWireError(w: WireError): FerryError {
  const entry = scoringCatalogue[w.code as keyof typeof scoringCatalogue] ?? scoringCatalogue.FERRY_E_SCORING_FAILED;
  const code = (w.code in scoringCatalogue ? w.code : 'FERRY_E_SCORING_FAILED') as ErrorCode;
  const err = new FerryError(code, w.reason, entry, w.details ? { details: w.details } : {});
  if (w.stack) err.stack = `${err.name}: ${err.message}\n    (in a scoring worker)\n${w.stack}`;
  return err;
}
