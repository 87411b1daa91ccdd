/**
 * Compiles a type-checked condition once into a tree of closures, so evaluating it per message does
 * no dispatch on node kinds or types (iotedge compiles to a LINQ expression for the same reason).
 */
import type { ValueType } from './ast.js';
import { lookup, queryBody } from './body-query.js';
import type { Typed } from './checker.js';
import type { RouteMessage } from './message.js';
import {
  FALSE, TRUE, UNDEF, and3, compareBools, compareDynamic, compareNulls, compareNumbers, compareStrings,
  dynamicTri, not3, or3, toDynamic, type Dynamic, type Tri,
} from './values.js';

export type Evaluate = (m: RouteMessage) => unknown;

/** As a dynamic ($body-like) value, whatever the static type. */
function dynamic(node: Typed): (m: RouteMessage) => Dynamic {
  const f = compile(node);
  const type = node.type;
  if (type === 'any' || type === 'string') return f as (m: RouteMessage) => Dynamic;
  return (m) => toDynamic(type, f(m));
}

/** As a three-valued truth (Bool.cs conversions: null is false; numbers and strings are undefined). */
export function truth(node: Typed): (m: RouteMessage) => Tri {
  const f = compile(node);
  switch (node.type) {
    case 'bool': return f as (m: RouteMessage) => Tri;
    case 'null': return () => FALSE;
    case 'any': return (m) => dynamicTri(f(m) as Dynamic);
    default: return () => UNDEF;
  }
}

/** Undefined-ness per type (Undefined.IsDefined). */
function isDefined(type: ValueType): (v: unknown) => boolean {
  switch (type) {
    case 'number': return (v) => !Number.isNaN(v);
    case 'bool': return (v) => v !== UNDEF;
    case 'null': return () => true;
    case 'undefined': return () => false;
    default: return (v) => v !== undefined;
  }
}

export function compile(node: Typed): Evaluate {
  switch (node.op) {
    case 'const': {
      const value = node.value;
      return () => value;
    }
    case 'app': {
      const name = node.name;
      return (m) => lookup(m.properties, name);
    }
    case 'sys': {
      const name = node.name;
      return (m) => lookup(m.systemProperties, name);
    }
    case 'app-or-sys': {
      const { app, sys } = node;
      return (m) => lookup(m.properties, app) ?? lookup(m.systemProperties, sys);
    }
    case 'body': {
      const path = node.path;
      return (m) => queryBody(m, path);
    }
    case 'app-or-body': {
      const { app, path } = node;
      return (m) => lookup(m.properties, app) ?? queryBody(m, path);
    }
    case 'neg': {
      if (node.type === 'number') {
        const f = compile(node.operand) as (m: RouteMessage) => number;
        return (m) => -f(m);
      }
      const f = dynamic(node.operand);
      return (m) => {
        const v = f(m);
        return typeof v === 'number' ? -v : undefined;
      };
    }
    case 'not': {
      if (node.operand.type === 'bool') {
        const f = compile(node.operand) as (m: RouteMessage) => Tri;
        return (m) => not3(f(m));
      }
      const f = dynamic(node.operand);
      return (m) => {
        const v = f(m);
        return typeof v === 'boolean' ? (v ? FALSE : TRUE) : UNDEF;
      };
    }
    case 'arith':
      return arithmetic(node);
    case 'compare':
      return comparison(node);
    case 'logic':
      return logic(node);
    case 'coalesce': {
      if (node.type === 'any') {
        const [l, r] = [dynamic(node.left), dynamic(node.right)];
        return (m) => {
          const v = l(m);
          return v !== undefined ? v : r(m);
        };
      }
      const [l, r] = [compile(node.left), compile(node.right)];
      const defined = isDefined(node.type);
      return (m) => {
        const v = l(m);
        return defined(v) ? v : r(m);
      };
    }
    case 'call': {
      const { overload } = node;
      if (overload.constant) {
        const value = overload.run([]);
        return () => value;
      }
      const args = node.args.map((a) => (overload.dynamic ? dynamic(a) : compile(a)));
      const run = overload.run;
      if (args.length === 1) {
        const a = args[0] as Evaluate;
        return (m) => run([a(m)]);
      }
      if (args.length === 2) {
        const [a, b] = args as [Evaluate, Evaluate];
        return (m) => run([a(m), b(m)]);
      }
      return (m) => run(args.map((a) => a(m)));
    }
  }
}

function arithmetic(node: Typed & { op: 'arith' }): Evaluate {
  const op = node.operator;
  const apply = (a: number, b: number): number =>
    op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : op === '/' ? a / b : a % b;
  if (node.type === 'number') {
    const l = compile(node.left) as (m: RouteMessage) => number;
    const r = compile(node.right) as (m: RouteMessage) => number;
    switch (op) {
      case '+': return (m) => l(m) + r(m);
      case '-': return (m) => l(m) - r(m);
      case '*': return (m) => l(m) * r(m);
      case '/': return (m) => l(m) / r(m);
      default: return (m) => l(m) % r(m);
    }
  }
  // with a $body value: both sides must be numbers at run time (QueryValue operators), else undefined
  const l = dynamic(node.left);
  const r = dynamic(node.right);
  return (m) => {
    const a = l(m);
    const b = r(m);
    if (typeof a !== 'number' || typeof b !== 'number') return undefined;
    const v = apply(a, b);
    return Number.isNaN(v) ? undefined : v;
  };
}

function comparison(node: Typed & { op: 'compare' }): Evaluate {
  const op = node.operator;
  const { left, right } = node;
  if (left.type !== right.type || left.type === 'any') {
    const l = dynamic(left);
    const r = dynamic(right);
    return (m) => compareDynamic(op, l(m), r(m));
  }
  switch (left.type) {
    case 'number': {
      const l = compile(left) as (m: RouteMessage) => number;
      const r = compile(right) as (m: RouteMessage) => number;
      return (m) => compareNumbers(op, l(m), r(m));
    }
    case 'string': {
      const l = compile(left) as (m: RouteMessage) => string | undefined;
      const r = compile(right) as (m: RouteMessage) => string | undefined;
      return (m) => compareStrings(op, l(m), r(m));
    }
    case 'bool': {
      const l = compile(left) as (m: RouteMessage) => Tri;
      const r = compile(right) as (m: RouteMessage) => Tri;
      return (m) => compareBools(op, l(m), r(m));
    }
    case 'null': {
      const value = compareNulls(op);
      return () => value;
    }
    default:
      return () => UNDEF;
  }
}

function logic(node: Typed & { op: 'logic' }): Evaluate {
  const { left, right, operator } = node;
  if (left.type === 'any' || right.type === 'any') {
    // QueryValue & and |: both sides must be booleans, else undefined
    const l = dynamic(left);
    const r = dynamic(right);
    return operator === 'AND'
      ? (m) => {
        const a = l(m);
        const b = r(m);
        return typeof a === 'boolean' && typeof b === 'boolean' ? (a && b ? TRUE : FALSE) : UNDEF;
      }
      : (m) => {
        const a = l(m);
        const b = r(m);
        return typeof a === 'boolean' && typeof b === 'boolean' ? (a || b ? TRUE : FALSE) : UNDEF;
      };
  }
  if (node.type === 'null') return () => null;
  // Null.cs: null OR x is x; undefined converts to an undefined truth
  const asTri = (t: Typed): ((m: RouteMessage) => Tri) => (t.type === 'bool' ? (compile(t) as (m: RouteMessage) => Tri) : () => UNDEF);
  if (operator === 'OR' && left.type === 'null') return asTri(right);
  if (operator === 'OR' && right.type === 'null') return asTri(left);
  const l = asTri(left);
  const r = asTri(right);
  // short-circuits: false AND x is false, true OR x is true
  return operator === 'AND'
    ? (m) => {
      const a = l(m);
      return a === FALSE ? FALSE : and3(a, r(m));
    }
    : (m) => {
      const a = l(m);
      return a === TRUE ? TRUE : or3(a, r(m));
    };
}
