/**
 * Reading JSON Lines files line by line, with 1-based line numbers and byte offsets, without loading
 * the file whole (the stream's async iterator pulls, so memory stays bounded by one chunk plus one line).
 */
import { createReadStream } from 'node:fs';

export interface JsonlLine {
  /** 1-based physical line number in the file (what `sed -n Np` shows). */
  number: number;
  /** The line without its `\n` (and without a `\r` before it). */
  text: string;
  /** Byte offset of the line's first byte. */
  start: number;
  /** False only for a last line that has no `\n` after it. */
  terminated: boolean;
}

const NEWLINE = 0x0a;

export async function* readJsonlLines(path: string): AsyncGenerator<JsonlLine> {
  let number = 0;
  let offset = 0;
  let carry: Buffer[] = [];
  let carryBytes = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, from)) {
      const piece = chunk.subarray(from, at);
      const bytes = carryBytes > 0 ? Buffer.concat([...carry, piece]) : piece;
      number++;
      yield { number, text: decodeLine(bytes), start: offset, terminated: true };
      offset += bytes.length + 1;
      carry = [];
      carryBytes = 0;
      from = at + 1;
    }
    if (from < chunk.length) {
      carry.push(chunk.subarray(from));
      carryBytes += chunk.length - from;
    }
  }
  if (carryBytes > 0) {
    number++;
    yield { number, text: decodeLine(Buffer.concat(carry)), start: offset, terminated: false };
  }
}

function decodeLine(bytes: Buffer): string {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
  return bytes.toString('utf8', 0, end);
}

/** True for lines that carry no request (empty or whitespace only): they are not counted or scored. */
export function isBlank(text: string): boolean {
  return text.trim().length === 0;
}
