/**
 * The type checker: gives every node of a condition its static type, resolves properties and
 * built-in overloads, and reports type errors with where they are (iotedge
 * `query/ConditionVisitor.cs`: CheckOperand(s), CheckBooleanOperands, Builtin.Get). Like the
 * reference it goes on after an error (the node becomes `undefined`), so all errors are listed.
 */
import type { BinaryOperator, Diagnostic, Expr, ValueType } from './ast.js';
import { BUILTINS, matches, type Overload } from './builtins.js';
import { parseBodyPath, type PathSegment } from './body-query.js';
import { FALSE, TRUE, type CompareOp } from './values.js';

export type Typed =
  | { readonly op: 'const'; readonly type: ValueType; readonly value: unknown }
  | { readonly op: 'app'; readonly type: 'string'; readonly name: string }
  | { readonly op: 'sys'; readonly type: 'string'; readonly name: string }
  /** `$name`: the application property `$name` if the message has one, else the system property `name`. */
  | { readonly op: 'app-or-sys'; readonly type: 'string'; readonly app: string; readonly sys: string }
  | { readonly op: 'body'; readonly type: 'any'; readonly path: readonly PathSegment[] }
  /** `$body.x`: the application property `$body.x` if the message has one, else the body query. */
  | { readonly op: 'app-or-body'; readonly type: 'any'; readonly app: string; readonly path: readonly PathSegment[] }
  | { readonly op: 'neg'; readonly type: ValueType; readonly operand: Typed }
  | { readonly op: 'not'; readonly type: 'bool'; readonly operand: Typed }
  | { readonly op: 'arith'; readonly type: ValueType; readonly operator: '+' | '-' | '*' | '/' | '%'; readonly left: Typed; readonly right: Typed }
  | { readonly op: 'compare'; readonly type: 'bool'; readonly operator: CompareOp; readonly left: Typed; readonly right: Typed }
  | { readonly op: 'logic'; readonly type: ValueType; readonly operator: 'AND' | 'OR'; readonly left: Typed; readonly right: Typed }
  | { readonly op: 'coalesce'; readonly type: ValueType; readonly left: Typed; readonly right: Typed }
  | { readonly op: 'call'; readonly type: ValueType; readonly overload: Overload; readonly args: readonly Typed[] };

const UNDEFINED: Typed = { op: 'const', type: 'undefined', value: undefined };
const SUPPORTED = new Set<ValueType>(['null', 'number', 'string', 'bool']);

const typeName = (t: ValueType): string => (t === 'any' ? '$body value' : t);

export function check(expr: Expr): { typed: Typed; errors: Diagnostic[] } {
  const errors: Diagnostic[] = [];

  // Args(expected, expected).Match(given, matchQueryValue: true), per position
  const fits = (expected: ValueType, given: ValueType): boolean =>
    expected === given || (given === 'any' && SUPPORTED.has(expected)) || (expected === 'any' && SUPPORTED.has(given));

  const operandError = (e: Expr & { token: Diagnostic['token'] }, given: ValueType[], expected: ValueType[]): Typed => {
    const arity = given.length === 1 ? 'unary ' : 'binary ';
    const have = given.map((t) => `'${typeName(t)}'`).join(' and ');
    const want = expected.map((t) => `'${typeName(t)}'`).join(' and ');
    const advice = given.includes('string') && given.includes('number') ? ' (application properties are strings: use as_number(...) to compare one with a number)' : '';
    errors.push({ message: `Invalid operands to ${arity}operator '${e.token.text}': have ${have}, expected ${want}${advice}`, token: e.token });
    return UNDEFINED;
  };

  const visit = (e: Expr): Typed => {
    switch (e.kind) {
      case 'literal':
        return { op: 'const', type: e.type, value: e.type === 'bool' ? (e.value ? TRUE : FALSE) : e.value };
      case 'property':
        return { op: 'app', type: 'string', name: e.name };
      case 'sys-property':
        return sysProperty(e);
      case 'call':
        return call(e);
      case 'unary': {
        const operand = visit(e.operand);
        if (e.op === '-') {
          return operand.type === 'number' || operand.type === 'any' ? { op: 'neg', type: operand.type, operand } : operandError(e, [operand.type], ['number']);
        }
        // "not null" is true; otherwise NOT takes a bool (or a $body value)
        if (operand.type === 'null') return { op: 'const', type: 'bool', value: TRUE };
        return operand.type === 'bool' || operand.type === 'any' ? { op: 'not', type: 'bool', operand } : operandError(e, [operand.type], ['bool']);
      }
      case 'binary':
        return binary(e, visit(e.left), visit(e.right));
    }
  };

  const binary = (e: Expr & { kind: 'binary' }, left: Typed, right: Typed): Typed => {
    const op: BinaryOperator = e.op;
    switch (op) {
      case '+': case '-': case '*': case '/': case '%': {
        if (!fits('number', left.type) || !fits('number', right.type)) return operandError(e, [left.type, right.type], ['number', 'number']);
        const type: ValueType = left.type === 'any' || right.type === 'any' ? 'any' : 'number';
        return { op: 'arith', type, operator: op, left, right };
      }
      case '||': {
        if (!fits('string', left.type) || !fits('string', right.type)) return operandError(e, [left.type, right.type], ['string', 'string']);
        const concat = (BUILTINS.get('concat') as readonly Overload[])[0] as Overload;
        return { op: 'call', type: 'string', overload: concat, args: [left, right] };
      }
      case '=': case '!=': case '<>': case '<': case '<=': case '>': case '>=': {
        if (!fits(left.type, right.type)) return operandError(e, [left.type, right.type], [left.type, left.type]);
        return { op: 'compare', type: 'bool', operator: op === '<>' ? '!=' : op, left, right };
      }
      case 'AND': case 'OR': {
        // CheckBooleanOperands: null, bool, undefined or a $body value on each side (the reference
        // tests the right side against the left's type, so after a $body value anything goes)
        const ok = (t: ValueType): boolean => t === 'null' || t === 'bool' || t === 'undefined' || t === 'any';
        if (!ok(left.type) || !(ok(right.type) || left.type === 'any')) return operandError(e, [left.type, right.type], ['bool', 'bool']);
        const dynamic = left.type === 'any' || right.type === 'any';
        const type: ValueType = dynamic ? 'bool'
          : op === 'AND' ? (left.type === 'null' || right.type === 'null' ? 'null' : 'bool')
            : (left.type === 'null' && right.type === 'null' ? 'null' : 'bool');
        return { op: 'logic', type, operator: op, left, right };
      }
      case '??': {
        if (!fits(left.type, right.type)) return operandError(e, [left.type, right.type], [left.type, left.type]);
        if (left.type === 'undefined') return right;
        const type: ValueType = left.type === 'any' || right.type === 'any' ? 'any' : left.type;
        return { op: 'coalesce', type, left, right };
      }
    }
  };

  const sysProperty = (e: Expr & { kind: 'sys-property' }): Typed => {
    const name = e.name; // with its '$'
    if (/^\$body\./i.test(name)) {
      const path = parseBodyPath(name.slice('$body.'.length));
      if (typeof path === 'string') {
        errors.push({ message: `Invalid $body query '${name}': ${path}`, token: e.token });
        return UNDEFINED;
      }
      // an application property named like the query wins, unless escaped {$body...} or the name has brackets
      return e.escaped || /[[\]]/.test(name) ? { op: 'body', type: 'any', path } : { op: 'app-or-body', type: 'any', app: name, path };
    }
    // property names cannot hold '[' or ']' (ConditionVisitor.GetSysProperty)
    if (/[[\]]/.test(name)) return UNDEFINED;
    return e.escaped ? { op: 'sys', type: 'string', name: name.slice(1) } : { op: 'app-or-sys', type: 'string', app: name, sys: name.slice(1) };
  };

  const call = (e: Expr & { kind: 'call' }): Typed => {
    const overloads = BUILTINS.get(e.name.toLowerCase());
    if (!overloads) {
      errors.push({ message: `Invalid built-in function '${e.name}'`, token: e.token });
      return UNDEFINED;
    }
    const args = e.args.map(visit);
    const types = args.map((a) => a.type);
    const overload = overloads.find((o) => matches(o, types));
    if (!overload) {
      errors.push({ message: `Invalid arguments to built-in function '${e.name}': ${e.name}(${types.map(typeName).join(', ')})`, token: e.token });
      return UNDEFINED;
    }
    return { op: 'call', type: overload.result, overload, args };
  };

  const typed = visit(expr);
  return { typed, errors };
}
