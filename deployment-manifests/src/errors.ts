/**
 * Coded errors of the deployment language (and the error machinery the simulator builds on, since
 * it may import only this package). Same shape as @ferry/module's: every error a user can meet has
 * a stable `FERRY_E_*` code, an HTTP status and a hint; docs/errors.md lists every code, and a test
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

/** True for any coded Ferry error, also one made by another package's copy of this class (structural check). */
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
 * The deployment language's catalogue (routes and conditions, message files).
 * Keep docs/errors.md ("Routes and manifests") in step: a test compares them.
 */
export const { catalogue: deploymentCatalogue, error: deploymentError } = defineCatalogue({
  FERRY_E_ROUTE_INVALID: { status: 400, hint: 'Fix the route at the line and column given (details.line, details.column); compare strings with strings and numbers with numbers (as_number(...) converts a property); the language is the IoT Hub routing query language as IoT Edge runs it.' },
  FERRY_E_ROUTE_MESSAGE_INVALID: { status: 400, hint: 'A message is a JSON object {"properties": {...}, "systemProperties": {...}, "body": <string or JSON value>} whose property values are strings.' },
  FERRY_E_MANIFEST_INVALID: { status: 400, hint: 'Fix the manifest at the JSON pointer given (details.pointer; for a route also details.line and details.column inside the route); details.errors lists every problem. The rules are those of SchemaStore\'s azure-iot-edge-deployment-2.0.json.' },
});
