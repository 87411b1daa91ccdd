/**
 * Layered deployments as IoT Hub applies them (Azure docs, "Understand IoT Edge automatic deployments", layered
 * deployment): a base deployment manifest, then layers in order, a later layer winning over an earlier one.
 * A layer's `modulesContent` names twin paths under `properties.desired` as single keys:
 *   "$edgeAgent": {"properties.desired.modules.<module>": {...}}       a module (replaced whole)
 *   "$edgeHub":   {"properties.desired.routes.<route>": "FROM ..."}     a route (string or schema 1.1 object)
 *   "<module>":   {"properties.desired.<a>.<b>": value}                  one desired property of a module twin
 *   "<module>":   {"properties.desired": {...}}                          a module twin's whole desired section
 * System settings ($edgeAgent runtime and systemModules, $edgeHub schemaVersion and store-and-forward) come from
 * the base only. The merged manifest is validated by parseDeploymentManifest; every problem is positioned in the
 * file (base or layer) that wrote the offending value.
 */
import { readFileSync } from 'node:fs';
import { deploymentError } from '../errors.js';
import { describe, isObject, pointerTo, positionOf, type JsonObject } from './json-fields.js';
import { jsonErrorOffset, positionOfPointer } from './layered-json-positions.js';
import type { DeploymentManifest, ManifestProblem } from './manifest-types.js';
import { parseDeploymentManifest } from './parse-manifest.js';

const DESIRED = 'properties.desired';

/** A manifest or layer file's text and the name it is reported under (its path). */
export interface ManifestSource {
  readonly text: string;
  readonly file: string;
}

/** A problem placed in the file that holds it. */
export interface LayeredManifestProblem extends ManifestProblem {
  /** The base manifest or layer file. */
  readonly file: string;
  /** JSON pointer inside that file. */
  readonly filePointer: string;
  /** 1-based line and column of that place in the file. */
  readonly fileLine?: number;
  readonly fileColumn?: number;
}

interface Origin {
  readonly source: ManifestSource;
  /** Pointer in the layer file of the key that set the value. */
  readonly pointer: string;
}

/**
 * Merges `layers` onto `base` in order and validates the result (no layers: the base alone, its problems
 * positioned in its file).
 * @throws FERRY_E_MANIFEST_INVALID with details { pointer, file, filePointer, fileLine?, fileColumn?, line?, column?, errors: LayeredManifestProblem[] }
 */
export function parseLayeredDeployment(base: ManifestSource, layers: readonly ManifestSource[] = []): DeploymentManifest {
  const merged = parseJsonSource(base);
  const modulesContent = findModulesContent(merged);
  const origins = new Map<string, Origin>();
  const problems: LayeredManifestProblem[] = [];
  for (const layer of layers) {
    const json = parseJsonSource(layer);
    applyLayer(modulesContent, json, layer, origins, problems);
  }
  if (problems.length > 0) throw layeredError(problems);
  try {
    return parseDeploymentManifest(merged, base.file);
  } catch (e) {
    const details = (e as { details?: { errors?: ManifestProblem[] } }).details;
    if (!details?.errors) throw e;
    throw layeredError(details.errors.map((p) => place(p, base, origins)));
  }
}

/**
 * Reads the base manifest and layer files and merges them (parseLayeredDeployment).
 * @throws FERRY_E_MANIFEST_INVALID, also for a file that cannot be read (details.file)
 */
export function readLayeredDeployment(baseFile: string, layerFiles: readonly string[] = []): DeploymentManifest {
  const read = (file: string): ManifestSource => {
    try {
      return { file, text: readFileSync(file, 'utf8') };
    } catch (e) {
      throw deploymentError('FERRY_E_MANIFEST_INVALID', `${file} cannot be read: ${(e as Error).message}.`, {
        details: { pointer: '', file, filePointer: '', errors: [{ pointer: '', message: 'cannot be read', file, filePointer: '' }] },
      });
    }
  };
  return parseLayeredDeployment(read(baseFile), layerFiles.map(read));
}

function parseJsonSource(source: ManifestSource): unknown {
  try {
    return JSON.parse(source.text);
  } catch (e) {
    const offset = jsonErrorOffset(source.text);
    const at = offset === undefined ? {} : (({ line, column }) => ({ fileLine: line, fileColumn: column }))(positionOf(source.text, offset));
    throw layeredError([{ pointer: '', message: `not JSON (${(e as Error).message})`, file: source.file, filePointer: '', ...at }]);
  }
}

/** The `modulesContent` object of a manifest or layer (`{"modulesContent"}` or an IoT Hub deployment's `{"content": {"modulesContent"}}`). */
function findModulesContent(json: unknown): JsonObject {
  if (!isObject(json)) return {};
  const root = json['content'] !== undefined && json['modulesContent'] === undefined ? json['content'] : json;
  return isObject(root) && isObject(root['modulesContent']) ? root['modulesContent'] : {};
}

function applyLayer(target: JsonObject, json: unknown, layer: ManifestSource, origins: Map<string, Origin>, problems: LayeredManifestProblem[]): void {
  const add = (filePointer: string, message: string): void => {
    problems.push({ pointer: '', message, ...at(layer, filePointer) });
  };
  if (!isObject(json)) return add('', `a layer is a JSON object {"modulesContent": {...}}, not ${describe(json)}`);
  const wrapped = json['content'] !== undefined && json['modulesContent'] === undefined;
  const root = wrapped ? json['content'] : json;
  const base = wrapped ? '/content' : '';
  if (!isObject(root) || !isObject(root['modulesContent'])) return add(base, 'a layer needs a "modulesContent" object');
  const mcPointer = pointerTo(base, 'modulesContent');
  const targetPointer = '/modulesContent';
  for (const [module, section] of Object.entries(root['modulesContent'])) {
    const sectionPointer = pointerTo(mcPointer, module);
    if (!isObject(section)) {
      add(sectionPointer, `a module's layer content is an object of "properties.desired..." keys, not ${describe(section)}`);
      continue;
    }
    for (const [key, value] of Object.entries(section)) {
      const keyPointer = pointerTo(sectionPointer, key);
      const path = desiredPath(module, key);
      if (typeof path === 'string') {
        add(keyPointer, path);
        continue;
      }
      const twin = (target[module] ??= {});
      if (!isObject(twin)) {
        add(keyPointer, `the base has no object for "${module}"`);
        continue;
      }
      if (path.length === 0) {
        twin[DESIRED] = structuredClone(value);
      } else {
        let node = (twin[DESIRED] ??= {});
        let ok = isObject(node);
        for (const token of path.slice(0, -1)) {
          if (!isObject(node)) break;
          node = (node[token] ??= {});
          ok = isObject(node);
        }
        if (!ok || !isObject(node)) {
          add(keyPointer, `"${key}" goes through a value that is not an object in the manifest below this layer`);
          continue;
        }
        node[path[path.length - 1]!] = structuredClone(value);
      }
      const mergedPointer = pointerTo(targetPointer, module, DESIRED, ...path);
      // This layer's value replaces whatever earlier layers set at or below this place.
      for (const p of [...origins.keys()]) if (p === mergedPointer || p.startsWith(`${mergedPointer}/`)) origins.delete(p);
      origins.set(mergedPointer, { source: layer, pointer: keyPointer });
    }
  }
}

/** The path under properties.desired a layer key names, or why the key is not allowed. */
function desiredPath(module: string, key: string): string[] | string {
  if (key !== DESIRED && !key.startsWith(`${DESIRED}.`)) return `a layer key is "properties.desired" or "properties.desired.<path>", not "${key}"`;
  const path = key === DESIRED ? [] : key.slice(DESIRED.length + 1).split('.');
  if (path.some((t) => t === '')) return `"${key}" has an empty path segment`;
  if (module === '$edgeAgent' && !(path[0] === 'modules' && path.length >= 2)) {
    return `a layer sets $edgeAgent only through "properties.desired.modules.<module>" (runtime and system modules come from the base deployment), not "${key}"`;
  }
  if (module === '$edgeHub' && !(path[0] === 'routes' && path.length === 2)) {
    return `a layer sets $edgeHub only through "properties.desired.routes.<route>" (schema and store-and-forward come from the base deployment), not "${key}"`;
  }
  return path;
}

/** Places a problem of the merged manifest in the file that wrote the value (the latest layer, else the base). */
function place(p: ManifestProblem, base: ManifestSource, origins: ReadonlyMap<string, Origin>): LayeredManifestProblem {
  // The base may wrap modulesContent in "content" (an IoT Hub deployment); layers' pointers are under /modulesContent.
  const inner = p.pointer.startsWith('/content/') ? p.pointer.slice('/content'.length) : p.pointer;
  let best: [string, Origin] | undefined;
  for (const entry of origins) {
    const [q] = entry;
    if ((inner === q || inner.startsWith(`${q}/`)) && (!best || q.length > best[0].length)) best = entry;
  }
  if (!best) return { ...p, ...at(base, p.pointer) };
  const [q, origin] = best;
  return { ...p, ...at(origin.source, origin.pointer + inner.slice(q.length)) };
}

function at(source: ManifestSource, filePointer: string): { file: string; filePointer: string; fileLine?: number; fileColumn?: number } {
  const position = positionOfPointer(source.text, filePointer);
  return { file: source.file, filePointer, ...(position ? { fileLine: position.line, fileColumn: position.column } : {}) };
}

function layeredError(problems: readonly LayeredManifestProblem[]): Error {
  const first = problems[0]!;
  const where = `${first.file}${first.fileLine === undefined ? '' : `:${first.fileLine}:${first.fileColumn}`}`;
  const inRoute = first.line === undefined ? '' : ` (line ${first.line}, column ${first.column} of the route)`;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  return deploymentError('FERRY_E_MANIFEST_INVALID', `${where}: invalid at ${first.filePointer || '/'}${inRoute}: ${first.message}${more}.`, {
    details: {
      pointer: first.pointer,
      file: first.file,
      filePointer: first.filePointer,
      ...(first.fileLine === undefined ? {} : { fileLine: first.fileLine, fileColumn: first.fileColumn }),
      ...(first.line === undefined ? {} : { line: first.line, column: first.column }),
      errors: problems,
    },
  });
}
