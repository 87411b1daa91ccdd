/**
 * Run-time values of the condition language and the operations on them (iotedge `query/Bool.cs`,
 * `Null.cs`, `Undefined.cs`, `ComparisonOperators.cs`, `types/QueryValue.cs`).
 *
 * Each static type has one run-time representation:
 * - bool: a `Tri` (1 true, -1 false, 0 undefined);
 * - number: a double, NaN meaning undefined (so `sqrt(-1)`, `x % 0`, `0/0` are undefined);
 * - string: a string, or JS `undefined`;
 * - null: `null`; undefined: `undefined`;
 * - any (a `$body` value, iotedge's QueryValue): `undefined | null | boolean | number | string`.
 */
import type { ValueType } from './ast.js';

export type Tri = 1 | -1 | 0;
export const TRUE: Tri = 1;
export const FALSE: Tri = -1;
export const UNDEF: Tri = 0;

export type Dynamic = undefined | null | boolean | number | string;

export const tri = (b: boolean): Tri => (b ? TRUE : FALSE);

/** Three-valued AND (Bool.cs `&`): false wins, then undefined. */
export function and3(x: Tri, y: Tri): Tri {
  if (x === FALSE || y === FALSE) return FALSE;
  return x === UNDEF || y === UNDEF ? UNDEF : TRUE;
}

/** Three-valued OR (Bool.cs `|`): true wins, then undefined. */
export function or3(x: Tri, y: Tri): Tri {
  if (x === TRUE || y === TRUE) return TRUE;
  return x === UNDEF || y === UNDEF ? UNDEF : FALSE;
}

export const not3 = (x: Tri): Tri => (-x as Tri);

/** A typed value as a dynamic one (QueryValue's implicit conversions: undefined stays undefined). */
export function toDynamic(type: ValueType, v: unknown): Dynamic {
  switch (type) {
    case 'bool': return v === TRUE ? true : v === FALSE ? false : undefined;
    case 'number': return Number.isNaN(v) ? undefined : (v as number);
    case 'null': return null;
    case 'undefined': return undefined;
    default: return v as Dynamic;
  }
}

/** A dynamic value as a condition's truth (QueryValue -> Bool: only a boolean is defined). */
export const dynamicTri = (v: Dynamic): Tri => (v === true ? TRUE : v === false ? FALSE : UNDEF);

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

function fromOrder(op: CompareOp, c: number): Tri {
  switch (op) {
    case '=': return tri(c === 0);
    case '!=': return tri(c !== 0);
    case '<': return tri(c < 0);
    case '<=': return tri(c <= 0);
    case '>': return tri(c > 0);
    default: return tri(c >= 0);
  }
}

/** Ordinal comparison of UTF-16 code units, as string.Compare(..., Ordinal). */
const order = <T extends string | number>(a: T, b: T): number => (a < b ? -1 : a > b ? 1 : 0);

export function compareStrings(op: CompareOp, a: string | undefined, b: string | undefined): Tri {
  return a === undefined || b === undefined ? UNDEF : fromOrder(op, order(a, b));
}

export function compareNumbers(op: CompareOp, a: number, b: number): Tri {
  return Number.isNaN(a) || Number.isNaN(b) ? UNDEF : fromOrder(op, order(a, b));
}

export function compareBools(op: CompareOp, a: Tri, b: Tri): Tri {
  return a === UNDEF || b === UNDEF ? UNDEF : fromOrder(op, order(a, b));
}

/** null compared with null: equal (ComparisonOperators.Compare(Null, Null)). */
export const compareNulls = (op: CompareOp): Tri => (op === '=' || op === '<=' || op === '>=' ? TRUE : FALSE);

// QueryValueType order (None, Bool, Double, String, Null, Object): values of different types are
// ordered by type, so `$body.temp = '50'` is false when temp is the number 50 (no implicit conversion).
function rank(v: Dynamic): number {
  switch (typeof v) {
    case 'boolean': return 1;
    case 'number': return 2;
    case 'string': return 3;
    default: return 4;
  }
}

/** QueryValue comparison: undefined if either side is; otherwise by type, then by value. */
export function compareDynamic(op: CompareOp, a: Dynamic, b: Dynamic): Tri {
  if (a === undefined || b === undefined) return UNDEF;
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return fromOrder(op, ra - rb);
  if (ra === 4) return fromOrder(op, 0);
  if (ra === 1) return fromOrder(op, order(a ? 1 : -1, b ? 1 : -1));
  return fromOrder(op, order(a as string | number, b as string | number));
}

/** Math.Pow as .NET (IEEE 754 pow): unlike `**`, 1 to any power and -1 to ±Infinity are 1. */
export function pow(x: number, y: number): number {
  if (x === 1 || ((x === -1) && !Number.isFinite(y) && !Number.isNaN(y))) return 1;
  return x ** y;
}

const WHITE = /^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g;
const NUMBER_SHAPE = /^([+-]?)\u00a4?([+-]?)((?:\d[\d,]*)?(?:\.\d*)?)(?:[eE]([+-]?\d+))?([+-]?)$/;

/**
 * AS_NUMBER's parse: double.TryParse(s, NumberStyles.Any, InvariantCulture): surrounding white
 * space, a leading or trailing sign, parentheses for negatives, thousands separators, a decimal
 * point, an exponent, `Infinity`/`-Infinity`. Anything else is undefined (NaN).
 */
export function parseNumber(s: string): number {
  let t = s.replace(WHITE, '');
  let negate = false;
  if (t.startsWith('(') && t.endsWith(')')) {
    negate = true;
    t = t.slice(1, -1);
  }
  if (t === 'Infinity' || t === '+Infinity' || t === '\u221e') return negate ? -Infinity : Infinity;
  if (t === '-Infinity' || t === '-\u221e') return negate ? NaN : -Infinity;
  const m = NUMBER_SHAPE.exec(t);
  if (!m) return NaN;
  const signs = [m[1], m[2], m[5]].filter((x) => x);
  const mantissa = (m[3] ?? '').replace(/,/g, '');
  if (signs.length > 1 || (negate && signs.length > 0) || !/\d/.test(mantissa)) return NaN;
  const value = Number(`${mantissa}${m[4] !== undefined ? `e${m[4]}` : ''}`);
  return signs[0] === '-' || negate ? -value : value;
}
