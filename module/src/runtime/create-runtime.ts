/**
 * createScoringRuntime: resolves the config's models, starts the worker threads (no-code session or
 * entry script), and answers score() calls through the worker pool.
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { InferenceConfig, RuntimeOptions } from '../config/inference-config.js';
import { scoringError } from '../errors.js';
import { parseModelRef } from '../model-ref.js';
import type { ResolvedModel } from '../model-ref.js';
import type { ValueSignature } from '../onnx/model-info.js';
import { buildOpenApi3, buildSwagger2 } from '../openapi/service-document.js';
import {
  inputSchemaFromSignature, outputSchemaFromSignature, PERMISSIVE_INPUT, PERMISSIVE_OUTPUT, schemaFromSample,
} from '../openapi/service-schema.js';
import type { ServiceSchemas } from '../openapi/service-schema.js';
import type {
  CreateScoringRuntimeOptions, ScoreOptions, ScoreRequest, ScoreResult, ScoringLimits, ScoringRuntime, ScoringStats, SwaggerOptions,
} from './types.js';
import type { WireItem, WorkerSetup } from './worker-protocol.js';
import { BINARY_OUTPUT_TYPES } from './worker-protocol.js';
import { WorkerPool } from './worker-pool.js';
import { workerScriptUrl } from './worker-script.js';

const DEFAULTS = { maxBatchSize: 8, batchWindowMs: 0, timeoutMs: 30_000, maxQueue: 100, terminateGraceMs: 1_000 };

/** At most this many workers by default: each holds its own copy of the model. */
const MAX_DEFAULT_WORKERS = 4;

/**
 * Workers and onnxruntime intra-op threads per worker. No-code mode spreads the cores over workers:
 * by default one single-threaded session per core (up to MAX_DEFAULT_WORKERS), so concurrent requests
 * compute side by side and no parallel section waits on a thread that HTTP I/O took off its core
 * (measured: det model at concurrency 2, 1.05x a raw 2-thread loop against 0.85x for one 2-thread
 * worker). Given one of the two, the other divides the cores by it. Entry scripts keep one worker
 * (their `init` runs once) with onnxruntime's default threads unless told otherwise.
 */
function threading(mode: 'no-code' | 'entry-script', rt: RuntimeOptions): { workers: number; threads: number | undefined } {
  const cores = availableParallelism();
  if (mode === 'entry-script') return { workers: rt.workers ?? 1, threads: rt.threads };
  if (rt.workers !== undefined) return { workers: rt.workers, threads: rt.threads ?? Math.max(1, Math.floor(cores / rt.workers)) };
  if (rt.threads !== undefined && rt.threads > 0) return { workers: Math.max(1, Math.min(MAX_DEFAULT_WORKERS, Math.floor(cores / rt.threads))), threads: rt.threads };
  return { workers: Math.max(1, Math.min(MAX_DEFAULT_WORKERS, cores)), threads: 1 };
}

export async function createScoringRuntime(config: InferenceConfig, opts: CreateScoringRuntimeOptions): Promise<ScoringRuntime> {
  const models: ResolvedModel[] = [];
  for (const ref of config.models) models.push(await opts.resolver.resolveModel(parseModelRef(ref)));
  const mode = config.entryScript ? 'entry-script' : 'no-code';
  const rt = config.runtime ?? {};
  const { workers, threads } = threading(mode, rt);
  const maxBatchSize = mode === 'no-code' ? (rt.maxBatchSize ?? DEFAULTS.maxBatchSize) : 1;

  const setup: WorkerSetup = { mode, models, settings: config.settings ?? {}, maxBatchSize, ...(threads !== undefined ? { threads } : {}) };
  if (mode === 'no-code') {
    setup.onnxFile = onnxFileOf(models);
  } else {
    const file = config.entryScript as string;
    setup.entryScript = file;
    const code = await transpileIfTypeScript(file);
    if (code !== undefined) setup.entryCode = code;
    if (config.inputSample !== undefined) setup.inputSchema = schemaFromSample(config.inputSample);
  }

  const script = await workerScriptUrl();
  const timeoutMs = rt.timeoutMs ?? DEFAULTS.timeoutMs;
  // maxConcurrent depends on whether the model batches, known once a worker has loaded it.
  const poolLimits = {
    workers, timeoutMs, maxBatchSize, maxQueue: rt.maxQueue ?? DEFAULTS.maxQueue,
    batchWindowMs: rt.batchWindowMs ?? DEFAULTS.batchWindowMs,
    terminateGraceMs: opts.terminateGraceMs ?? DEFAULTS.terminateGraceMs,
    maxConcurrent: rt.maxConcurrent ?? workers * maxBatchSize,
  };
  const pool = new WorkerPool(script, setup, poolLimits);
  const info = await pool.start();
  if (rt.maxConcurrent === undefined && !(info.batchable && maxBatchSize > 1)) poolLimits.maxConcurrent = workers;

  const inputs = info.inputs ?? [];
  const schemas: ServiceSchemas = {
    input: config.inputSample !== undefined ? schemaFromSample(config.inputSample)
      : mode === 'no-code' ? inputSchemaFromSignature(inputs) : PERMISSIVE_INPUT,
    output: config.outputSample !== undefined ? schemaFromSample(config.outputSample, { closed: false })
      : mode === 'no-code' ? outputSchemaFromSignature(info.outputs ?? []) : PERMISSIVE_OUTPUT,
  };
  const limits: ScoringLimits = Object.freeze({
    timeoutMs, maxConcurrent: poolLimits.maxConcurrent, maxQueue: poolLimits.maxQueue,
    maxBatchSize: info.batchable ? maxBatchSize : 1, workers,
  });
  return new Runtime(config.name, models, mode, limits, schemas, inputs, info.outputs ?? [], pool);
}

/** The .onnx file no-code mode loads: the registry's onnxFile, the file itself, or the one .onnx in a folder. */
function onnxFileOf(models: ResolvedModel[]): string {
  if (models.length !== 1) {
    throw scoringError('FERRY_E_MODEL_UNSUPPORTED', `No-code mode serves exactly one model; the config lists ${models.length}. Add an entryScript to serve several`);
  }
  const m = models[0] as ResolvedModel;
  if (m.framework !== 'onnx') throw scoringError('FERRY_E_MODEL_UNSUPPORTED', `Model ${m.id} is registered with framework "${m.framework}", not onnx; serve it with an entryScript`);
  if (m.onnxFile) return m.onnxFile;
  if (m.kind === 'file') return m.path;
  const found = readdirSync(m.path).filter((f) => extname(f).toLowerCase() === '.onnx');
  if (found.length !== 1) throw scoringError('FERRY_E_MODEL_UNSUPPORTED', `Folder model ${m.id} holds ${found.length} .onnx files; no-code mode needs exactly one (or an entryScript)`);
  return join(m.path, found[0] as string);
}

/**
 * TypeScript entry scripts are compiled here once with esbuild: types stripped and the script's own
 * relative imports and packages bundled in, so it runs from memory. `onnxruntime-node` stays the one
 * Ferry runs (imported by file URL), and `require` works for bundled CommonJS code.
 */
async function transpileIfTypeScript(file: string): Promise<string | undefined> {
  const ext = extname(file).toLowerCase();
  if (ext !== '.ts' && ext !== '.mts') return undefined;
  try {
    await readFile(file);
  } catch (e) {
    throw scoringError('FERRY_E_ENTRY_SCRIPT_INVALID', `Cannot read the entry script ${file}: ${(e as Error).message}`, { cause: e });
  }
  const esbuild = await import('esbuild');
  const ortUrl = pathToFileURL(createRequire(import.meta.url).resolve('onnxruntime-node')).href;
  try {
    const out = await esbuild.build({
      entryPoints: [file],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: 'inline',
      logLevel: 'silent',
      banner: { js: `import { createRequire as __ferryCreateRequire } from 'node:module'; const require = __ferryCreateRequire(${JSON.stringify(pathToFileURL(file).href)});` },
      plugins: [{
        name: 'ferry-onnxruntime',
        setup(build) {
          build.onResolve({ filter: /^onnxruntime-node$/ }, () => ({ path: ortUrl, external: true }));
        },
      }],
    });
    return out.outputFiles[0]?.text ?? '';
  } catch (e) {
    throw scoringError('FERRY_E_ENTRY_SCRIPT_INVALID', `Cannot compile the entry script ${file}: ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`, { cause: e });
  }
}

class Runtime implements ScoringRuntime {
  readonly name: string;
  readonly models: readonly ResolvedModel[];
  readonly mode: 'no-code' | 'entry-script';
  readonly limits: ScoringLimits;
  readonly #schemas: ServiceSchemas;
  readonly #inputs: ValueSignature[];
  readonly #binaryOutput: boolean;
  readonly #pool: WorkerPool;

  constructor(name: string, models: ResolvedModel[], mode: 'no-code' | 'entry-script', limits: ScoringLimits, schemas: ServiceSchemas, inputs: ValueSignature[], outputs: ValueSignature[], pool: WorkerPool) {
    this.name = name;
    this.models = Object.freeze([...models]);
    this.mode = mode;
    this.limits = limits;
    this.#schemas = schemas;
    this.#inputs = inputs;
    this.#binaryOutput = mode === 'no-code' && outputs.length === 1 && BINARY_OUTPUT_TYPES.has((outputs[0] as ValueSignature).elementType);
    this.#pool = pool;
  }

  swagger(version: 2 | 3, opts: SwaggerOptions = {}): object {
    const doc = {
      title: this.name, schemas: this.#schemas, binaryInput: this.mode === 'no-code' && this.#inputs.length === 1,
      ...(opts.host !== undefined ? { host: opts.host } : {}), ...(opts.auth !== undefined ? { auth: opts.auth } : {}),
    };
    return version === 2 ? buildSwagger2(doc) : buildOpenApi3(doc);
  }

  score(req: ScoreRequest, opts: ScoreOptions = {}): Promise<ScoreResult> {
    if (req.kind === 'binary' && (this.mode !== 'no-code' || this.#inputs.length !== 1)) {
      return Promise.reject(scoringError('FERRY_E_BINARY_NOT_SUPPORTED', this.mode === 'no-code'
        ? `This model has ${this.#inputs.length} inputs; a raw body can only feed a single-input model`
        : 'This service runs an entry script, which takes JSON requests only'));
    }
    if (opts.output === 'binary' && !this.#binaryOutput) {
      return Promise.reject(scoringError('FERRY_E_NOT_ACCEPTABLE', this.mode === 'no-code'
        ? 'A binary answer needs a model with one numeric output; ask for application/json'
        : 'This service runs an entry script, which answers JSON only'));
    }
    let item: WireItem;
    const transfer: ArrayBuffer[] = [];
    if (req.kind === 'json') {
      item = { kind: 'json', value: req.value };
    } else {
      const body = ownedBytes(req.body, transfer);
      item = req.kind === 'binary' ? { kind: 'binary', body, ...(req.shape ? { shape: [...req.shape] } : {}) } : { kind: 'json-bytes', body };
    }
    if (opts.output === 'binary') item.output = 'binary';
    return this.#pool.submit(item, transfer, opts.signal);
  }

  stats(): ScoringStats {
    return this.#pool.stats();
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/** The body as bytes a worker may own: its ArrayBuffer when the Buffer spans all of it (transferred), else a copy. */
function ownedBytes(body: Buffer, transfer: ArrayBuffer[]): Uint8Array {
  const ab = body.buffer;
  if (ab instanceof ArrayBuffer && body.byteOffset === 0 && body.byteLength === ab.byteLength && ab.byteLength > 0) {
    transfer.push(ab);
    return new Uint8Array(ab);
  }
  const copy = new Uint8Array(body.byteLength);
  copy.set(body);
  transfer.push(copy.buffer);
  return copy;
}
