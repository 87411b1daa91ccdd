/**
 * `ferry-model.json`, the description beside every stored model version:
 *   `{name, version, kind: "file"|"folder", framework: "onnx"|"custom", file?, sha256, tags?}`.
 * `file` is the model's file for a one-file model, the primary `.onnx` file (relative, '/'-separated)
 * of a folder model. `sha256` is the one file's digest, or for a folder the registry's digest: sha256 of
 * the `sha256sum`-style listing (`<hex>  <path>\n` per file, sorted by path bytes, ferry-model.json
 * itself left out), so a folder stored here and registered in a workspace have the same digest.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isFerryError } from '../errors.js';
import { isValidModelName } from '../model-ref.js';
import type { ResolvedModel } from '../model-ref.js';
import type { OnnxModelInfo } from '../onnx/model-info.js';
import { readOnnxModelInfo } from '../onnx/onnx-reader.js';
import { deviceModelError } from './errors.js';

export const MANIFEST_FILE = 'ferry-model.json';

export interface DeviceModelManifest {
  name: string;
  /** A positive integer for stored models; 0 for a fetched model given no version. */
  version: number;
  kind: 'file' | 'folder';
  framework: 'onnx' | 'custom';
  file?: string;
  sha256: string;
  tags?: Record<string, string>;
}

/** A resolved model with the digest the module reports (PROTOCOLS.md §3 reported properties). */
export interface DeviceModel extends ResolvedModel {
  sha256: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isSha256Hex(text: string): boolean {
  return SHA256_HEX.test(text);
}

/** sha256 of a `sha256sum`-style listing; `files` must already be sorted by path bytes. */
export function listingDigest(files: ReadonlyArray<{ path: string; sha256: string }>): string {
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f.sha256}  ${f.path}\n`);
  return hash.digest('hex');
}

export function comparePathBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** A relative '/'-separated path that stays inside its folder. */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0')) return false;
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** Reads and checks `<versionDir>/ferry-model.json`; anything wrong is FERRY_E_DEVICE_MODEL_INVALID naming the file. */
export function readManifest(versionDir: string): DeviceModelManifest {
  const path = join(versionDir, MANIFEST_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'is missing' : `cannot be read (${code ?? (cause as Error).message})`;
    throw deviceModelError('FERRY_E_DEVICE_MODEL_INVALID', `${path} ${what}`, { cause, details: { path } });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_INVALID', `${path} is not valid JSON: ${(cause as Error).message}`, { cause, details: { path } });
  }
  const problem = manifestProblem(raw);
  if (problem) throw deviceModelError('FERRY_E_DEVICE_MODEL_INVALID', `${path} is not a model description: ${problem}`, { details: { path } });
  return raw as DeviceModelManifest;
}

function manifestProblem(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'it must be a JSON object';
  const m = raw as Record<string, unknown>;
  if (typeof m.name !== 'string' || !isValidModelName(m.name)) return '"name" must be a valid model name';
  if (typeof m.version !== 'number' || !Number.isSafeInteger(m.version) || m.version < 0) return '"version" must be a non-negative integer';
  if (m.kind !== 'file' && m.kind !== 'folder') return '"kind" must be "file" or "folder"';
  if (m.framework !== 'onnx' && m.framework !== 'custom') return '"framework" must be "onnx" or "custom"';
  if (m.file !== undefined && (typeof m.file !== 'string' || !isSafeRelativePath(m.file))) return '"file" must be a relative path inside the folder';
  if (m.kind === 'file' && m.file === undefined) return 'a one-file model needs "file"';
  if (m.kind === 'file' && typeof m.file === 'string' && m.file.includes('/')) return '"file" of a one-file model must be a file name';
  if (m.framework === 'onnx' && m.file === undefined && m.kind === 'file') return 'an ONNX model needs "file"';
  if (typeof m.sha256 !== 'string' || !SHA256_HEX.test(m.sha256)) return '"sha256" must be 64 lowercase hexadecimal digits';
  if (m.tags !== undefined) {
    if (typeof m.tags !== 'object' || m.tags === null || Array.isArray(m.tags)) return '"tags" must be an object';
    for (const [k, v] of Object.entries(m.tags)) if (typeof v !== 'string') return `tag "${k}" must be a string`;
  }
  return undefined;
}

export function manifestJson(manifest: DeviceModelManifest): string {
  const ordered: DeviceModelManifest = {
    name: manifest.name,
    version: manifest.version,
    kind: manifest.kind,
    framework: manifest.framework,
    ...(manifest.file === undefined ? {} : { file: manifest.file }),
    sha256: manifest.sha256,
    ...(manifest.tags === undefined ? {} : { tags: manifest.tags }),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** Signatures already read, by file path, size and mtime: a model folder is read-only in practice. */
const signatureCache = new Map<string, { size: number; mtimeMs: number; info: OnnxModelInfo }>();

/** Reads an ONNX file's signature (cached); a file that is not ONNX is FERRY_E_DEVICE_MODEL_INVALID naming it. */
export function readSignatureSync(file: string): OnnxModelInfo {
  let stat;
  try {
    stat = statSync(file);
  } catch (cause) {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_INVALID', `The model file ${file} is missing or unreadable (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`, { cause, details: { path: file } });
  }
  if (!stat.isFile()) throw deviceModelError('FERRY_E_DEVICE_MODEL_INVALID', `The model file ${file} is not a regular file`, { details: { path: file } });
  const cached = signatureCache.get(file);
  if (cached && cached.size === stat.size && cached.mtimeMs === stat.mtimeMs) return cached.info;
  try {
    const info = readOnnxModelInfo(readFileSync(file));
    signatureCache.set(file, { size: stat.size, mtimeMs: stat.mtimeMs, info });
    return info;
  } catch (cause) {
    const reason = isFerryError(cause) ? cause.reason : (cause as Error).message;
    throw deviceModelError('FERRY_E_DEVICE_MODEL_INVALID', `${file} is not a readable ONNX model: ${reason}`, { cause, details: { path: file } });
  }
}

/**
 * What a stored or cached version folder resolves to. Checks that the model file (or folder) is
 * there and reads the ONNX signature of ONNX models; does not re-hash (see verify in the store).
 */
export function resolveVersionDir(versionDir: string, manifest: DeviceModelManifest): DeviceModel {
  const tags = { ...(manifest.tags ?? {}) };
  const base = {
    name: manifest.name,
    version: manifest.version,
    id: `${manifest.name}:${manifest.version}`,
    kind: manifest.kind,
    framework: manifest.framework,
    tags,
    sha256: manifest.sha256,
  };
  const file = manifest.file === undefined ? undefined : join(versionDir, ...manifest.file.split('/'));
  if (manifest.kind === 'file') {
    const path = file as string;
    if (manifest.framework === 'onnx') return { ...base, path, onnxFile: path, onnx: readSignatureSync(path) };
    mustBeFile(path);
    return { ...base, path };
  }
  if (file === undefined || manifest.framework !== 'onnx') {
    if (file !== undefined) mustBeFile(file);
    return { ...base, path: versionDir };
  }
  return { ...base, path: versionDir, onnxFile: file, onnx: readSignatureSync(file) };
}

function mustBeFile(path: string): void {
  let ok = false;
  try {
    ok = statSync(path).isFile();
  } catch {
    ok = false;
  }
  if (!ok) throw deviceModelError('FERRY_E_DEVICE_MODEL_INVALID', `The model file ${path} is missing`, { details: { path } });
}
