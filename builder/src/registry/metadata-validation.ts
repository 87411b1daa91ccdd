/** Checks of user-given metadata: tags, properties, framework, usages. */
import { registryError } from '../errors.js';
import type { ModelFramework, ModelUsage } from './model-record.js';

const MAX_KEY_LENGTH = 256;
const MAX_VALUE_LENGTH = 4096;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Validates a tag or property map and returns a plain copy (no prototype surprises). */
export function checkKeyValues(what: 'tag' | 'property', map: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (map === undefined) return out;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw registryError('FERRY_E_MODEL_TAG_INVALID', `The ${what}s must be an object of string keys and values`);
  }
  for (const [key, value] of Object.entries(map)) {
    checkKey(what, key);
    if (typeof value !== 'string') {
      throw registryError('FERRY_E_MODEL_TAG_INVALID', `The ${what} "${key}" has a value that is not a string`);
    }
    if (value.length > MAX_VALUE_LENGTH || CONTROL.test(value)) {
      throw registryError('FERRY_E_MODEL_TAG_INVALID', `The ${what} "${key}" has a value longer than ${MAX_VALUE_LENGTH} characters or holding control characters`);
    }
    out[key] = value;
  }
  return out;
}

export function checkKey(what: 'tag' | 'property', key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || key.includes('=') || CONTROL.test(key) || key.trim() !== key) {
    throw registryError('FERRY_E_MODEL_TAG_INVALID', `${JSON.stringify(key)} is not a valid ${what} key`, { details: { key } });
  }
}

export function checkFramework(framework: unknown): asserts framework is ModelFramework | undefined {
  if (framework !== undefined && framework !== 'onnx' && framework !== 'custom') {
    throw registryError('FERRY_E_MODEL_FRAMEWORK_INVALID', `${JSON.stringify(framework)} is not a framework Ferry knows`);
  }
}

export function checkDescription(description: unknown): string {
  if (description === undefined) return '';
  if (typeof description !== 'string') {
    throw registryError('FERRY_E_MODEL_TAG_INVALID', 'The description must be a string');
  }
  return description;
}

export function checkUsage(usage: ModelUsage): void {
  const { kind, id } = usage ?? ({} as ModelUsage);
  if ((kind !== 'build' && kind !== 'deployment') || typeof id !== 'string' || id.length === 0 || id.length > MAX_KEY_LENGTH) {
    throw registryError('FERRY_E_MODEL_USAGE_INVALID', `${JSON.stringify(usage)} is not a usage`);
  }
}
