/**
 * The inference config (`ferry.yaml`, `.yml` or `.json`): which registered models a scoring service
 * serves, with an optional entry script, request/response samples, user settings and runtime limits.
 */

export interface RuntimeOptions {
  /**
   * onnxruntime intra-op threads per session. No-code default: the cores divided by `workers` (1 when
   * neither is set). Entry scripts: onnxruntime's default (one per core).
   */
  threads?: number;
  /**
   * Worker threads that run sessions / entry-script instances. No-code default: the cores divided by
   * `threads`, at most 4 (one single-threaded session per core when neither is set). Entry scripts: 1.
   */
  workers?: number;
  /** No-code mode: most requests run together as one batch when the first dimension is symbolic (default 8; 1 disables). */
  maxBatchSize?: number;
  /** No-code mode: how long a free worker waits for more requests to fill a batch (default 0: no waiting). */
  batchWindowMs?: number;
  /** Per-request limit, queueing included (default 30000). */
  timeoutMs?: number;
  /** Requests scoring at once, all workers together (default workers × maxBatchSize). */
  maxConcurrent?: number;
  /** Requests waiting beyond maxConcurrent before new ones get FERRY_E_BUSY (default 64). */
  maxQueue?: number;
}

export interface InferenceConfig {
  /** Service name (Azure ML's model naming rule). */
  name: string;
  /** Model references, `name` or `name:version`; at least one. */
  models: string[];
  /** Absolute path of the entry script (.js, .mjs, .ts, .mts); absent in no-code mode. */
  entryScript?: string;
  /** A request body example (already loaded when the config named a .json file). */
  inputSample?: unknown;
  /** A response body example. */
  outputSample?: unknown;
  /** Free-form user settings, given to the entry script as `context.settings`. */
  settings?: Record<string, unknown>;
  runtime?: RuntimeOptions;
  /** The config file this came from, when it came from one. */
  source?: string;
}
