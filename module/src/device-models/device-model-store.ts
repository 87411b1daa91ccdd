/**
 * The models built into a device image (FERRY_MODELS_DIR, default /app/models): one folder per version,
 *   <dir>/<name>/<version>/   the model's file (one-file model) or files (folder model)
 *   <dir>/<name>/<version>/ferry-model.json   see model-manifest.ts
 *   <dir>/.staging-<pid>-*   a writeModel under way; one its dead writer left is removed (stale-staging.ts)
 * The store is read on every call (a few directory listings), so versions written while it is open
 * are seen. ONNX signatures are read when a model is resolved, for no-code scoring.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isFerryError, scoringError } from '../errors.js';
import { formatModelRef, isValidModelName } from '../model-ref.js';
import type { ModelRef, ModelResolver } from '../model-ref.js';
import { deviceModelError } from './errors.js';
import { copyAndHashSync } from './hashing-copy.js';
import { MANIFEST_FILE, listingDigest, manifestJson, readManifest, readSignatureSync, resolveVersionDir } from './model-manifest.js';
import type { DeviceModel, DeviceModelManifest } from './model-manifest.js';
import { scanSource } from './model-source.js';
import { stagingPrefix, sweepStaleStaging } from './stale-staging.js';

export interface DeviceModelSource {
  name: string;
  /** A positive integer. */
  version: number;
  /** A model file or a folder. */
  path: string;
  /** Default: 'onnx' for a .onnx file or a folder holding .onnx files, else 'custom'. */
  framework?: 'onnx' | 'custom';
  tags?: Record<string, string>;
}

const VERSION_DIR = /^[1-9][0-9]{0,9}$/;

export class DeviceModelStore implements ModelResolver {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * A store over `dir`; a folder that does not exist (yet) is an empty store. Staging folders left by
   * a writeModel whose process died are removed (stale-staging.ts).
   */
  static open(dir: string): DeviceModelStore {
    const abs = resolve(dir);
    if (existsSync(abs) && !statSync(abs).isDirectory()) {
      throw deviceModelError('FERRY_E_DEVICE_MODEL_INVALID', `The models folder ${abs} is not a folder`, { details: { path: abs } });
    }
    sweepStaleStaging(abs, '.staging-');
    return new DeviceModelStore(abs);
  }

  /** Every stored version, by name then version. A corrupt version throws FERRY_E_DEVICE_MODEL_INVALID naming it. */
  list(): DeviceModel[] {
    const models: DeviceModel[] = [];
    for (const name of this.#names()) {
      for (const version of this.#versions(name)) models.push(this.#load(name, version));
    }
    return models;
  }

  /**
   * The version asked for, or the highest stored version without one. FERRY_E_MODEL_NOT_FOUND (the
   * scoring catalogue's code) for an unknown name or version; FERRY_E_DEVICE_MODEL_INVALID when the
   * chosen version's description or file is missing or corrupt (no fallback to an older version).
   */
  resolveModel(ref: ModelRef): DeviceModel {
    const versions = isValidModelName(ref.name) ? this.#versions(ref.name) : [];
    const version = ref.version === undefined ? versions.at(-1) : versions.find((v) => v === ref.version);
    if (version === undefined) {
      const known = versions.length === 0 ? 'no model of that name is' : `versions ${versions.join(', ')} are`;
      throw scoringError('FERRY_E_MODEL_NOT_FOUND', `The model ${formatModelRef(ref)} is not in ${this.dir} (${known} there)`, { details: { name: ref.name, version: ref.version ?? null } });
    }
    return this.#load(ref.name, version);
  }

  /**
   * Stores a model file or folder as `<dir>/<name>/<version>/`: copied into a staging folder inside
   * `dir`, hashed, described, then renamed into place in one step (a reader never sees half a model).
   * Refuses a version that exists (FERRY_E_DEVICE_MODEL_EXISTS), invalid names and versions, and
   * symbolic links leaving the source folder. Staging folders left by writers that died are removed first.
   */
  static writeModel(dir: string, source: DeviceModelSource): DeviceModel {
    const root = resolve(dir);
    if (!isValidModelName(source.name)) {
      throw deviceModelError('FERRY_E_DEVICE_MODEL_NAME_INVALID', `"${source.name}" is not a valid model name`, { details: { name: source.name } });
    }
    if (!Number.isSafeInteger(source.version) || source.version < 1 || !VERSION_DIR.test(String(source.version))) {
      throw deviceModelError('FERRY_E_DEVICE_MODEL_NAME_INVALID', `The version of ${source.name} must be a positive integer, not ${String(source.version)}`, { details: { version: source.version } });
    }
    if (source.framework !== undefined && source.framework !== 'onnx' && source.framework !== 'custom') {
      throw deviceModelError('FERRY_E_DEVICE_MODEL_NAME_INVALID', `The framework must be "onnx" or "custom", not ${JSON.stringify(source.framework)}`);
    }
    for (const [k, v] of Object.entries(source.tags ?? {})) {
      if (typeof v !== 'string') throw deviceModelError('FERRY_E_DEVICE_MODEL_NAME_INVALID', `The tag "${k}" must have a string value`);
    }
    const scanned = scanSource(source.path);
    const target = join(root, source.name, String(source.version));
    if (existsSync(target)) {
      throw deviceModelError('FERRY_E_DEVICE_MODEL_EXISTS', `${source.name}:${source.version} is already stored in ${target}`, { details: { path: target } });
    }

    let staging: string;
    try {
      mkdirSync(root, { recursive: true });
      sweepStaleStaging(root, '.staging-');
      staging = mkdtempSync(stagingPrefix(root, '.staging-'));
    } catch (cause) {
      throw deviceModelError('FERRY_E_DEVICE_MODEL_IO', `Cannot write in the models folder ${root}: ${(cause as Error).message}`, { cause, details: { path: root } });
    }
    try {
      const hashed: Array<{ path: string; sha256: string }> = [];
      for (const file of scanned.files) {
        const to = join(staging, ...file.rel.split('/'));
        mkdirSync(dirname(to), { recursive: true });
        hashed.push({ path: file.rel, sha256: copyAndHashSync(file.abs, to).sha256 });
      }
      const onnxFiles = scanned.files.map((f) => f.rel).filter((p) => p.toLowerCase().endsWith('.onnx'));
      const framework = source.framework ?? (onnxFiles.length > 0 ? 'onnx' : 'custom');
      const first = scanned.files[0] as { rel: string; abs: string };
      let file: string | undefined;
      if (scanned.kind === 'file') {
        file = first.rel;
      } else if (framework === 'onnx') {
        if (onnxFiles.length === 0) {
          throw deviceModelError('FERRY_E_DEVICE_MODEL_INVALID', `The folder ${source.path} holds no .onnx file, so it cannot be stored as an ONNX model`, { details: { path: source.path } });
        }
        file = choosePrimary(onnxFiles);
      }
      if (framework === 'onnx' && file !== undefined) checkOnnx(join(staging, ...file.split('/')), scanned.kind === 'file' ? source.path : join(source.path, file));

      const manifest: DeviceModelManifest = {
        name: source.name,
        version: source.version,
        kind: scanned.kind,
        framework,
        ...(file === undefined ? {} : { file }),
        sha256: scanned.kind === 'file' ? (hashed[0] as { sha256: string }).sha256 : listingDigest(hashed),
        ...(source.tags === undefined ? {} : { tags: { ...source.tags } }),
      };
      writeFileSync(join(staging, MANIFEST_FILE), manifestJson(manifest));
      mkdirSync(dirname(target), { recursive: true });
      try {
        renameSync(staging, target);
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') {
          throw deviceModelError('FERRY_E_DEVICE_MODEL_EXISTS', `${source.name}:${source.version} is already stored in ${target}`, { cause, details: { path: target } });
        }
        throw cause;
      }
      return resolveVersionDir(target, manifest);
    } catch (cause) {
      rmSync(staging, { recursive: true, force: true });
      if (isFerryError(cause)) throw cause;
      throw deviceModelError('FERRY_E_DEVICE_MODEL_IO', `Storing ${source.name}:${source.version} in ${root} failed: ${(cause as Error).message}`, { cause, details: { path: root } });
    }
  }

  #load(name: string, version: number): DeviceModel {
    const versionDir = join(this.dir, name, String(version));
    const manifest = readManifest(versionDir);
    if (manifest.name !== name || manifest.version !== version) {
      const path = join(versionDir, MANIFEST_FILE);
      throw deviceModelError('FERRY_E_DEVICE_MODEL_INVALID', `${path} describes ${manifest.name}:${manifest.version}, not ${name}:${version} as its folder says`, { details: { path } });
    }
    return resolveVersionDir(versionDir, manifest);
  }

  #names(): string[] {
    return subfolders(this.dir).filter(isValidModelName).sort();
  }

  /** Version folders of a name, ascending. */
  #versions(name: string): number[] {
    return subfolders(join(this.dir, name)).filter((v) => VERSION_DIR.test(v)).map(Number).sort((a, b) => a - b);
  }
}

function subfolders(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT' || (cause as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw deviceModelError('FERRY_E_DEVICE_MODEL_IO', `Cannot read the models folder ${dir}: ${(cause as Error).message}`, { cause, details: { path: dir } });
  }
}

/** The registry's rule: the only ONNX file, else the top-level model.onnx, else the only file named model.onnx. */
function choosePrimary(onnxPaths: readonly string[]): string | undefined {
  if (onnxPaths.length === 1) return onnxPaths[0];
  if (onnxPaths.includes('model.onnx')) return 'model.onnx';
  const named = onnxPaths.filter((p) => p.endsWith('/model.onnx'));
  return named.length === 1 ? named[0] : undefined;
}

/** Reads the staged file's signature, reporting the source path on failure. */
function checkOnnx(staged: string, shownAs: string): void {
  try {
    readSignatureSync(staged);
  } catch (cause) {
    const reason = isFerryError(cause) ? cause.reason.replace(staged, shownAs) : (cause as Error).message;
    throw deviceModelError('FERRY_E_DEVICE_MODEL_INVALID', reason, { cause, details: { path: shownAs } });
  }
}
