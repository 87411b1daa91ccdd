/**
 * Pure rules of twin property sections (PROTOCOLS.md §3, §5): validation of keys and values, JSON merge
 * patches, sizes and the patch that turns one section into another.
 */
import { simulatorError } from '../errors.js';

/** A twin section (desired or reported) without its `$version`. */
export type TwinSection = Record<string, unknown>;

/** IoT Hub's limit on each of the desired and reported sections (PROTOCOLS.md §5). */
export const MAX_TWIN_SECTION_BYTES = 32 * 1024;
/** IoT Hub: JSON objects in twin sections nest at most 10 levels deep. */
const MAX_DEPTH = 10;
/** IoT Hub: keys are at most 1 KB, string values at most 4 KB (UTF-8). */
const MAX_KEY_BYTES = 1024;
const MAX_STRING_BYTES = 4096;
/** IoT Hub: keys exclude control characters (C0, C1), `.`, `$` and space. */
// eslint-disable-next-line no-control-regex
const BAD_KEY_CHAR = /[\u0000-\u001f\u007f-\u009f. $]/;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(reason: string, pointer: string): Error {
  return simulatorError('FERRY_E_SIM_TWIN_PATCH_INVALID', reason, { details: { pointer } });
}

/**
 * Checks a patch (or a whole section) against IoT Hub's twin rules: a JSON object whose keys have no
 * `$` (so `$version` and `$metadata` stay the hub's), `.`, space or control characters and are at most
 * 1 KB, string values at most 4 KB, at most 10 levels of objects. `null` (delete) is allowed when
 * `allowNull`. Throws FERRY_E_SIM_TWIN_PATCH_INVALID with `details.pointer`.
 */
export function assertValidTwinPatch(patch: unknown, allowNull: boolean): asserts patch is TwinSection {
  if (!isPlainObject(patch)) throw invalid('A twin patch must be a JSON object.', '');
  check(patch, '', 1, allowNull);
}

function check(obj: Record<string, unknown>, pointer: string, depth: number, allowNull: boolean): void {
  if (depth > MAX_DEPTH) throw invalid(`Twin properties nest deeper than ${MAX_DEPTH} levels at "${pointer}".`, pointer);
  for (const [key, value] of Object.entries(obj)) {
    const at = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (key === '') throw invalid(`An empty property name at "${pointer || '/'}".`, at);
    if (key.startsWith('$')) throw invalid(`The property "${key}" starts with "$": such names are the hub's ($version, $metadata).`, at);
    if (BAD_KEY_CHAR.test(key)) throw invalid(`The property name "${key}" holds ".", "$", a space or a control character.`, at);
    if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw invalid(`A property name at "${pointer || '/'}" is longer than ${MAX_KEY_BYTES} bytes.`, at);
    if (value === null) {
      if (!allowNull) throw invalid(`"${at}" is null; null only deletes a property in a patch.`, at);
    } else if (typeof value === 'string') {
      if (Buffer.byteLength(value) > MAX_STRING_BYTES) throw invalid(`The string at "${at}" is longer than ${MAX_STRING_BYTES} bytes.`, at);
    } else if (isPlainObject(value)) {
      check(value, at, depth + 1, allowNull);
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw invalid(`The number at "${at}" is not finite.`, at);
    } else if (typeof value !== 'boolean' && !Array.isArray(value)) {
      throw invalid(`The value at "${at}" is not a JSON value.`, at);
    }
  }
}

/** RFC 7386 JSON merge patch: `null` deletes, objects merge recursively, anything else replaces. Returns a new object. */
export function mergePatch(target: TwinSection, patch: TwinSection): TwinSection {
  const out: TwinSection = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete out[key];
    } else if (isPlainObject(value)) {
      const current = out[key];
      out[key] = mergePatch(isPlainObject(current) ? current : {}, value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** The merge patch that turns `from` into `to` (removed keys become `null`); empty when they are equal. */
export function diffPatch(from: TwinSection, to: TwinSection): TwinSection {
  const patch: TwinSection = {};
  for (const key of Object.keys(from)) if (!Object.hasOwn(to, key)) patch[key] = null;
  for (const [key, value] of Object.entries(to)) {
    const old = from[key];
    if (isPlainObject(value) && isPlainObject(old)) {
      const inner = diffPatch(old, value);
      if (Object.keys(inner).length > 0) patch[key] = inner;
    } else if (!Object.hasOwn(from, key) || !jsonEqual(old, value)) {
      patch[key] = value;
    }
  }
  return patch;
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}

/** The size IoT Hub counts for a section: its JSON in UTF-8 bytes. */
export function sectionBytes(section: TwinSection): number {
  return Buffer.byteLength(JSON.stringify(section));
}

/** Throws FERRY_E_SIM_TWIN_TOO_LARGE when a section would grow past the limit. */
export function assertSectionSize(section: TwinSection, which: 'desired' | 'reported', limit: number, twinId: string): void {
  const size = sectionBytes(section);
  if (size > limit) {
    throw simulatorError('FERRY_E_SIM_TWIN_TOO_LARGE', `The ${which} properties of ${twinId} would be ${size} bytes, over the limit of ${limit}; nothing was changed.`, {
      details: { section: which, size, limit },
    });
  }
}
