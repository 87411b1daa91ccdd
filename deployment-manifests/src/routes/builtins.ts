/**
 * The built-in functions of edge routes (iotedge `query/builtins/*.cs`, ConditionVisitor's table;
 * names are case-insensitive). Each function has overloads tried in order; the first whose
 * parameters fit the argument types is used, else the call is a compile error.
 *
 * A "dynamic" overload (QueryValue-supported in the reference) also takes `$body` values (type
 * `any`) where it takes a null, number, string or bool; its arguments arrive as dynamic values and
 * a value of the wrong run-time type makes the result undefined.
 */
import type { ValueType } from './ast.js';
import { FALSE, TRUE, UNDEF, parseNumber, pow, tri, type Dynamic, type Tri } from './values.js';

export type Params =
  | { readonly kind: 'exact'; readonly types: readonly ValueType[] }
  /** The last type repeats (VarArgs): `concat(string, string, string...)`. */
  | { readonly kind: 'var'; readonly types: readonly ValueType[] }
  /** Any arguments of this count (AnyArgs). */
  | { readonly kind: 'any'; readonly arity: number };

export interface Overload {
  readonly params: Params;
  readonly dynamic: boolean;
  readonly result: ValueType;
  /** Typed arguments (or dynamic ones for a dynamic overload) to a typed result. */
  readonly run: (args: readonly unknown[]) => unknown;
  /** The result does not depend on the arguments (e.g. is_bool('a') is false). */
  readonly constant?: boolean;
}

const exact = (...types: ValueType[]): Params => ({ kind: 'exact', types });
const SUPPORTED = new Set<ValueType>(['null', 'number', 'string', 'bool']);

function fits(expected: ValueType, given: ValueType, dynamic: boolean): boolean {
  if (expected === given) return true;
  return dynamic && ((given === 'any' && SUPPORTED.has(expected)) || (expected === 'any' && SUPPORTED.has(given)));
}

/** Whether arguments of these types fit an overload (Args.Match, VarArgs.Match, AnyArgs.Match). */
export function matches(o: Overload, given: readonly ValueType[]): boolean {
  const p = o.params;
  if (p.kind === 'any') return given.length === p.arity;
  if (p.kind === 'exact') return p.types.length === given.length && p.types.every((t, i) => fits(t, given[i] as ValueType, o.dynamic));
  const fixed = p.types.length - 1;
  const last = p.types[fixed] as ValueType;
  // VarArgs: a given type must equal the expected one, or be a $body value
  const ok = (t: ValueType, g: ValueType): boolean => g === t || (o.dynamic && g === 'any');
  return given.length >= fixed && given.every((g, i) => ok(i < fixed ? (p.types[i] as ValueType) : last, g));
}

const num = (v: Dynamic): v is number => typeof v === 'number';
const str = (v: Dynamic): v is string => typeof v === 'string';

function math(f: (x: number) => number): Overload {
  return { params: exact('number'), dynamic: true, result: 'number', run: ([x]) => (num(x as Dynamic) ? f(x as number) : NaN) };
}

function strings2(f: (s: string, t: string) => Tri | number, result: ValueType): Overload {
  return {
    params: exact('string', 'string'),
    dynamic: true,
    result,
    run: ([s, t]) => (str(s as Dynamic) && str(t as Dynamic) ? f(s as string, t as string) : result === 'bool' ? UNDEF : NaN),
  };
}

function string1(f: (s: string) => unknown, result: ValueType): Overload {
  return { params: exact('string'), dynamic: true, result, run: ([s]) => (str(s as Dynamic) ? f(s as string) : result === 'number' ? NaN : undefined) };
}

const alwaysFalse: Overload = { params: { kind: 'any', arity: 1 }, dynamic: false, result: 'bool', run: () => FALSE, constant: true };

export const BUILTINS: ReadonlyMap<string, readonly Overload[]> = new Map<string, readonly Overload[]>([
  // math (Abs.cs ... Sqrt.cs)
  ['abs', [math(Math.abs)]],
  ['exp', [math(Math.exp)]],
  ['power', [{ params: exact('number', 'number'), dynamic: true, result: 'number', run: ([x, y]) => (num(x as Dynamic) && num(y as Dynamic) ? pow(x as number, y as number) : NaN) }]],
  ['square', [math((x) => x * x)]],
  ['ceiling', [math(Math.ceil)]],
  ['floor', [math(Math.floor)]],
  ['sign', [math((x) => (x > 0 ? 1 : x < 0 ? -1 : 0))]],
  ['sqrt', [math(Math.sqrt)]],
  // type checking (AsNumber.cs, IsBool.cs, IsDefined.cs, IsNull.cs, IsNumber.cs, IsString.cs)
  ['as_number', [
    { params: exact('string'), dynamic: true, result: 'number', run: ([v]) => (str(v as Dynamic) ? parseNumber(v as string) : num(v as Dynamic) ? v : NaN) },
    { params: exact('number'), dynamic: false, result: 'number', run: ([v]) => v },
  ]],
  ['is_bool', [
    { params: exact('bool'), dynamic: true, result: 'bool', run: ([v]) => (v === undefined ? UNDEF : tri(typeof v === 'boolean')) },
    alwaysFalse,
  ]],
  ['is_defined', [
    { params: exact('string'), dynamic: false, result: 'bool', run: ([v]) => tri(v !== undefined) },
    { params: exact('number'), dynamic: false, result: 'bool', run: ([v]) => tri(!Number.isNaN(v)) },
    { params: exact('bool'), dynamic: false, result: 'bool', run: ([v]) => tri(v !== UNDEF) },
    { params: exact('undefined'), dynamic: false, result: 'bool', run: () => FALSE, constant: true },
    { params: exact('null'), dynamic: false, result: 'bool', run: () => TRUE, constant: true },
    { params: exact('any'), dynamic: false, result: 'bool', run: ([v]) => tri(v !== undefined) },
  ]],
  ['is_null', [
    // property values are never null here (a missing one is undefined, not null)
    { params: exact('string'), dynamic: false, result: 'bool', run: () => FALSE, constant: true },
    { params: exact('any'), dynamic: false, result: 'bool', run: ([v]) => (v === undefined ? UNDEF : tri(v === null)) },
    { params: exact('null'), dynamic: false, result: 'bool', run: () => TRUE, constant: true },
    alwaysFalse,
  ]],
  ['is_number', [
    { params: exact('number'), dynamic: true, result: 'bool', run: ([v]) => tri(num(v as Dynamic) && Number.isFinite(v)) },
    alwaysFalse,
  ]],
  ['is_string', [
    { params: exact('string'), dynamic: true, result: 'bool', run: ([v]) => tri(str(v as Dynamic)) },
    alwaysFalse,
  ]],
  // strings (Concat.cs ... Contains.cs)
  ['concat', [{ params: { kind: 'var', types: ['string', 'string', 'string'] }, dynamic: true, result: 'string', run: (args) => (args.every((a) => typeof a === 'string') ? args.join('') : undefined) }]],
  ['length', [string1((s) => s.length, 'number')]],
  ['lower', [string1((s) => s.toLowerCase(), 'string')]],
  ['upper', [string1((s) => s.toUpperCase(), 'string')]],
  ['substring', [
    {
      params: exact('string', 'number'), dynamic: true, result: 'string',
      run: ([s, start]) => (str(s as Dynamic) && num(start as Dynamic) && (start as number) >= 0 && (start as number) <= (s as string).length
        ? (s as string).slice(Math.trunc(start as number)) : undefined),
    },
    {
      params: exact('string', 'number', 'number'), dynamic: true, result: 'string',
      run: ([s, start, length]) => {
        if (!str(s as Dynamic) || !num(start as Dynamic) || !num(length as Dynamic)) return undefined;
        const [text, from, count] = [s as string, start as number, length as number];
        const valid = from >= 0 && from < text.length && count >= 0 && count <= text.length - from;
        return valid ? text.slice(Math.trunc(from), Math.trunc(from) + Math.trunc(count)) : undefined;
      },
    },
  ]],
  ['index_of', [strings2((s, t) => s.indexOf(t), 'number')]],
  ['starts_with', [strings2((s, t) => tri(s.startsWith(t)), 'bool')]],
  ['ends_with', [strings2((s, t) => tri(s.endsWith(t)), 'bool')]],
  ['contains', [strings2((s, t) => tri(s.includes(t)), 'bool')]],
]);
