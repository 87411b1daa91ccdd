/**
 * The batch output file and its resume scan. Each output line is `{"line": n, "result": ...}` where n is
 * the input line number; a line is written with one append of the whole line and its `\n`, so after a
 * crash (SIGKILL, power loss) only the last line can be partial. The scan keeps every complete line,
 * cuts a partial last line off (it is scored again, never duplicated) and refuses a file it did not write.
 */
import { stat, truncate } from 'node:fs/promises';
import { clientError } from './errors.js';
import { isBlank, readJsonlLines } from './jsonl-lines.js';

export interface OutputScan {
  /** Input line numbers already scored. */
  done: Set<number>;
  /** Bytes cut off the end (a partial last line), 0 when the file was whole. */
  repairedBytes: number;
}

export async function scanOutput(path: string): Promise<OutputScan> {
  const done = new Set<number>();
  const exists = await stat(path).then((s) => s.isFile(), () => false);
  if (!exists) return { done, repairedBytes: 0 };
  let cutAt: number | undefined;
  for await (const line of readJsonlLines(path)) {
    if (!line.terminated) {
      // Written without its newline: the process died inside the write. Score that line again.
      cutAt = line.start;
      break;
    }
    if (isBlank(line.text)) continue;
    const number = outputLineNumber(line.text);
    if (number === undefined) {
      throw clientError('FERRY_E_BATCH_OUTPUT_INVALID', `Line ${line.number} of ${path} is not a batch result ({"line": n, "result": ...}).`, {
        details: { path, line: line.number },
      });
    }
    done.add(number);
  }
  if (cutAt === undefined) return { done, repairedBytes: 0 };
  const { size: actual } = await stat(path);
  await truncate(path, cutAt);
  return { done, repairedBytes: actual - cutAt };
}

function outputLineNumber(text: string): number | undefined {
  try {
    const value = JSON.parse(text) as { line?: unknown };
    if (typeof value === 'object' && value !== null && Number.isSafeInteger(value.line) && (value.line as number) > 0 && 'result' in value) {
      return value.line as number;
    }
  } catch {
    // Not JSON: reported by the caller.
  }
  return undefined;
}
