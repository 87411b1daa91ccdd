/**
 * A ModelResolver that answers references to the name of models already resolved (the
 * model a swap loads: one fetched by URL into the cache, or one resolved before the runtime is built)
 * and everything else from the module's store.
 */
import type { ModelRef, ModelResolver, ResolvedModel } from '../model-ref.js';

export class PinnedResolver implements ModelResolver {
  readonly #base: ModelResolver;
  readonly #pinned: ReadonlyMap<string, ResolvedModel>;

  /** At most one pinned model per name: a bare `name` resolves to it (fetched models may have version 0, which no reference can name). */
  constructor(base: ModelResolver, pinned: readonly ResolvedModel[]) {
    this.#base = base;
    this.#pinned = new Map(pinned.map((m) => [m.name, m]));
  }

  resolveModel(ref: ModelRef): ResolvedModel | Promise<ResolvedModel> {
    const hit = this.#pinned.get(ref.name);
    return hit && (ref.version === undefined || ref.version === hit.version) ? hit : this.#base.resolveModel(ref);
  }
}
