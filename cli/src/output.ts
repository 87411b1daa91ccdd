/**
 * The CLI owns the terminal: results go to stdout (human text, or one JSON document with --json),
 * diagnostics and errors to stderr. Exit status 0 on success, 1 on a coded error, 2 on a usage error.
 */
import { isFerryError } from '@ferry/module';

export interface Output {
  readonly json: boolean;
  /** Prints a result: `human()` for people, `data` as JSON with --json. */
  result(data: unknown, human: () => string): void;
  /** A progress or status line for people (stderr); silent with --json. */
  info(line: string): void;
  /** A line of a command's human output (stdout); silent with --json, where `result` prints the data. */
  say(line: string): void;
}

export function createOutput(json: boolean, stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Output {
  return {
    json,
    result(data, human) {
      if (json) stdout.write(`${JSON.stringify(data, null, 2)}\n`);
      else {
        const text = human();
        if (text !== '') stdout.write(ensureNewline(text));
      }
    },
    info(line) {
      if (!json) stderr.write(ensureNewline(line));
    },
    say(line) {
      if (!json) stdout.write(ensureNewline(line));
    },
  };
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') || text === '' ? text : `${text}\n`;
}

/** Prints an error and returns the exit status for it. */
export function reportError(e: unknown, json: boolean, stderr: NodeJS.WritableStream = process.stderr): number {
  if (isFerryError(e)) {
    stderr.write(json ? `${JSON.stringify({ error: e.toJSON() })}\n` : `error ${e.code}: ${e.message}\n`);
    return e.code === 'FERRY_E_USAGE' ? 2 : 1;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  stderr.write(json
    ? `${JSON.stringify({ error: { code: 'FERRY_E_INTERNAL', message: err.message } })}\n`
    : `error FERRY_E_INTERNAL: ${err.stack ?? err.message}\n`);
  return 1;
}

/** Fixed-width table for human output. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n';
}
