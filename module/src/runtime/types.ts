/**
 * The scoring runtime's public types: what the HTTP service and the edge module program against.
 * Implementation: create-runtime.ts (main thread) and scoring-worker.ts (worker threads).
 */
import type { InferenceSession } from 'onnxruntime-node';
import type * as OrtModule from 'onnxruntime-node';
import type { ModelResolver, ResolvedModel } from '../model-ref.js';

/**
 * One scoring request. `score` takes ownership of `body`: when the Buffer spans its whole
 * ArrayBuffer (any body over 4 KiB assembled with Buffer.concat) that ArrayBuffer is transferred
 * to a worker thread without copying and is detached afterwards: do not read the Buffer again.
 */
export type ScoreRequest =
  /** A raw `application/json` body; parsed off the main thread. */
  | { kind: 'json-bytes'; body: Buffer }
  /** An already-parsed request object (e.g. from GET query parameters, see `inputFromQuery`). */
  | { kind: 'json'; value: unknown }
  /**
   * An `application/octet-stream` body for a single-input no-code model: raw little-endian
   * elements. `shape` is optional: by default the signature's shape with its one symbolic
   * dimension inferred (1-D when the model gives no shape).
   */
  | { kind: 'binary'; body: Buffer; shape?: readonly number[] };

export interface ScoreOptions {
  /** Aborting removes a queued request (rejects with FERRY_E_SCORING_CANCELLED); a running one finishes unobserved. */
  signal?: AbortSignal;
  /**
   * 'binary' (HTTP `Accept: application/octet-stream`): no-code models with one output answer with
   * the output tensor's raw little-endian bytes instead of JSON (`result.tensor` gives its name, type
   * and shape). Others refuse with FERRY_E_NOT_ACCEPTABLE (406). Default 'json'.
   */
  output?: 'json' | 'binary';
}

export interface ScoreResult {
  /** The response body (transferred from the worker, write it as is): UTF-8 JSON, or raw tensor bytes. */
  readonly body: Buffer;
  readonly contentType: 'application/json' | 'application/octet-stream';
  /** For binary answers: the output tensor the bytes are. */
  readonly tensor?: { name: string; elementType: string; dims: number[] };
  /** The body as a string (decoded on first access; meaningful for JSON answers). */
  readonly json: string;
  /** Time spent in the scoring function (entry script `run` or session.run of the batch), in ms: `x-ms-run-fn-exec-ms`. */
  readonly execMs: number;
}

export interface ScoringLimits {
  readonly timeoutMs: number;
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  readonly maxBatchSize: number;
  readonly workers: number;
}

export interface ScoringStats {
  /** Requests handed to workers and not answered yet. */
  inFlight: number;
  /** Requests waiting for a worker. */
  queued: number;
}

export interface SwaggerOptions {
  /** `host[:port]` the service is reached at (Swagger 2 `host`, OpenAPI 3 `servers`). */
  host?: string;
  /** Declare the bearer key security scheme (default true; false for `--auth none`). */
  auth?: boolean;
}

export interface ScoringRuntime {
  readonly name: string;
  readonly models: readonly ResolvedModel[];
  readonly mode: 'no-code' | 'entry-script';
  readonly limits: ScoringLimits;
  /** The OpenAPI 3 (`3`) or Swagger 2 (`2`) document of the service. */
  swagger(version: 2 | 3, opts?: SwaggerOptions): object;
  /**
   * Scores one request. Rejects with a FerryError: FERRY_E_REQUEST_MALFORMED (400),
   * FERRY_E_REQUEST_INVALID (400, `details.pointer`), FERRY_E_BINARY_NOT_SUPPORTED (415),
   * FERRY_E_SCORING_FAILED (500, `details.functionFailed`), FERRY_E_BUSY (503,
   * `details.retryAfterSeconds`), FERRY_E_SHUTTING_DOWN (503), FERRY_E_SCORING_TIMEOUT (504),
   * FERRY_E_SCORING_CANCELLED (499), FERRY_E_NOT_ACCEPTABLE (406, `output: 'binary'` unavailable).
   */
  score(req: ScoreRequest, opts?: ScoreOptions): Promise<ScoreResult>;
  stats(): ScoringStats;
  /** Refuses new work, waits for in-flight and queued work, then stops the workers. Idempotent. */
  close(): Promise<void>;
}

export interface CreateScoringRuntimeOptions {
  resolver: ModelResolver;
  /** How long past its timeout a busy worker may stay stuck before it is terminated and replaced (default 1000 ms). */
  terminateGraceMs?: number;
}

/** What an entry script's `init(context)` and `run(input, context)` receive. */
export interface EntryContext {
  /** `settings` from the inference config (an empty object when absent). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** The models this service was configured with. */
  readonly models: readonly ResolvedModel[];
  /**
   * Azure ML's get_model_path: the file of a one-file model, the folder of a folder model.
   * Without a version: the highest configured version of that name. Throws FERRY_E_MODEL_NOT_FOUND.
   */
  modelPath(name: string, version?: number): string;
  /** The onnxruntime-node module (script folders have no node_modules of their own). */
  readonly ort: typeof OrtModule;
  /** `ort.InferenceSession.create(path, options)` with the service's thread settings as defaults. */
  createSession(path: string, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
}

/** The module shape of an entry script. */
export interface EntryScript {
  init?(context: EntryContext): unknown;
  run(input: unknown, context: EntryContext): unknown;
}
