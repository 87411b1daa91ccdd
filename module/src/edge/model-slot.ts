/**
 * The model the edge module scores with, swappable at run time by the twin (issue 4 §3). A swap is
 * atomic: the new runtime is built beside the old one and takes over once loaded; requests already
 * handed to the old runtime finish there (it is closed once they drained); if the new one fails to
 * load, the old one keeps scoring and the failure is kept in `status`/`statusReason`.
 */
import type { Logger } from 'pino';
import type { InferenceConfig } from '../config/inference-config.js';
import { isFerryError, scoringError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { fetchModel } from '../device-models/index.js';
import { parseModelRef } from '../model-ref.js';
import type { ModelResolver, ResolvedModel } from '../model-ref.js';
import { createScoringRuntime } from '../runtime/index.js';
import type { ScoreOptions, ScoreRequest, ScoreResult, ScoringRuntime, ScoringStats, SwaggerOptions } from '../runtime/index.js';
import { edgeError } from './errors.js';
import { modelSha256 } from './model-digest.js';
import { PinnedResolver } from './pinned-resolver.js';

export type SlotStatus = 'loading' | 'ready' | 'error';

/** A model as the twin names it: `name[:version]` in the module's store, or a URL and its sha256. */
export type ModelChoice = string | { url: string; sha256: string; name?: string; version?: number };

export type SlotBatching = {
  maxBatchSize?: number;
  batchWindowMs?: number;
};

export interface SlotChange {
  model?: ModelChoice;
  /** Replaces the entry script's `context.settings` as a whole. */
  settings?: Record<string, unknown>;
  batching?: SlotBatching;
}

export interface SlotSwapResult {
  /** False when the change asked for what was already running (nothing was rebuilt). */
  changed: boolean;
  model: ResolvedModel;
}

export interface ModelSlotOptions {
  config: InferenceConfig;
  resolver: ModelResolver;
  /** Where models fetched by URL are cached (FERRY_MODEL_CACHE). */
  cacheDir: string;
  logger: Logger;
  /** Extra CA for model URLs (besides Node's). */
  fetchCa?: string | Buffer;
  /** Total download limit for a model URL (default 10 min). */
  fetchTimeoutMs?: number;
  /** How long a model server may send nothing (default 30 s). */
  fetchIdleTimeoutMs?: number;
}

interface Target {
  model: ModelChoice;
  settings: Record<string, unknown>;
  batching: SlotBatching;
}

/** One built runtime and the requests it has in flight. */
interface Active {
  readonly runtime: ScoringRuntime;
  readonly model: ResolvedModel;
  readonly sha256: string | null;
  /** What it was built from: compared to decide whether a change is a change. */
  readonly key: string;
  readonly source: ModelChoice;
  inFlight: number;
  retired: boolean;
  closed?: Promise<void>;
}

export class ModelSlot {
  readonly #o: ModelSlotOptions;
  /** The config the module started with: the twin's changes apply on top of it. */
  readonly #base: InferenceConfig;
  #active: Active;
  #target: Target;
  #status: SlotStatus = 'ready';
  #reason: string | undefined;
  #code: ErrorCode | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #pending: AbortController | undefined;
  #closing: Promise<void> | undefined;
  readonly #draining = new Set<Active>();
  readonly #listeners = new Set<(status: SlotStatus) => void>();

  private constructor(o: ModelSlotOptions, target: Target, active: Active) {
    this.#o = o;
    this.#base = o.config;
    this.#target = target;
    this.#active = active;
  }

  /** Loads the config's models; rejects when they cannot be loaded (the module cannot start without one). */
  static async create(o: ModelSlotOptions): Promise<ModelSlot> {
    const first = o.config.models[0];
    if (first === undefined) throw scoringError('FERRY_E_CONFIG_INVALID', 'The inference config lists no model');
    const target: Target = {
      model: first,
      settings: { ...(o.config.settings ?? {}) },
      batching: pickBatching(o.config.runtime ?? {}),
    };
    const active = await build(o, target, undefined);
    o.logger.info({ model: active.model.id, sha256: active.sha256 }, 'model loaded');
    return new ModelSlot(o, target, active);
  }

  get status(): SlotStatus {
    return this.#status;
  }

  /** Why the last load failed (`CODE: reason`), while status is 'error'. */
  get statusReason(): string | undefined {
    return this.#reason;
  }

  /** The error code of the last failed load, while status is 'error'. */
  get statusCode(): ErrorCode | undefined {
    return this.#code;
  }

  /** The model scoring now (the one the twin's `model` names). */
  get model(): ResolvedModel {
    return this.#active.model;
  }

  /** The sha256 of the model scoring now (recorded by its store or fetch, else hashed), null if unknown. */
  get sha256(): string | null {
    return this.#active.sha256;
  }

  /** The settings and batching scoring now. */
  get applied(): { settings: Readonly<Record<string, unknown>>; batching: Readonly<SlotBatching> } {
    const t = JSON.parse(this.#active.key) as { settings: Record<string, unknown>; batching: SlotBatching };
    return { settings: t.settings, batching: t.batching };
  }

  /** The model, settings and batching last asked for (what is loading, or what failed to load). */
  get requested(): { model: ModelChoice; settings: Record<string, unknown>; batching: SlotBatching } {
    return { ...this.#target };
  }

  /** The config the slot started from (its settings and batching are what a removed desired property reverts to). */
  get baseConfig(): InferenceConfig {
    return this.#base;
  }

  /** Runtimes replaced by a swap that still finish requests. */
  get draining(): number {
    return this.#draining.size;
  }

  /** Called on every status change; returns the unsubscribe function. */
  onStatus(listener: (status: SlotStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Scores on the current model; the answer names the model that computed it. */
  async score(req: ScoreRequest, opts?: ScoreOptions): Promise<{ result: ScoreResult; model: ResolvedModel }> {
    if (this.#closing) throw scoringError('FERRY_E_SHUTTING_DOWN', 'The edge module is stopping');
    const entry = this.#active;
    entry.inFlight++;
    try {
      const result = await entry.runtime.score(req, opts);
      return { result, model: entry.model };
    } finally {
      entry.inFlight--;
      if (entry.retired && entry.inFlight === 0) void this.#closeRuntime(entry);
    }
  }

  /**
   * Applies a change: a new model, settings or batching. Resolves once the new runtime scores (or
   * `changed: false` when nothing differs); rejects with the load's error when it failed, the old
   * runtime then keeps scoring and `status` is 'error'. A change that arrives while another is still
   * loading aborts that one's download (it rejects with FERRY_E_EDGE_MODEL_SUPERSEDED).
   */
  reconfigure(change: SlotChange): Promise<SlotSwapResult> {
    const target: Target = {
      model: change.model ?? this.#target.model,
      settings: change.settings ?? this.#target.settings,
      batching: change.batching ?? this.#target.batching,
    };
    return this.#enqueue(target, false);
  }

  /** Rebuilds the runtime from the last requested model, settings and batching (retries a failed load). */
  reload(): Promise<SlotSwapResult> {
    return this.#enqueue(this.#target, true);
  }

  /** A ScoringRuntime view that always scores on the current model (for the HTTP endpoint). `close` closes the slot. */
  asRuntime(): ScoringRuntime {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const slot = this;
    return {
      get name() { return slot.#active.runtime.name; },
      get models() { return slot.#active.runtime.models; },
      get mode() { return slot.#active.runtime.mode; },
      get limits() { return slot.#active.runtime.limits; },
      swagger: (version: 2 | 3, opts?: SwaggerOptions): object => slot.#active.runtime.swagger(version, opts),
      score: async (req: ScoreRequest, opts?: ScoreOptions): Promise<ScoreResult> => (await slot.score(req, opts)).result,
      stats: (): ScoringStats => {
        const all = [slot.#active, ...slot.#draining].map((a) => a.runtime.stats());
        return { inFlight: all.reduce((n, s) => n + s.inFlight, 0), queued: all.reduce((n, s) => n + s.queued, 0) };
      },
      close: (): Promise<void> => slot.close(),
    };
  }

  /** Refuses new requests, aborts a pending load, lets in-flight requests finish, then closes every runtime. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#pending?.abort();
      await this.#chain.catch(() => undefined);
      const active = this.#active;
      active.retired = true;
      await Promise.all([active, ...this.#draining].map((a) => this.#closeRuntime(a)));
    })();
    return this.#closing;
  }

  #enqueue(target: Target, force: boolean): Promise<SlotSwapResult> {
    if (this.#closing) return Promise.reject(scoringError('FERRY_E_SHUTTING_DOWN', 'The edge module is stopping'));
    this.#target = target;
    this.#pending?.abort();
    const abort = new AbortController();
    this.#pending = abort;
    const run = this.#chain.then(() => this.#apply(target, force, abort));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #apply(target: Target, force: boolean, abort: AbortController): Promise<SlotSwapResult> {
    if (abort.signal.aborted) throw superseded();
    this.#setStatus('loading', undefined, undefined);
    let next: Active | undefined;
    try {
      next = await build(this.#o, target, force ? undefined : this.#active, abort.signal);
    } catch (e) {
      if (abort.signal.aborted) {
        // A newer change (or close) took over; it sets the status.
        throw superseded(e);
      }
      const err = isFerryError(e) ? e : scoringError('FERRY_E_ENTRY_INIT_FAILED', (e as Error).message ?? String(e), { cause: e });
      this.#o.logger.warn({ err, code: err.code, model: describe(target.model) }, 'model load failed; the previous model keeps scoring');
      this.#setStatus('error', `${err.code}: ${err.reason}`, err.code);
      throw err;
    } finally {
      if (this.#pending === abort) this.#pending = undefined;
    }
    if (next === this.#active) {
      this.#setStatus('ready', undefined, undefined);
      return { changed: false, model: next.model };
    }
    const old = this.#active;
    this.#active = next;
    old.retired = true;
    this.#draining.add(old);
    if (old.inFlight === 0) void this.#closeRuntime(old);
    this.#o.logger.info({ model: next.model.id, sha256: next.sha256, previous: old.model.id, draining: old.inFlight }, 'model swapped');
    this.#setStatus('ready', undefined, undefined);
    if (this.#closing) await this.#closeRuntime(next);
    return { changed: true, model: next.model };
  }

  #closeRuntime(entry: Active): Promise<void> {
    entry.closed ??= entry.runtime.close().catch((err: unknown) => {
      this.#o.logger.warn({ err, model: entry.model.id }, 'closing a replaced runtime failed');
    }).finally(() => this.#draining.delete(entry));
    return entry.closed;
  }

  #setStatus(status: SlotStatus, reason: string | undefined, code: ErrorCode | undefined): void {
    const changed = status !== this.#status || reason !== this.#reason;
    this.#status = status;
    this.#reason = reason;
    this.#code = code;
    if (!changed) return;
    for (const l of this.#listeners) {
      try {
        l(status);
      } catch (err) {
        this.#o.logger.warn({ err }, 'a status listener failed');
      }
    }
  }
}

/**
 * Resolves (or fetches) the target's model and builds its runtime. Returns `current` itself when the
 * target is what `current` runs (no rebuild).
 */
async function build(o: ModelSlotOptions, target: Target, current: Active | undefined, signal?: AbortSignal): Promise<Active> {
  const model = await resolveChoice(o, target.model, current, signal);
  const key = stableJson({ id: model.id, path: model.path, settings: target.settings, batching: target.batching });
  if (current && current.key === key) return current;
  const models = [...o.config.models];
  // A fetched model may have version 0, which no reference can name: the pinned resolver answers its bare name.
  models[0] = model.version > 0 ? model.id : model.name;
  const config: InferenceConfig = {
    ...o.config,
    models,
    settings: target.settings,
    runtime: { ...(o.config.runtime ?? {}), ...definedOnly(target.batching) },
  };
  const runtime = await createScoringRuntime(config, { resolver: new PinnedResolver(o.resolver, [model]) });
  const loaded = runtime.models[0] ?? model;
  return { runtime, model: loaded, sha256: await modelSha256(loaded), key, source: target.model, inFlight: 0, retired: false };
}

async function resolveChoice(o: ModelSlotOptions, choice: ModelChoice, current: Active | undefined, signal?: AbortSignal): Promise<ResolvedModel> {
  if (typeof choice === 'string') return o.resolver.resolveModel(parseModelRef(choice));
  const { url, sha256, name, version } = (choice ?? {}) as { url?: unknown; sha256?: unknown; name?: unknown; version?: unknown };
  if (typeof url !== 'string' || typeof sha256 !== 'string' || (name !== undefined && typeof name !== 'string')
    || (version !== undefined && !(Number.isInteger(version) && (version as number) > 0))) {
    throw edgeError('FERRY_E_EDGE_DESIRED_INVALID', 'The model must be "name:version" or {"url": "https://...", "sha256": "<hex>", "name"?: "...", "version"?: n}', { details: { property: 'model' } });
  }
  // The same URL and hash as the model running: no download.
  if (current && typeof current.source === 'object' && stableJson(current.source) === stableJson(choice)) return current.model;
  // The same URL and hash as the model running: no download.
  return fetchModel({ url, sha256, ...(name !== undefined ? { name } : {}), ...(version !== undefined ? { version: version as number } : {}) }, {
    cacheDir: o.cacheDir,
    ...(o.fetchCa !== undefined ? { ca: o.fetchCa } : {}),
    timeoutMs: o.fetchTimeoutMs ?? 600_000,
    idleTimeoutMs: o.fetchIdleTimeoutMs ?? 30_000,
    ...(signal ? { signal } : {}),
  });
}

function pickBatching(rt: { maxBatchSize?: number; batchWindowMs?: number }): SlotBatching {
  return definedOnly({ maxBatchSize: rt.maxBatchSize, batchWindowMs: rt.batchWindowMs });
}

function definedOnly<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** JSON with object keys sorted, so equal values give equal strings. */
function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) => (value && typeof value === 'object' && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : value));
}

function describe(choice: ModelChoice): string {
  return typeof choice === 'string' ? choice : choice.url;
}

function superseded(cause?: unknown): Error {
  return edgeError('FERRY_E_EDGE_MODEL_SUPERSEDED', 'A newer model change replaced this one before it finished loading', cause === undefined ? {} : { cause });
}
