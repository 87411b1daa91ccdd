/**
 * Where a JSON pointer (RFC 6901) sits in a JSON text, for errors positioned in the file a user wrote.
 * A small scanner that records where each member and element starts; the text must be valid JSON.
 */
import { positionOf } from './json-fields.js';

interface JsonNode {
  /** Offset of the member's key (or of the value for an array element or the root). */
  readonly at: number;
  readonly members?: Map<string, JsonNode>;
  readonly items?: JsonNode[];
}

/** Line and column (1-based) of the deepest part of `pointer` that exists in `text` (undefined when `text` is not JSON). */
export function positionOfPointer(text: string, pointer: string): { line: number; column: number } | undefined {
  let node: JsonNode;
  try {
    node = new Scanner(text).document();
  } catch {
    return undefined;
  }
  const tokens = pointer === '' ? [] : pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  for (const token of tokens) {
    const next = node.members?.get(token) ?? (/^\d+$/.test(token) ? node.items?.[Number(token)] : undefined);
    if (!next) break;
    node = next;
  }
  return positionOf(text, node.at);
}

/** Offset of the first character that breaks JSON in `text` (undefined when it is JSON). */
export function jsonErrorOffset(text: string): number | undefined {
  const scanner = new Scanner(text);
  try {
    scanner.document();
    return undefined;
  } catch {
    return Math.min(scanner.offset, text.length);
  }
}

class Scanner {
  readonly #text: string;
  #i = 0;

  constructor(text: string) {
    this.#text = text;
  }

  /** Where scanning is (where it stopped, after an error). */
  get offset(): number {
    return this.#i;
  }

  document(): JsonNode {
    this.#space();
    const node = this.#value(this.#i);
    this.#space();
    if (this.#i !== this.#text.length) throw new SyntaxError('trailing text');
    return node;
  }

  #space(): void {
    while (this.#i < this.#text.length && ' \t\n\r'.includes(this.#text[this.#i]!)) this.#i++;
  }

  #value(at: number): JsonNode {
    const c = this.#text[this.#i];
    if (c === '{') return this.#object(at);
    if (c === '[') return this.#array(at);
    if (c === '"') {
      this.#string();
      return { at };
    }
    const m = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(this.#text.slice(this.#i, this.#i + 64));
    if (!m) throw new SyntaxError(`unexpected character at ${this.#i}`);
    this.#i += m[0].length;
    return { at };
  }

  #object(at: number): JsonNode {
    const members = new Map<string, JsonNode>();
    this.#i++;
    this.#space();
    if (this.#text[this.#i] === '}') {
      this.#i++;
      return { at, members };
    }
    for (;;) {
      this.#space();
      const keyAt = this.#i;
      const key = this.#string();
      this.#space();
      if (this.#text[this.#i] !== ':') throw new SyntaxError('expected :');
      this.#i++;
      this.#space();
      const value = this.#value(keyAt);
      // JSON.parse keeps the last of repeated keys; so does this.
      members.set(key, value);
      this.#space();
      const c = this.#text[this.#i];
      if (c !== '}' && c !== ',') throw new SyntaxError('expected , or }');
      this.#i++;
      if (c === '}') return { at, members };
    }
  }

  #array(at: number): JsonNode {
    const items: JsonNode[] = [];
    this.#i++;
    this.#space();
    if (this.#text[this.#i] === ']') {
      this.#i++;
      return { at, items };
    }
    for (;;) {
      this.#space();
      items.push(this.#value(this.#i));
      this.#space();
      const c = this.#text[this.#i];
      if (c !== ']' && c !== ',') throw new SyntaxError('expected , or ]');
      this.#i++;
      if (c === ']') return { at, items };
    }
  }

  #string(): string {
    const start = this.#i;
    if (this.#text[this.#i] !== '"') throw new SyntaxError('expected a string');
    this.#i++;
    while (this.#i < this.#text.length && this.#text[this.#i] !== '"') this.#i += this.#text[this.#i] === '\\' ? 2 : 1;
    this.#i++;
    return JSON.parse(this.#text.slice(start, this.#i)) as string;
  }
}
