/**
 * Coded errors. Every error a user can meet carries a stable `FERRY_E_*` code, a message that says
 * what happened and what to do, and an HTTP status where one applies. Each package declares its codes
 * in one catalogue (`defineCatalogue`); docs/errors.md lists every code of every catalogue, and a test
 * keeps the two in step. Tests assert on codes, never on message text.
 */

export interface CatalogueEntry {
  /** HTTP status to answer with when the error reaches an HTTP client. */
  readonly status: number;
  /** What the user should do about it; appended to the message. */
  readonly hint: string;
}

export type ErrorCode = `FERRY_E_${string}`;
export type Catalogue = Readonly<Record<ErrorCode, CatalogueEntry>>;

export interface FerryErrorOptions {
  cause?: unknown;
  /** Structured facts for machine-readable output (`--json`, HTTP bodies). */
  details?: Record<string, unknown>;
}

export class FerryError extends Error {
  override readonly name = 'FerryError';
  readonly code: ErrorCode;
  readonly status: number;
  /** What happened, without the hint. */
  readonly reason: string;
  readonly hint: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, reason: string, entry: CatalogueEntry, options: FerryErrorOptions = {}) {
    super(joinSentences(reason, entry.hint), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = entry.status;
    this.reason = reason;
    this.hint = entry.hint;
    this.details = options.details;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Readonly<Record<string, unknown>> } {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

function joinSentences(reason: string, hint: string): string {
  if (!hint) return reason;
  const sep = /[.!?:]$/.test(reason) ? ' ' : '. ';
  return `${reason}${sep}${hint}`;
}

/** True for any coded Ferry error, also one made by another copy of this module (structural check). */
export function isFerryError(e: unknown): e is FerryError {
  if (!(e instanceof Error)) return false;
  const { code, status } = e as Error & { code?: unknown; status?: unknown };
  return typeof code === 'string' && code.startsWith('FERRY_E_') && typeof status === 'number';
}

/** Declares a catalogue and returns it with a factory that only accepts its own codes. */
export function defineCatalogue<const C extends Catalogue>(catalogue: C): {
  catalogue: C;
  error: (code: keyof C & ErrorCode, reason: string, options?: FerryErrorOptions) => FerryError;
} {
  return {
    catalogue,
    error: (code, reason, options) => new FerryError(code, reason, catalogue[code] as CatalogueEntry, options),
  };
}

/**
 * The scoring runtime's catalogue (config, entry scripts, tensors, the HTTP service).
 * Keep docs/errors.md in step: a test compares them.
 */
export const { catalogue: scoringCatalogue, error: scoringError } = defineCatalogue({
  FERRY_E_MODEL_INVALID: { status: 422, hint: 'Check that the file is an ONNX model (a serialized onnx.ModelProto) and was copied whole; re-export it from the training framework if needed.' },
  FERRY_E_MODEL_NOT_FOUND: { status: 404, hint: 'Run `ferry model list` to see registered models and versions.' },
  FERRY_E_MODEL_REF_INVALID: { status: 400, hint: 'Write a model as `name` or `name:version`; names start with a letter or digit and use only letters, digits, `-`, `.` and `_` (at most 255 characters).' },
  // Scoring configuration and runtime (module/src/config, module/src/runtime)
  FERRY_E_CONFIG_NOT_FOUND: { status: 404, hint: 'Check the path of the inference config (ferry.yaml, .yml or .json).' },
  FERRY_E_CONFIG_INVALID: { status: 400, hint: 'Fix the field named in the message; the config keys are name, models, entryScript, inputSample, outputSample, settings and runtime.' },
  FERRY_E_ENTRY_SCRIPT_INVALID: { status: 500, hint: 'An entry script is an ES module (.js, .mjs, .ts, .mts) that exports a run(input, context) function and optionally init(context).' },
  FERRY_E_ENTRY_INIT_FAILED: { status: 500, hint: 'Fix the error thrown by init(context) in the entry script; the script\'s message is above.' },
  FERRY_E_MODEL_UNSUPPORTED: { status: 422, hint: 'No-code mode serves one ONNX model whose inputs are tensors of float32, float64, int32, int64, uint8 or bool; for anything else write an entry script.' },
  FERRY_E_REQUEST_MALFORMED: { status: 400, hint: 'Send a JSON object as the request body (Content-Type: application/json).' },
  FERRY_E_REQUEST_INVALID: { status: 400, hint: 'Fix the field at details.pointer (a JSON pointer into the request); GET /swagger.json describes the expected input.' },
  FERRY_E_BINARY_NOT_SUPPORTED: { status: 415, hint: 'Raw application/octet-stream bodies only feed no-code services of a single-input model; send JSON instead.' },
  FERRY_E_SCORING_FAILED: { status: 500, hint: 'The scoring function failed on this input; see the message, and the service log for the stack.' },
  FERRY_E_BUSY: { status: 503, hint: 'The service is at its concurrency and queue limits; retry after the Retry-After delay, or raise runtime.maxQueue / runtime.workers.' },
  FERRY_E_SHUTTING_DOWN: { status: 503, hint: 'The service is stopping; retry against a running instance.' },
  FERRY_E_SCORING_TIMEOUT: { status: 504, hint: 'The request did not finish within runtime.timeoutMs; send smaller inputs or raise the timeout.' },
  FERRY_E_SCORING_CANCELLED: { status: 499, hint: 'The caller gave up on the request before it was scored; nothing to do.' },
  FERRY_E_NOT_ACCEPTABLE: { status: 406, hint: 'Binary answers (Accept: application/octet-stream) come from no-code services of a model with one numeric output; accept application/json instead.' },
});
