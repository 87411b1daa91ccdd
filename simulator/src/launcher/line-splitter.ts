/** Splits a byte stream into text lines: UTF-8 safe across chunk boundaries, `\n` or `\r\n` ends a line, long lines are cut. */
import { StringDecoder } from 'node:string_decoder';

/** Longer lines are cut into pieces of this many characters, so one runaway line cannot hold unbounded memory. */
export const MAX_LINE_CHARS = 16 * 1024;

export class LineSplitter {
  #decoder = new StringDecoder('utf8');
  #partial = '';

  /** The complete lines this chunk finishes (without their line ends). */
  push(chunk: Buffer): string[] {
    return this.#take(this.#partial + this.#decoder.write(chunk), false);
  }

  /** The last, unterminated line, if any: call when the stream ended. */
  end(): string[] {
    return this.#take(this.#partial + this.#decoder.end(), true);
  }

  #take(text: string, final: boolean): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      lines.push(...cut(text.slice(start, end)));
      start = nl + 1;
    }
    let rest = text.slice(start);
    while (rest.length > MAX_LINE_CHARS) {
      lines.push(rest.slice(0, MAX_LINE_CHARS));
      rest = rest.slice(MAX_LINE_CHARS);
    }
    if (final && rest !== '') {
      lines.push(rest);
      rest = '';
    }
    this.#partial = rest;
    return lines;
  }
}

function cut(line: string): string[] {
  if (line.length <= MAX_LINE_CHARS) return [line];
  const pieces: string[] = [];
  for (let i = 0; i < line.length; i += MAX_LINE_CHARS) pieces.push(line.slice(i, i + MAX_LINE_CHARS));
  return pieces;
}
