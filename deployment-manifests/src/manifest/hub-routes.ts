/**
 * `$edgeHub` routes (PROTOCOLS.md §5-6; iotedge EdgeHubDesiredProperties_1_x, RouteSpec, doc/Route_priority_and_TTL.md):
 * a string, or from schema 1.1 on `{route, priority, timeToLiveSecs}`; each compiled, and every module it
 * names (source or BrokeredEndpoint sink) must be one of the manifest's.
 */
import { isFerryError } from '../errors.js';
import { tokenize, type Token } from '../routes/lexer.js';
import { compileRoute, type CompiledRoute } from '../routes/route.js';
import { describe, isObject, pointerTo, type JsonObject, type Problems } from './json-fields.js';
import { DEFAULT_ROUTE_PRIORITY, type ManifestRoute } from './manifest-types.js';

const ROUTE_NAME = /^[^.$# ]+$/;
const UINT32_MAX = 4294967295;

export function readRoutes(routes: JsonObject, pointer: string, minor: number, modules: readonly string[], problems: Problems): ManifestRoute[] {
  const out: ManifestRoute[] = [];
  for (const [name, spec] of Object.entries(routes)) {
    const at = pointerTo(pointer, name);
    if (!ROUTE_NAME.test(name)) problems.add(at, `the route name "${name}" may not be empty nor hold '.', '$', '#' or spaces`);
    let text: string | undefined;
    let textPointer = at;
    let priority = DEFAULT_ROUTE_PRIORITY;
    let ttl: number | undefined;
    if (typeof spec === 'string') {
      text = spec;
    } else if (isObject(spec)) {
      if (minor < 1) {
        problems.add(at, 'a route given as {"route", "priority", "timeToLiveSecs"} needs $edgeHub schemaVersion 1.1 or later (1.0 takes strings only)');
        continue;
      }
      problems.onlyKeys(spec, at, ['route', 'priority', 'timeToLiveSecs'], 'a route');
      text = problems.string(spec, 'route', at);
      textPointer = pointerTo(at, 'route');
      priority = problems.integer(spec, 'priority', at, 0, 9, false) ?? DEFAULT_ROUTE_PRIORITY;
      // RouteSpec: a TTL of 0 means "not given": storeAndForwardConfiguration's applies.
      const t = problems.integer(spec, 'timeToLiveSecs', at, 0, UINT32_MAX, false);
      ttl = t === 0 ? undefined : t;
    } else {
      problems.add(at, `a route is a string${minor >= 1 ? ' or {"route": ..., "priority": 0-9, "timeToLiveSecs": n}' : ''}, not ${describe(spec)}`);
      continue;
    }
    if (text === undefined) continue;
    let compiled: CompiledRoute;
    try {
      compiled = compileRoute(text);
    } catch (e) {
      if (!isFerryError(e)) throw e;
      const d = (e.details ?? {}) as { line?: number; column?: number; message?: string };
      problems.add(textPointer, `the route does not compile: line ${d.line}, column ${d.column}: ${d.message ?? e.reason}`, { line: d.line ?? 1, column: d.column ?? 1 });
      continue;
    }
    if (checkModules(text, compiled, textPointer, modules, problems)) out.push({ name, text, compiled, priority, timeToLiveSecs: ttl, pointer: at });
  }
  return out;
}

/** A route naming a module the manifest does not have is an error (a typo would silently drop messages). */
function checkModules(text: string, route: CompiledRoute, pointer: string, modules: readonly string[], problems: Problems): boolean {
  let ok = true;
  const tokens = tokenize(text);
  const source = /^\/messages\/modules\/([^/]+)\//i.exec(route.source);
  // Sources match modules ignoring case, as edgeHub's prefix match does.
  if (source && !modules.some((m) => m.toLowerCase() === (source[1] as string).toLowerCase())) {
    ok = false;
    const token = sourceModuleToken(tokens) ?? tokens[0];
    problems.add(pointer, `the route's source names the module "${source[1]}", which this manifest does not have (modules: ${modules.join(', ') || 'none'})`, at(token));
  }
  if (route.sink.kind === 'module-input' && !modules.includes(route.sink.module)) {
    ok = false;
    const strings = tokens.filter((t) => t.kind === 'STRING');
    const token = strings[strings.length - 1];
    problems.add(pointer, `the route's sink names the module "${route.sink.module}", which this manifest does not have (modules: ${modules.join(', ') || 'none'})`, at(token, 10));
  }
  return ok;
}

function at(token: Token | undefined, shift = 0): { line: number; column: number } {
  // A STRING token starts at its quote: `"/modules/` is 10 characters before the module name.
  return token ? { line: token.line, column: token.column + shift } : { line: 1, column: 1 };
}

/** FROM / messages / modules / <module>: the module's token. */
function sourceModuleToken(tokens: readonly Token[]): Token | undefined {
  const from = tokens.findIndex((t) => t.kind === 'FROM');
  const seq = tokens.slice(from + 1, from + 7);
  if (from < 0 || seq.length < 6 || seq[3]?.text.toLowerCase() !== 'modules') return undefined;
  return seq[5];
}
