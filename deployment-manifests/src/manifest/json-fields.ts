/** Reading JSON fields with RFC 6901 pointers, collecting every problem instead of stopping at the first. */
import type { ManifestProblem } from './manifest-types.js';

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `base` + `/key` with `~` and `/` escaped (RFC 6901 §3). */
export function pointerTo(base: string, ...keys: string[]): string {
  return base + keys.map((k) => `/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  return `${typeof value} ${String(value)}`;
}

/** Collects problems; each reader returns undefined for a field it could not read. */
export class Problems {
  readonly list: ManifestProblem[] = [];

  add(pointer: string, message: string, position?: { line: number; column: number }): undefined {
    this.list.push(position ? { pointer, message, line: position.line, column: position.column } : { pointer, message });
    return undefined;
  }

  /** Flags keys that are not allowed (the schema's additionalProperties: false). */
  onlyKeys(object: JsonObject, pointer: string, allowed: readonly string[], what: string): void {
    for (const key of Object.keys(object)) {
      if (!allowed.includes(key)) this.add(pointerTo(pointer, key), `unknown key "${key}" in ${what} (allowed: ${allowed.join(', ')})`);
    }
  }

  object(parent: JsonObject, key: string, pointer: string, required = true): JsonObject | undefined {
    const value = parent[key];
    const at = pointerTo(pointer, key);
    if (value === undefined) return required ? this.add(at, `"${key}" is required`) : undefined;
    if (!isObject(value)) return this.add(at, `"${key}" must be an object, not ${describe(value)}`);
    return value;
  }

  string(parent: JsonObject, key: string, pointer: string, required = true): string | undefined {
    const value = parent[key];
    const at = pointerTo(pointer, key);
    if (value === undefined) return required ? this.add(at, `"${key}" is required`) : undefined;
    if (typeof value !== 'string') return this.add(at, `"${key}" must be a string, not ${describe(value)}`);
    return value;
  }

  integer(parent: JsonObject, key: string, pointer: string, min: number, max: number, required = true): number | undefined {
    const value = parent[key];
    const at = pointerTo(pointer, key);
    if (value === undefined) return required ? this.add(at, `"${key}" is required`) : undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      return this.add(at, `"${key}" must be an integer from ${min} to ${max}, not ${describe(value)}`);
    }
    return value;
  }

  oneOf<T extends string>(parent: JsonObject, key: string, pointer: string, allowed: readonly T[], required = true): T | undefined {
    const value = parent[key];
    const at = pointerTo(pointer, key);
    if (value === undefined) return required ? this.add(at, `"${key}" is required`) : undefined;
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      return this.add(at, `"${key}" must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, not ${describe(value)}`);
    }
    return value as T;
  }
}

/** 1-based line and column of a character index in a text. */
export function positionOf(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < index && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      start = i + 1;
    }
  }
  return { line, column: index - start + 1 };
}
