/**
 * Compiling routes and conditions (PROTOCOLS.md §6; iotedge `RouteFactory.cs`, `query/RouteCompiler.cs`,
 * `messageSources/*.cs`, Edge.Hub.Core `routing/EndpointFactory.cs`).
 */
import { deploymentError } from '../errors.js';
import type { Diagnostic } from './ast.js';
import { systemProperty } from './body-query.js';
import { check } from './checker.js';
import { truth } from './evaluator.js';
import type { RouteMessage } from './message.js';
import { Parser, SyntaxFailure, type ParsedRoute } from './parser.js';
import type { Tri } from './values.js';
import type { Token } from './lexer.js';

export type RouteResult = 'true' | 'false' | 'undefined';

export type RouteSink = { readonly kind: 'upstream' } | { readonly kind: 'module-input'; readonly module: string; readonly input: string };

export interface CompiledCondition {
  /** The condition as written. */
  readonly text: string;
  /** Three-valued result; only 'true' routes a message. Never throws. */
  evaluate(message: RouteMessage): RouteResult;
}

export interface CompiledRoute {
  readonly text: string;
  /** The source as edgeHub normalizes it: trailing `*` and `/` dropped, one `/` added (`/messages/`). */
  readonly source: string;
  readonly sink: RouteSink;
  /** The sink as an endpoint string: `$upstream` or `BrokeredEndpoint("/modules/m/inputs/i")`. */
  readonly endpoint: string;
  /** The WHERE condition (`true` when the route has none). */
  readonly condition: CompiledCondition;
  /** Whether the message comes from this route's source (case-insensitive prefix match). */
  matchesSource(message: RouteMessage): boolean;
  /** Source and condition together: 'true' when the message takes this route. */
  evaluate(message: RouteMessage): RouteResult;
}

const RESULTS: Record<Tri, RouteResult> = { 1: 'true', [-1]: 'false', 0: 'undefined' } as Record<Tri, RouteResult>;

function invalid(text: string, diagnostics: readonly Diagnostic[], what: 'route' | 'condition'): Error {
  const first = diagnostics[0] as Diagnostic;
  const at = (d: Diagnostic) => ({ line: d.token.line, column: d.token.column, found: d.token.kind === 'EOF' ? '' : d.token.text, message: d.message });
  const where = first.token.kind === 'EOF' ? 'at the end' : `at '${first.token.text}'`;
  const more = diagnostics.length > 1 ? ` (and ${diagnostics.length - 1} more error${diagnostics.length > 2 ? 's' : ''})` : '';
  return deploymentError('FERRY_E_ROUTE_INVALID', `The ${what} does not compile: line ${first.token.line}, column ${first.token.column} ${where}: ${first.message}${more}.`, {
    details: { ...at(first), text, errors: diagnostics.map(at) },
  });
}

function conditionOf(text: string, expr: ReturnType<Parser['parseCondition']>, what: 'route' | 'condition'): CompiledCondition {
  if (expr === undefined) return { text, evaluate: () => 'undefined' };
  const { typed, errors } = check(expr);
  if (errors.length > 0) throw invalid(text, errors, what);
  const run = truth(typed);
  return { text, evaluate: (m) => RESULTS[run(m)] };
}

/**
 * Compiles a condition (the WHERE part of a route). An empty condition is always undefined.
 * @throws FERRY_E_ROUTE_INVALID with details { line, column, found, message, errors }
 */
export function compileCondition(text: string): CompiledCondition {
  const parser = new Parser(text);
  try {
    return conditionOf(text, parser.parseCondition(), 'condition');
  } catch (e) {
    if (e instanceof SyntaxFailure) throw invalid(text, [e.diagnostic], 'condition');
    throw e;
  }
}

/** True when the text starts with SELECT or FROM, i.e. is a route rather than a bare condition. */
export function isRouteText(text: string): boolean {
  return new Parser(text).looksLikeRoute();
}

/**
 * Compiles a route `[SELECT *] FROM <source> [WHERE <condition>] INTO <sink>`.
 * @throws FERRY_E_ROUTE_INVALID with details { line, column, found, message, errors }
 */
export function compileRoute(text: string): CompiledRoute {
  const parser = new Parser(text);
  let parsed: ParsedRoute;
  try {
    parsed = parser.parseRoute();
  } catch (e) {
    if (e instanceof SyntaxFailure) throw invalid(text, [e.diagnostic], 'route');
    throw e;
  }
  const { sink, endpoint } = sinkOf(text, parsed.sink);
  const condition = parsed.condition === undefined ? { text: 'true', evaluate: (): RouteResult => 'true' } : conditionOf(text, parsed.condition, 'route');
  const source = normalizeSource(parsed.source);
  const matchesSource = (m: RouteMessage): boolean => messageSource(m).toLowerCase().startsWith(source.toLowerCase());
  return {
    text,
    source,
    sink,
    endpoint,
    condition,
    matchesSource,
    evaluate: (m) => (matchesSource(m) ? condition.evaluate(m) : 'false'),
  };
}

// CustomMessageSource.Create + BaseMessageSource: trim, drop trailing '*', then trailing '/', add one '/'.
function normalizeSource(source: string): string {
  let s = source.trim().replace(/\*+$/, '');
  if (s.length > 1) s = s.replace(/\/+$/, '');
  return `${s.trim().replace(/\/+$/, '')}/`;
}

/** The message's source path (TelemetryMessageSource, ModuleMessageSource), with a trailing '/'. */
function messageSource(m: RouteMessage): string {
  const module = systemProperty(m, 'connectionModuleId');
  if (module === undefined || module === '') return '/messages/';
  const output = systemProperty(m, 'outputName');
  return output === undefined || output === '' ? `/messages/modules/${module}/` : `/messages/modules/${module}/outputs/${output}/`;
}

function sinkOf(text: string, sink: ParsedRoute['sink']): { sink: RouteSink; endpoint: string } {
  const fail = (token: Token, message: string): never => {
    throw invalid(text, [{ token, message }], 'route');
  };
  if (sink.kind === 'system') {
    // EndpointFactory.CreateSystemEndpoint: only $upstream, any case
    if (sink.token.text.toLowerCase() !== '$upstream') fail(sink.token, `unknown system endpoint '${sink.token.text}' (edge routes send to $upstream or BrokeredEndpoint("/modules/<module>/inputs/<input>"))`);
    return { sink: { kind: 'upstream' }, endpoint: '$upstream' };
  }
  if (sink.name.text.toLowerCase() !== 'brokeredendpoint') fail(sink.name, `unknown endpoint function '${sink.name.text}' (write BrokeredEndpoint("/modules/<module>/inputs/<input>"))`);
  const address = sink.address.text.slice(1, -1);
  const m = /^\/modules\/([^/]+)\/inputs\/([^/]+)$/.exec(address);
  if (!m) fail(sink.address, `the endpoint address ${sink.address.text} is not of the form "/modules/<module>/inputs/<input>"`);
  const [, module, input] = m as unknown as [string, string, string];
  return { sink: { kind: 'module-input', module, input }, endpoint: `BrokeredEndpoint("/modules/${module}/inputs/${input}")` };
}
