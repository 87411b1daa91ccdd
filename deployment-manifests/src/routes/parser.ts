/**
 * Recursive-descent parser for routes and conditions (iotedge `grammar/Route.g4`, `Condition.g4`).
 * Binary operators are parsed by precedence climbing with Condition.g4's levels, tightest first:
 * unary `-` and NOT; `* / %`; `+ - ||`; `< <= > >=`; `= != <>`; AND; OR; `??`; all left-associative.
 */
import type { BinaryOperator, Diagnostic, Expr } from './ast.js';
import { tokenize, type Token, type TokenKind } from './lexer.js';

/** Deeper nesting is refused (a compile error, not a stack overflow). */
export const MAX_DEPTH = 200;

export class SyntaxFailure extends Error {
  readonly diagnostic: Diagnostic;
  constructor(diagnostic: Diagnostic) {
    super(diagnostic.message);
    this.diagnostic = diagnostic;
  }
}

const LEVELS: Partial<Record<TokenKind, number>> = {
  '??': 1,
  OR: 2,
  AND: 3,
  '=': 4, '!=': 4, '<>': 4,
  '<': 5, '<=': 5, '>': 5, '>=': 5,
  '+': 6, '-': 6, '||': 6,
  '*': 7, '/': 7, '%': 7,
};

export interface ParsedRoute {
  /** The source path as written, tokens joined (Route.g4 `source`). */
  readonly source: string;
  readonly sourceToken: Token;
  /** Absent when the route has no WHERE. */
  readonly condition: Expr | undefined;
  readonly sink: { readonly kind: 'system'; readonly token: Token } | { readonly kind: 'function'; readonly name: Token; readonly address: Token };
}

export class Parser {
  readonly #tokens: Token[];
  #pos = 0;
  #depth = 0;

  constructor(text: string) {
    this.#tokens = tokenize(text);
  }

  /** True when the text starts like a route (`SELECT` or `FROM`) rather than a condition. */
  looksLikeRoute(): boolean {
    const k = this.#peek().kind;
    return k === 'SELECT' || k === 'FROM';
  }

  /** condition : expr | EOF. Undefined for an empty condition (which evaluates to undefined). */
  parseCondition(): Expr | undefined {
    if (this.#peek().kind === 'EOF') return undefined;
    const expr = this.#expression();
    this.#expectEnd('EOF');
    return expr;
  }

  /** route : [SELECT '*'] FROM source [WHERE condition] INTO sink */
  parseRoute(): ParsedRoute {
    if (this.#peek().kind === 'EOF') this.#fail(this.#peek(), 'empty route: write FROM <source> [WHERE <condition>] INTO <sink>');
    if (this.#accept('SELECT')) this.#expect('*', "'*' after SELECT");
    this.#expect('FROM', 'FROM');
    const sourceToken = this.#peek();
    let source = '';
    do {
      source += this.#expect('/', "a source path starting with '/'").text;
      const item = this.#peek();
      if (item.kind !== '*' && item.kind !== 'ID') this.#fail(item, `expected a path segment or '*' after '/' in the source, found ${describe(item)}`);
      this.#pos++;
      source += item.text;
    } while (this.#peek().kind === '/');
    let condition: Expr | undefined;
    if (this.#accept('WHERE')) {
      if (this.#peek().kind === 'INTO') this.#fail(this.#peek(), 'expected a condition after WHERE');
      condition = this.#expression();
    }
    this.#expect('INTO', 'WHERE or INTO');
    const first = this.#peek();
    let sink: ParsedRoute['sink'];
    if (first.kind === 'SYS_PROP') {
      this.#pos++;
      sink = { kind: 'system', token: first };
    } else if (first.kind === 'ID') {
      this.#pos++;
      this.#expect('(', `'(' after ${first.text}`);
      const address = this.#peek();
      if (address.kind !== 'STRING') this.#fail(address, `expected a quoted endpoint address, found ${describe(address)}`);
      this.#pos++;
      this.#expect(')', "')' after the endpoint address");
      sink = { kind: 'function', name: first, address };
    } else {
      this.#fail(first, `expected a sink ($upstream or BrokeredEndpoint("/modules/<module>/inputs/<input>")), found ${describe(first)}`);
    }
    this.#expectEnd('EOF');
    return { source, sourceToken, condition, sink };
  }

  #expression(): Expr {
    return this.#binary(1);
  }

  // Precedence climbing: parses operators of level >= min, left-associative.
  #binary(min: number): Expr {
    let left = this.#unary();
    for (;;) {
      const op = this.#peek();
      const level = LEVELS[op.kind];
      if (level === undefined || level < min) return left;
      this.#pos++;
      this.#enter(op);
      const right = this.#binary(level + 1);
      this.#leave();
      left = { kind: 'binary', op: op.kind as BinaryOperator, left, right, token: op };
      this.#chain(left, op);
    }
  }

  // Left-deep chains (a AND a AND ...) are built in a loop; count their depth too.
  readonly #chainDepth = new WeakMap<Expr, number>();
  #chain(node: Expr & { kind: 'binary' }, op: Token): void {
    const d = Math.max(this.#chainDepth.get(node.left) ?? 0, this.#chainDepth.get(node.right) ?? 0) + 1;
    if (d + this.#depth > MAX_DEPTH) this.#fail(op, `expression nested too deeply (more than ${MAX_DEPTH} levels)`);
    this.#chainDepth.set(node, d);
  }

  #unary(): Expr {
    const t = this.#peek();
    if (t.kind === '-' || t.kind === 'NOT') {
      this.#pos++;
      this.#enter(t);
      const operand = this.#unary();
      this.#leave();
      const node: Expr = { kind: 'unary', op: t.kind === '-' ? '-' : 'NOT', operand, token: t };
      this.#chainDepth.set(node, (this.#chainDepth.get(operand) ?? 0) + 1);
      if ((this.#chainDepth.get(node) ?? 0) + this.#depth > MAX_DEPTH) this.#fail(t, `expression nested too deeply (more than ${MAX_DEPTH} levels)`);
      return node;
    }
    return this.#primary();
  }

  #primary(): Expr {
    const t = this.#peek();
    switch (t.kind) {
      case '(': {
        this.#pos++;
        this.#enter(t);
        const inner = this.#expression();
        this.#leave();
        if (this.#peek().kind !== ')') this.#fail(t, "Syntax error: missing closing ')'", this.#peek());
        this.#pos++;
        return inner;
      }
      case 'TRUE':
      case 'FALSE':
        this.#pos++;
        return { kind: 'literal', type: 'bool', value: t.kind === 'TRUE', token: t };
      case 'NULL':
        this.#pos++;
        return { kind: 'literal', type: 'null', value: null, token: t };
      case 'UNDEFINED':
        this.#pos++;
        return { kind: 'literal', type: 'undefined', value: undefined, token: t };
      case 'STRING':
        this.#pos++;
        return { kind: 'literal', type: 'string', value: unescape(t.text.slice(1, -1)), token: t };
      case 'UNTERMINATED_STRING':
        return this.#fail(t, 'Syntax error: unterminated string');
      case 'INTEGER':
      case 'REAL': {
        this.#pos++;
        // Numbers are doubles; a literal .NET cannot parse (e.g. `e5`, which the lexer takes as a real) is undefined.
        const value = Number(t.text);
        return Number.isNaN(value) ? { kind: 'literal', type: 'undefined', value: undefined, token: t } : { kind: 'literal', type: 'number', value, token: t };
      }
      case 'HEX': {
        this.#pos++;
        const value = hexValue(t.text.slice(2));
        return value === undefined ? { kind: 'literal', type: 'undefined', value: undefined, token: t } : { kind: 'literal', type: 'number', value, token: t };
      }
      case 'SYS_PROP':
        this.#pos++;
        return { kind: 'sys-property', name: t.text, escaped: false, token: t };
      case '{': {
        this.#pos++;
        const prop = this.#peek();
        if (prop.kind !== 'SYS_PROP') this.#fail(prop, `expected a system property like {$contentType} after '{', found ${describe(prop)}`);
        this.#pos++;
        this.#expect('}', "'}'");
        return { kind: 'sys-property', name: prop.text, escaped: true, token: prop };
      }
      case 'ID': {
        this.#pos++;
        if (this.#peek().kind !== '(') return { kind: 'property', name: t.text, token: t };
        const open = this.#peek();
        this.#pos++;
        this.#enter(open);
        const args: Expr[] = [];
        if (this.#peek().kind !== ')') {
          args.push(this.#expression());
          while (this.#accept(',')) args.push(this.#expression());
        }
        this.#leave();
        if (this.#peek().kind !== ')') this.#fail(this.#peek(), `expected ',' or ')' in the arguments of ${t.text}(...), found ${describe(this.#peek())}`);
        this.#pos++;
        return { kind: 'call', name: t.text, args, token: t };
      }
      case 'UNKNOWN_CHAR':
        return this.#fail(t, `Syntax error: invalid symbol '${t.text}'`);
      case 'EOF':
        return this.#fail(t, 'Syntax error: the condition ends where an operand was expected');
      default:
        return this.#fail(t, `Syntax error: expected an operand, found ${describe(t)}`);
    }
  }

  #expectEnd(kind: 'EOF'): void {
    const t = this.#peek();
    if (t.kind === kind) return;
    if (t.kind === ')') this.#fail(t, "Syntax error: unmatched closing ')'");
    if (t.kind === 'UNKNOWN_CHAR') this.#fail(t, `Syntax error: invalid symbol '${t.text}'`);
    if (t.kind === 'UNTERMINATED_STRING') this.#fail(t, 'Syntax error: unterminated string');
    this.#fail(t, `Syntax error: expected an operator or the end, found ${describe(t)}`);
  }

  #enter(t: Token): void {
    if (++this.#depth > MAX_DEPTH) this.#fail(t, `expression nested too deeply (more than ${MAX_DEPTH} levels)`);
  }

  #leave(): void {
    this.#depth--;
  }

  #peek(): Token {
    return this.#tokens[this.#pos] ?? (this.#tokens[this.#tokens.length - 1] as Token);
  }

  #accept(kind: TokenKind): boolean {
    if (this.#peek().kind !== kind) return false;
    this.#pos++;
    return true;
  }

  #expect(kind: TokenKind, what: string): Token {
    const t = this.#peek();
    if (t.kind !== kind) {
      if (t.kind === 'UNKNOWN_CHAR') this.#fail(t, `Syntax error: invalid symbol '${t.text}'`);
      if (t.kind === 'UNTERMINATED_STRING') this.#fail(t, 'Syntax error: unterminated string');
      this.#fail(t, `Syntax error: expected ${what}, found ${describe(t)}`);
    }
    this.#pos++;
    return t;
  }

  #fail(token: Token, message: string, _context?: Token): never {
    throw new SyntaxFailure({ message, token });
  }
}

function describe(t: Token): string {
  return t.kind === 'EOF' ? 'the end of the text' : `'${t.text}'`;
}

/**
 * String literal contents: `\uXXXX` first, then `\"`, `\'`, `\\`, in two passes as edgeHub does
 * (ConditionVisitor.Unescape), so `\\u0041` reads as `\A` there and here alike.
 */
function unescape(raw: string): string {
  return raw
    .replace(/\\[Uu]([0-9A-Fa-f]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
    .replace(/\\(["'\\])/g, (_, c: string) => c);
}

/** Hex literals are read as a signed 64-bit integer (long.TryParse with HexNumber), then as a double. */
function hexValue(digits: string): number | undefined {
  const v = BigInt(`0x${digits}`);
  if (v >= 1n << 64n) return undefined;
  return Number(v >= 1n << 63n ? v - (1n << 64n) : v);
}
