/** The condition syntax tree the parser builds; every node keeps the token it was made from. */
import type { Token } from './lexer.js';

/** Static types of the condition language (iotedge `query/`: Bool, double, string, Null, Undefined, QueryValue). */
export type ValueType = 'bool' | 'number' | 'string' | 'null' | 'undefined' | 'any';

export type BinaryOperator = '??' | 'OR' | 'AND' | '=' | '!=' | '<>' | '<' | '<=' | '>' | '>=' | '+' | '-' | '||' | '*' | '/' | '%';

export type Expr =
  | { readonly kind: 'literal'; readonly type: ValueType; readonly value: boolean | number | string | null | undefined; readonly token: Token }
  /** A bare name: an application property. */
  | { readonly kind: 'property'; readonly name: string; readonly token: Token }
  /** `$name` (escaped: false) or `{$name}` (escaped: true); name keeps its `$`. */
  | { readonly kind: 'sys-property'; readonly name: string; readonly escaped: boolean; readonly token: Token }
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly Expr[]; readonly token: Token }
  | { readonly kind: 'unary'; readonly op: '-' | 'NOT'; readonly operand: Expr; readonly token: Token }
  | { readonly kind: 'binary'; readonly op: BinaryOperator; readonly left: Expr; readonly right: Expr; readonly token: Token };

/** A compile error with where it is. */
export interface Diagnostic {
  readonly message: string;
  readonly token: Token;
}
