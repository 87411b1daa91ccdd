/**
 * The route and condition lexer. It follows the token rules of iotedge's
 * `Routing.Core/grammar/GrammarLexer.g4` the way an ANTLR lexer applies them: at each position the
 * longest match wins, and on a tie the rule declared first. That is why, as in edgeHub, `a+b`,
 * `temp*2` or `x!` are single names (those characters are name characters) and need spaces around
 * operators, while `a<b` and `a=b` split.
 */

export type TokenKind =
  | 'SELECT' | 'FROM' | 'WHERE' | 'INTO'
  | 'STRING' | 'UNTERMINATED_STRING' | 'INTEGER' | 'HEX' | 'REAL'
  | 'TRUE' | 'FALSE' | 'NULL' | 'UNDEFINED'
  | '(' | ')' | ',' | '+' | '-' | '*' | '/' | '%' | '{' | '}'
  | 'AND' | 'OR' | 'NOT'
  | '=' | '!=' | '<>' | '<=' | '>=' | '>' | '<' | '||' | '??'
  | 'SYS_PROP' | 'ID' | 'QUERY_PATH' | 'UNKNOWN_CHAR' | 'EOF';

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** Offset of the first character in the source text. */
  readonly offset: number;
  /** 1-based line and column (columns count UTF-16 code units, as the reference's do). */
  readonly line: number;
  readonly column: number;
}

// Rules in declaration order (GrammarLexer.g4; the parser's implicit '{' '}' literals come first,
// as ANTLR defines implicit tokens before lexer rules).
type Rule = readonly [TokenKind | 'WS' | 'COMMENT', (s: string, i: number) => number];

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isHex = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

// ID_CHARS: ~[()<>@,;:\\"/[\]?={} \t\n\r]; QUERY_PATH_CHARS: the same but '[' and ']' allowed.
const NOT_QUERY_PATH = new Set('()<>@,;:\\"/?={} \t\n\r'.split('').map((c) => c.charCodeAt(0)));
const isQueryPathChar = (c: number): boolean => !NOT_QUERY_PATH.has(c);
const isIdChar = (c: number): boolean => isQueryPathChar(c) && c !== 91 && c !== 93;

function word(w: string): (s: string, i: number) => number {
  const lower = w.toLowerCase();
  return (s, i) => (s.slice(i, i + w.length).toLowerCase() === lower ? w.length : 0);
}
function exact(w: string): (s: string, i: number) => number {
  return (s, i) => (s.startsWith(w, i) ? w.length : 0);
}
function run(pred: (c: number) => boolean, s: string, i: number): number {
  let j = i;
  while (j < s.length && pred(s.charCodeAt(j))) j++;
  return j - i;
}

/** Length of a string body from just after the opening quote: (ESC | ~[q\\])*; returns the end index. */
function stringBody(s: string, i: number, quote: number): number {
  let j = i;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c === quote) break;
    if (c === 92) {
      const n = s.charCodeAt(j + 1);
      if (n === 34 || n === 39 || n === 92) j += 2;
      else if (n === 117 && isHex(s.charCodeAt(j + 2)) && isHex(s.charCodeAt(j + 3)) && isHex(s.charCodeAt(j + 4)) && isHex(s.charCodeAt(j + 5))) j += 6;
      else break;
    } else j++;
  }
  return j;
}

function stringRule(terminated: boolean) {
  return (s: string, i: number): number => {
    const q = s.charCodeAt(i);
    if (q !== 34 && q !== 39) return 0;
    const end = stringBody(s, i + 1, q);
    if (terminated) return s.charCodeAt(end) === q ? end + 1 - i : 0;
    return end - i;
  };
}

function integer(s: string, i: number): number {
  const sign = s.charCodeAt(i) === 45 ? 1 : 0;
  const d = run(isDigit, s, i + sign);
  return d > 0 ? sign + d : 0;
}

function hex(s: string, i: number): number {
  if (s.charCodeAt(i) !== 48 || (s.charCodeAt(i + 1) | 32) !== 120) return 0;
  const d = run(isHex, s, i + 2);
  return d > 0 ? 2 + d : 0;
}

function exponent(s: string, i: number): number {
  if ((s.charCodeAt(i) | 32) !== 101) return 0;
  let j = i + 1;
  if (s.charCodeAt(j) === 43 || s.charCodeAt(j) === 45) j++;
  const d = run(isDigit, s, j);
  return d > 0 ? j + d - i : 0;
}

// REAL_LITERAL: '-'? [0-9]* '.' [0-9]+ EXP? | '-'? [0-9]* EXP
function real(s: string, i: number): number {
  let j = i + (s.charCodeAt(i) === 45 ? 1 : 0);
  j += run(isDigit, s, j);
  if (s.charCodeAt(j) === 46) {
    const f = run(isDigit, s, j + 1);
    if (f === 0) return 0;
    j += 1 + f;
    return j + exponent(s, j) - i;
  }
  const e = exponent(s, j);
  return e > 0 ? j + e - i : 0;
}

function sysProp(s: string, i: number): number {
  if (s.charCodeAt(i) !== 36) return 0;
  const n = run(isQueryPathChar, s, i + 1);
  return n > 0 ? n + 1 : 0;
}

// COMMENT: a slash-star comment up to the first star-slash (hidden). Remembers the last closing
// star-slash found, so a text full of unclosed openers stays linear.
function commentRule(): (s: string, i: number) => number {
  let close = -2;
  return (s, i) => {
    if (!s.startsWith('/*', i)) return 0;
    if (close !== -1 && close < i + 2) close = s.indexOf('*/', i + 2);
    return close < 0 ? 0 : close + 2 - i;
  };
}

const FIXED_RULES: readonly Rule[] = [
  ['{', exact('{')],
  ['}', exact('}')],
  ['SELECT', word('SELECT')],
  ['FROM', word('FROM')],
  ['WHERE', word('WHERE')],
  ['INTO', word('INTO')],
  ['STRING', stringRule(true)],
  ['UNTERMINATED_STRING', stringRule(false)],
  ['INTEGER', integer],
  ['HEX', hex],
  ['REAL', real],
  ['TRUE', exact('true')],
  ['FALSE', exact('false')],
  ['NULL', exact('null')],
  ['UNDEFINED', exact('undefined')],
  ['(', exact('(')],
  [')', exact(')')],
  [',', exact(',')],
  ['+', exact('+')],
  ['-', exact('-')],
  ['*', exact('*')],
  ['/', exact('/')],
  ['%', exact('%')],
  ['AND', word('AND')],
  ['OR', word('OR')],
  ['NOT', word('NOT')],
  ['=', exact('=')],
  ['!=', exact('!=')],
  ['<>', exact('<>')],
  ['<=', exact('<=')],
  ['>=', exact('>=')],
  ['>', exact('>')],
  ['<', exact('<')],
  ['||', exact('||')],
  ['??', exact('??')],
  ['SYS_PROP', sysProp],
  ['ID', (s, i) => run(isIdChar, s, i)],
  ['QUERY_PATH', (s, i) => run(isQueryPathChar, s, i)],
  ['WS', (s, i) => run((c) => c === 32 || c === 9 || c === 13 || c === 10, s, i)],
];

/** Splits text into tokens (whitespace and comments dropped), ending with an EOF token. Never throws. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const rules: readonly Rule[] = [...FIXED_RULES, ['COMMENT', commentRule()]];
  while (i < text.length) {
    let best: Rule[0] = 'UNKNOWN_CHAR';
    let bestLen = 0;
    for (const [kind, match] of rules) {
      const n = match(text, i);
      if (n > bestLen) {
        best = kind;
        bestLen = n;
      }
    }
    if (bestLen === 0) {
      // UNKNOWN_CHAR: a whole code point, so an error never shows half a surrogate pair
      bestLen = (text.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
    }
    if (best !== 'WS' && best !== 'COMMENT') {
      tokens.push({ kind: best, text: text.slice(i, i + bestLen), offset: i, line, column: i - lineStart + 1 });
    }
    for (let j = i; j < i + bestLen; j++) {
      if (text.charCodeAt(j) === 10) {
        line++;
        lineStart = j + 1;
      }
    }
    i += bestLen;
  }
  tokens.push({ kind: 'EOF', text: '', offset: text.length, line, column: text.length - lineStart + 1 });
  return tokens;
}
