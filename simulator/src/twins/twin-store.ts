import { readdirSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { simulatorError } from '../errors.js';
import { writeFileAtomic } from '../identity/atomic-file.js';
import { assertSectionSize, assertValidTwinPatch, diffPatch, isPlainObject, jsonEqual, mergePatch, MAX_TWIN_SECTION_BYTES } from './twin-document.js';
import type { TwinSection } from './twin-document.js';

/** A twin as the SDK's GET expects it (PROTOCOLS.md §3): each section carries its `$version`. */
export interface TwinProperties {
  readonly desired: TwinSection & { readonly $version: number };
  readonly reported: TwinSection & { readonly $version: number };
}

/** What changed in the desired section, to push to the module (PROTOCOLS.md §3). */
export interface DesiredChange {
  /** The desired `$version` after the change. */
  readonly version: number;
  /** The merge patch that turns the previous desired section into the new one; undefined when nothing changed. */
  readonly patch: TwinSection | undefined;
}

export interface TwinStoreOptions {
  /** Limit of each section's JSON, bytes (default 32 KB, IoT Hub's). */
  maxSectionBytes?: number;
}

interface StoredTwin {
  format: 1;
  /** The module id; absent for the device's own twin. */
  moduleId?: string;
  desired: TwinSection;
  desiredVersion: number;
  reported: TwinSection;
  reportedVersion: number;
}

const DEVICE_FILE = 'device.json';

/**
 * The twins of the simulated device and its modules: per twin a desired and a reported section with
 * their own `$version` counters. One JSON file per twin in the store folder (mode 0600, written
 * atomically: a reader sees the old or the new twin), read once at open and kept in memory.
 * A twin nobody wrote yet is empty at version 1, as IoT Hub makes new twins.
 * `moduleId` undefined names the device's own twin.
 */
export class TwinStore {
  readonly #dir: string;
  readonly #limit: number;
  readonly #twins = new Map<string, StoredTwin>();

  private constructor(dir: string, limit: number) {
    this.#dir = dir;
    this.#limit = limit;
  }

  /** Opens (making it when missing) the store folder; throws FERRY_E_SIM_WORKSPACE_IO for unreadable or foreign files. */
  static open(dir: string, options: TwinStoreOptions = {}): TwinStore {
    const store = new TwinStore(dir, options.maxSectionBytes ?? MAX_TWIN_SECTION_BYTES);
    let names: string[];
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      names = readdirSync(dir);
    } catch (e) {
      throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `Cannot open the twin store ${dir}.`, { cause: e });
    }
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const file = join(dir, name);
      let twin: StoredTwin | undefined;
      try {
        twin = parseStored(JSON.parse(readFileSync(file, 'utf8')));
      } catch (e) {
        throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `Cannot read the twin file ${file}.`, { cause: e });
      }
      if (!twin || fileName(twin.moduleId) !== name) {
        throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `The twin file ${file} is not one Ferry wrote.`);
      }
      store.#twins.set(key(twin.moduleId), twin);
    }
    return store;
  }

  /** Ids of the modules that have a stored twin. */
  modules(): string[] {
    return [...this.#twins.values()].flatMap((t) => (t.moduleId === undefined ? [] : [t.moduleId])).sort();
  }

  /** The twin's properties, each section with its `$version` (a copy). */
  get(moduleId: string | undefined): TwinProperties {
    const t = this.#twin(moduleId);
    return {
      desired: { ...structuredClone(t.desired), $version: t.desiredVersion },
      reported: { ...structuredClone(t.reported), $version: t.reportedVersion },
    };
  }

  /**
   * Replaces the desired section with a deployment's `<module>.properties.desired` (PROTOCOLS.md §5) and
   * bumps its version when it differs; reported is kept. `$`-prefixed keys of the manifest (`$version`,
   * `$metadata`) are the hub's and are left out.
   */
  seed(moduleId: string | undefined, desired: Record<string, unknown>): DesiredChange {
    const clean = Object.fromEntries(Object.entries(desired).filter(([k]) => !k.startsWith('$')));
    assertValidTwinPatch(clean, false);
    const t = this.#twin(moduleId);
    if (jsonEqual(t.desired, clean)) return { version: t.desiredVersion, patch: undefined };
    assertSectionSize(clean, 'desired', this.#limit, twinName(moduleId));
    const patch = diffPatch(t.desired, clean);
    this.#write({ ...t, desired: structuredClone(clean), desiredVersion: t.desiredVersion + 1 });
    return { version: t.desiredVersion + 1, patch };
  }

  /**
   * Applies a JSON merge patch to the desired section (null deletes) and bumps its version.
   * Throws FERRY_E_SIM_TWIN_PATCH_INVALID or FERRY_E_SIM_TWIN_TOO_LARGE, changing nothing.
   */
  patchDesired(moduleId: string | undefined, patch: unknown): DesiredChange {
    assertValidTwinPatch(patch, true);
    const t = this.#twin(moduleId);
    const desired = mergePatch(t.desired, patch);
    assertSectionSize(desired, 'desired', this.#limit, twinName(moduleId));
    this.#write({ ...t, desired, desiredVersion: t.desiredVersion + 1 });
    return { version: t.desiredVersion + 1, patch: structuredClone(patch) };
  }

  /** Applies a reported-properties patch (JSON merge patch, PROTOCOLS.md §3) and returns the new reported `$version`. */
  patchReported(moduleId: string | undefined, patch: unknown): number {
    assertValidTwinPatch(patch, true);
    const t = this.#twin(moduleId);
    const reported = mergePatch(t.reported, patch);
    assertSectionSize(reported, 'reported', this.#limit, twinName(moduleId));
    this.#write({ ...t, reported, reportedVersion: t.reportedVersion + 1 });
    return t.reportedVersion + 1;
  }

  #twin(moduleId: string | undefined): StoredTwin {
    return this.#twins.get(key(moduleId)) ?? { format: 1, ...(moduleId === undefined ? {} : { moduleId }), desired: {}, desiredVersion: 1, reported: {}, reportedVersion: 1 };
  }

  #write(twin: StoredTwin): void {
    const file = join(this.#dir, fileName(twin.moduleId));
    try {
      writeFileAtomic(file, `${JSON.stringify(twin)}\n`, 0o600);
    } catch (e) {
      throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `Cannot write the twin file ${file}.`, { cause: e });
    }
    this.#twins.set(key(twin.moduleId), twin);
  }
}

function key(moduleId: string | undefined): string {
  return moduleId === undefined ? '' : `m:${moduleId}`;
}

function twinName(moduleId: string | undefined): string {
  return moduleId === undefined ? 'the device twin' : `the twin of ${moduleId}`;
}

/** Module ids may hold `.`, `*`, `%`...: encoded so that no id becomes a special or hidden file name. */
function fileName(moduleId: string | undefined): string {
  if (moduleId === undefined) return DEVICE_FILE;
  return `module-${encodeURIComponent(moduleId).replace(/[.*!'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}.json`;
}

function parseStored(v: unknown): StoredTwin | undefined {
  if (!isPlainObject(v) || v.format !== 1) return undefined;
  const { moduleId, desired, reported, desiredVersion, reportedVersion } = v;
  if (moduleId !== undefined && typeof moduleId !== 'string') return undefined;
  if (!isPlainObject(desired) || !isPlainObject(reported)) return undefined;
  if (!Number.isSafeInteger(desiredVersion) || !Number.isSafeInteger(reportedVersion)) return undefined;
  return { format: 1, ...(moduleId === undefined ? {} : { moduleId }), desired, reported, desiredVersion: desiredVersion as number, reportedVersion: reportedVersion as number };
}
