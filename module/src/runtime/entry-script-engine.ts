/**
 * Entry-script mode inside a worker: imports the user's script, calls `init(context)` once and
 * `run(input, context)` per request (Azure ML's init/run contract, PROTOCOLS.md §7).
 */
import { pathToFileURL } from 'node:url';
import type * as Ort from 'onnxruntime-node';
import { scoringError } from '../errors.js';
import type { ResolvedModel } from '../model-ref.js';
import type { EntryContext, EntryScript } from './types.js';
import type { ReadyInfo, WireItem, WireResult, WorkerSetup } from './worker-protocol.js';
import { toWireError } from './worker-protocol.js';
import { parseJsonBody, sessionOptions } from './worker-shared.js';
import { inNative } from './native-guard.js';
import type { JsonSchema } from '../openapi/service-schema.js';

type Validate = ((v: unknown) => boolean) & { errors?: { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }[] | null };

const encoder = new TextEncoder();

export class EntryScriptEngine {
  readonly #script: EntryScript;
  readonly #context: EntryContext;
  readonly #validate: Validate | undefined;

  private constructor(script: EntryScript, context: EntryContext, validate: Validate | undefined) {
    this.#script = script;
    this.#context = context;
    this.#validate = validate;
  }

  /** Releases the sessions the script made through its context. */
  async close(): Promise<void> {
    const all = [...sessions];
    sessions.clear();
    await Promise.allSettled(all.map((s) => s.release()));
  }

  static async create(ort: typeof Ort, setup: WorkerSetup): Promise<EntryScriptEngine> {
    const file = setup.entryScript as string;
    const script = await importScript(file, setup.entryCode);
    const context = makeContext(ort, setup);
    if (script.init) {
      try {
        await script.init(context);
      } catch (e) {
        throw scoringError('FERRY_E_ENTRY_INIT_FAILED', `init() of ${file} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    }
    const validate = setup.inputSchema ? await compileSchema(setup.inputSchema) : undefined;
    return new EntryScriptEngine(script, context, validate);
  }

  get info(): ReadyInfo {
    return { batchable: false };
  }

  async process(items: WireItem[]): Promise<WireResult[]> {
    const out: WireResult[] = [];
    for (const item of items) out.push(await this.#one(item));
    return out;
  }

  async #one(item: WireItem): Promise<WireResult> {
    let input: unknown;
    try {
      if (item.kind === 'binary') throw scoringError('FERRY_E_BINARY_NOT_SUPPORTED', 'This service runs an entry script, which takes JSON requests only');
      input = item.kind === 'json' ? item.value : parseJsonBody(item.body);
      if (this.#validate && !this.#validate(input)) throw schemaError(this.#validate);
    } catch (e) {
      return { ok: false, error: toWireError(e, { code: 'FERRY_E_REQUEST_INVALID', prefix: 'The request cannot be read: ' }) };
    }
    const t0 = performance.now();
    let result: unknown;
    try {
      result = await this.#script.run(input, this.#context);
    } catch (e) {
      // Errors thrown by run() are 500s with x-ms-run-function-failed (PROTOCOLS.md §7), even coded ones.
      const message = e instanceof Error ? e.message : String(e);
      return { ok: false, error: { code: 'FERRY_E_SCORING_FAILED', reason: `run() failed: ${message}`, details: { functionFailed: true }, ...(e instanceof Error && e.stack ? { stack: e.stack } : {}) } };
    }
    const execMs = performance.now() - t0;
    try {
      return { ok: true, body: encoder.encode(stringifyResult(result)), execMs };
    } catch (e) {
      return { ok: false, error: toWireError(e, { code: 'FERRY_E_SCORING_FAILED', prefix: 'The value returned by run() cannot be written as JSON: ', details: { functionFailed: true } }) };
    }
  }
}

/** JSON of run()'s result: typed arrays as arrays, bigints as numbers when safe (strings past 2^53). */
function stringifyResult(result: unknown): string {
  const json = JSON.stringify(result, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<unknown>);
    return v;
  }) as string | undefined;
  return json ?? 'null';
}

async function importScript(file: string, code: string | undefined): Promise<EntryScript> {
  let mod: Record<string, unknown>;
  try {
    // TypeScript was transpiled on the main thread (esbuild transform); JavaScript is imported as is.
    const url = code !== undefined ? `data:text/javascript;base64,${Buffer.from(code).toString('base64')}` : pathToFileURL(file).href;
    mod = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    throw scoringError('FERRY_E_ENTRY_SCRIPT_INVALID', `Cannot load the entry script ${file}: ${(e as Error).message}`, { cause: e });
  }
  // Named exports, or a default export object (also what a CommonJS module.exports looks like).
  const candidates = [mod, mod.default].filter((m): m is Record<string, unknown> => !!m && (typeof m === 'object' || typeof m === 'function'));
  const holder = candidates.find((m) => typeof m.run === 'function');
  if (!holder) throw scoringError('FERRY_E_ENTRY_SCRIPT_INVALID', `The entry script ${file} does not export a run(input, context) function`);
  if (holder.init !== undefined && typeof holder.init !== 'function') throw scoringError('FERRY_E_ENTRY_SCRIPT_INVALID', `The entry script ${file} exports "init", but not as a function`);
  return holder as unknown as EntryScript;
}

/** Sessions an entry script made through `context.createSession`, released when the worker closes. */
const sessions = new Set<Ort.InferenceSession>();

function makeContext(ort: typeof Ort, setup: WorkerSetup): EntryContext {
  const models = setup.models;
  return Object.freeze({
    settings: Object.freeze({ ...setup.settings }),
    models,
    ort,
    modelPath(name: string, version?: number): string {
      return findModel(models, name, version).path;
    },
    async createSession(path: string, options?: Ort.InferenceSession.SessionOptions) {
      const session = await inNative(() => ort.InferenceSession.create(path, sessionOptions(setup.threads, options)));
      // The script's own runs and releases are native calls too (native-guard.ts).
      const run = session.run.bind(session) as (...args: unknown[]) => Promise<Ort.InferenceSession.ReturnType>;
      const release = session.release.bind(session);
      Object.assign(session, {
        run: (...args: unknown[]) => inNative(() => run(...args)),
        release: () => { sessions.delete(session); return inNative(release); },
      });
      sessions.add(session);
      return session;
    },
  });
}

/** Azure ML's get_model_path over the configured models: the highest version when none is given. */
function findModel(models: readonly ResolvedModel[], name: string, version?: number): ResolvedModel {
  let best: ResolvedModel | undefined;
  for (const m of models) {
    if (m.name !== name) continue;
    if (version !== undefined ? m.version === version : !best || m.version > best.version) best = m;
  }
  if (!best) {
    const known = models.map((m) => m.id).join(', ');
    throw scoringError('FERRY_E_MODEL_NOT_FOUND', `modelPath(): "${version === undefined ? name : `${name}:${version}`}" is not one of this service's models (${known})`);
  }
  return best;
}

async function compileSchema(schema: JsonSchema): Promise<Validate> {
  const mod = (await import('ajv')) as unknown as { default: { default?: unknown } };
  const AjvCtor = (mod.default.default ?? mod.default) as new (opts: object) => { compile(s: object): Validate };
  // Samples carry OpenAPI keywords (example, format) that are not validation rules.
  const ajv = new AjvCtor({ strict: false, validateFormats: false, allErrors: false });
  return ajv.compile(schema);
}

function schemaError(validate: Validate) {
  const err = validate.errors?.[0];
  let pointer = err?.instancePath ?? '';
  if (err?.keyword === 'required') pointer += `/${escape(String(err.params.missingProperty))}`;
  if (err?.keyword === 'additionalProperties') pointer += `/${escape(String(err.params.additionalProperty))}`;
  const what = err?.keyword === 'required' ? 'is missing' : err?.keyword === 'additionalProperties' ? 'is not a parameter of this service' : (err?.message ?? 'is invalid');
  return scoringError('FERRY_E_REQUEST_INVALID', `${pointer === '' ? 'The request' : `"${pointer}"`} ${what}`, { details: { pointer } });
}

function escape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
