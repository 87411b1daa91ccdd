/** `settings` of a module: the image and Docker create options, which the tools split into 512-character chunks. */
import { describe, isObject, pointerTo, type JsonObject, type Problems } from './json-fields.js';
import type { EnvValue, ModuleSettings } from './manifest-types.js';

/** `createOptions`, then `createOptions01` .. `createOptions07`, joined in this order (iot-edge-object-model, iotedgedev). */
const CHUNKS = ['createOptions', ...Array.from({ length: 7 }, (_, i) => `createOptions0${i + 1}`)];

export function readSettings(settings: JsonObject, pointer: string, problems: Problems): ModuleSettings | undefined {
  problems.onlyKeys(settings, pointer, ['image', ...CHUNKS], 'module settings');
  const image = problems.string(settings, 'image', pointer);
  if (image !== undefined && image.trim() === '') problems.add(pointerTo(pointer, 'image'), '"image" must not be empty');
  const parts: string[] = [];
  let gapAt: string | undefined;
  let ok = true;
  for (const key of CHUNKS) {
    const value = settings[key];
    if (value === undefined) {
      gapAt ??= key;
      continue;
    }
    if (typeof value !== 'string') {
      ok = false;
      const hint = isObject(value) ? ' (a deployment manifest holds create options as a JSON string; deployment.template.json files hold objects that the tools turn into strings)' : '';
      problems.add(pointerTo(pointer, key), `"${key}" must be a string, not ${describe(value)}${hint}`);
      continue;
    }
    if (gapAt !== undefined) {
      ok = false;
      problems.add(pointerTo(pointer, key), `"${key}" is given but "${gapAt}" is not: create options chunks must follow each other`);
    }
    parts.push(value);
  }
  let createOptions: Record<string, unknown> = {};
  const text = parts.length > 0 ? parts.join('') : undefined;
  if (ok && text !== undefined && text.trim() !== '') {
    try {
      const parsed: unknown = JSON.parse(text);
      if (isObject(parsed)) createOptions = parsed;
      else problems.add(pointerTo(pointer, 'createOptions'), `the create options must be a JSON object, not ${describe(parsed)}`);
    } catch (e) {
      problems.add(pointerTo(pointer, 'createOptions'), `the create options${parts.length > 1 ? ` (${parts.length} chunks joined)` : ''} are not valid JSON: ${(e as Error).message}`);
    }
  }
  if (image === undefined) return undefined;
  return { image, createOptionsText: text, createOptions };
}

/** `env.<NAME>.value` (names `^[^+#$\s.]+$`, values string, number or boolean). */
export function readEnv(parent: JsonObject, pointer: string, problems: Problems): Record<string, EnvValue> {
  const env = problems.object(parent, 'env', pointer, false);
  const out: Record<string, EnvValue> = {};
  if (!env) return out;
  const at = pointerTo(pointer, 'env');
  for (const [name, entry] of Object.entries(env)) {
    const p = pointerTo(at, name);
    if (!/^[^+#$\s.]+$/.test(name)) problems.add(p, `the environment variable name "${name}" may not hold '+', '#', '$', '.' or spaces`);
    if (!isObject(entry)) {
      problems.add(p, `an environment variable is {"value": ...}, not ${describe(entry)}`);
      continue;
    }
    problems.onlyKeys(entry, p, ['value'], 'an environment variable');
    const value = entry['value'];
    if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) out[name] = value;
    else problems.add(pointerTo(p, 'value'), value === undefined ? '"value" is required' : `"value" must be a string, number or boolean, not ${describe(value)}`);
  }
  return out;
}
