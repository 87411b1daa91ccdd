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
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code.startsWith('FERRY_E_')
    && typeof (e as { status?: unknown }).status === 'number';
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
});
