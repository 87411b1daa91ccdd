/**
 * Batch scoring of a JSON Lines file: one request per non-blank input line, N requests in flight.
 *
 * Output: one line per scored input line, `{"line": n, "result": <the service's JSON answer>}`, n the
 * 1-based input line number. Lines are written in COMPLETION order (with concurrency 1 that is input order);
 * sort by `line` to get input order. Recording n makes the batch resumable: a rerun skips the lines already
 * in the output, cuts off a partial last line left by a crash (that line is scored again), and scores the
 * rest, so every input line ends up in the output exactly once.
 *
 * Errors file (default: the output path with `.jsonl` replaced by `.errors.jsonl`): one line per line that
 * failed in THIS run, `{"line": n, "error": {"code", "message", "status"}}` — lines that are not JSON
 * (FERRY_E_BATCH_LINE_INVALID), answers that are not 2xx (the service's code and status), 503s that outlived
 * the retries, timeouts. A failed line never stops the batch. It is not in the output, so the next run tries
 * it again; the errors file is therefore started afresh by each run. A service that cannot be reached at all
 * (FERRY_E_SERVICE_UNREACHABLE) is not a bad line: the batch stops with that error and can be resumed.
 */
import { rm, stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { isFerryError } from '@ferry/module';
import { scanOutput } from './batch-output.js';
import { clientError } from './errors.js';
import { isBlank, readJsonlLines } from './jsonl-lines.js';
import { LineAppender } from './line-appender.js';
import type { JsonlLine } from './jsonl-lines.js';
import type { ScoringClient } from './scoring-client.js';

export interface BatchProgress {
  /** Lines finished: skipped + scored + failed. */
  done: number;
  /** Non-blank input lines (counted before the first request). */
  total: number;
  scored: number;
  failed: number;
  /** Lines already in the output when the run started. */
  skipped: number;
  /** Lines finished (scored or failed) per second in this run. */
  ratePerSec: number;
  /** Seconds left at the current rate; null until a line has finished. */
  etaSec: number | null;
}

export interface BatchOptions {
  client: ScoringClient;
  /** JSON Lines input: one request body per line; blank lines are ignored. */
  input: string;
  /** JSON Lines output, appended to (and resumed from) if it exists. */
  output: string;
  /** Errors file; default: `output` with `.jsonl` replaced by `.errors.jsonl` (or `.errors.jsonl` appended). */
  errors?: string;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Called at most every `progressIntervalMs` (default 200) while lines finish, and once at the end. */
  onProgress?: (progress: BatchProgress) => void;
  progressIntervalMs?: number;
  /** Stops taking lines and cancels the requests in flight; the promise then resolves with `aborted: true`. */
  signal?: AbortSignal;
}

export interface BatchSummary {
  total: number;
  scored: number;
  failed: number;
  skipped: number;
  elapsedMs: number;
  /** (scored + failed) / elapsed, per second. */
  ratePerSec: number;
  output: string;
  errors: string;
  /** Bytes of a partial last output line that were cut off before resuming (0 if none). */
  repairedBytes: number;
  aborted: boolean;
}

export function defaultErrorsPath(output: string): string {
  return output.endsWith('.jsonl') ? `${output.slice(0, -'.jsonl'.length)}.errors.jsonl` : `${output}.errors.jsonl`;
}

export async function scoreBatch(options: BatchOptions): Promise<BatchSummary> {
  const { client, input, output } = options;
  const errorsPath = options.errors ?? defaultErrorsPath(output);
  const concurrency = options.concurrency ?? 4;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw clientError('FERRY_E_BATCH_OPTIONS_INVALID', `The batch concurrency must be a positive integer, not ${concurrency}.`, { details: { concurrency } });
  }
  const started = performance.now();

  const inputStat = await stat(input).catch((e: unknown) => {
    throw clientError('FERRY_E_BATCH_INPUT_UNREADABLE', `Cannot read the batch input ${input}.`, { cause: e, details: { path: input } });
  });
  if (!inputStat.isFile()) throw clientError('FERRY_E_BATCH_INPUT_UNREADABLE', `The batch input ${input} is not a file.`, { details: { path: input } });

  const { done: alreadyDone, repairedBytes } = await scanOutput(output);
  let total = 0;
  let skipped = 0;
  try {
    for await (const line of readJsonlLines(input)) {
      if (isBlank(line.text)) continue;
      total++;
      if (alreadyDone.has(line.number)) skipped++;
    }
  } catch (e) {
    throw clientError('FERRY_E_BATCH_INPUT_UNREADABLE', `Cannot read the batch input ${input}.`, { cause: e, details: { path: input } });
  }

  await rm(errorsPath, { force: true });
  const sink = new BatchSink(output, errorsPath);
  await sink.open();

  const stop = new AbortController();
  const onOuterAbort = (): void => stop.abort(options.signal?.reason);
  if (options.signal?.aborted) stop.abort(options.signal.reason);
  else options.signal?.addEventListener('abort', onOuterAbort, { once: true });

  let scored = 0;
  let failed = 0;
  let fatal: unknown;
  const progressEvery = options.progressIntervalMs ?? 200;
  let lastProgress = -Infinity;
  const progress = (): BatchProgress => {
    const seconds = (performance.now() - started) / 1_000;
    const finished = scored + failed;
    const ratePerSec = seconds > 0 ? finished / seconds : 0;
    const left = total - skipped - finished;
    return { done: skipped + finished, total, scored, failed, skipped, ratePerSec, etaSec: finished > 0 && ratePerSec > 0 ? left / ratePerSec : null };
  };
  const report = (force: boolean): void => {
    if (!options.onProgress) return;
    const now = performance.now();
    if (!force && now - lastProgress < progressEvery) return;
    lastProgress = now;
    options.onProgress(progress());
  };

  const pending = pendingLines(input, alreadyDone);
  const worker = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      const next = await pending.next();
      if (next.done) return;
      const line = next.value;
      let body: Buffer;
      try {
        JSON.parse(line.text);
        body = Buffer.from(line.text, 'utf8');
      } catch (e) {
        await sink.error(line.number, { code: 'FERRY_E_BATCH_LINE_INVALID', message: `Line ${line.number} is not JSON: ${(e as Error).message}`, status: null });
        failed++;
        report(false);
        continue;
      }
      try {
        const answer = await client.score(body, { contentType: 'application/json', signal: stop.signal });
        const result = Buffer.isBuffer(answer.body) ? answer.body.toString('utf8') : answer.body;
        await sink.result(line.number, result);
        scored++;
      } catch (e) {
        if (stop.signal.aborted) return;
        if (isFerryError(e) && e.code !== 'FERRY_E_SERVICE_UNREACHABLE' && e.code !== 'FERRY_E_BATCH_OUTPUT_UNWRITABLE') {
          const details = (e.details ?? {}) as { code?: string | null; status?: number };
          await sink.error(line.number, { code: details.code ?? e.code, message: e.message, status: details.status ?? null });
          failed++;
        } else {
          throw e;
        }
      }
      report(false);
    }
  };

  const workers = Array.from({ length: concurrency }, () =>
    worker().catch((e: unknown) => {
      fatal ??= e;
      stop.abort(e);
    }),
  );
  await Promise.all(workers);
  await pending.return(undefined);
  options.signal?.removeEventListener('abort', onOuterAbort);
  try {
    await sink.close();
  } catch (e) {
    fatal ??= e;
  }
  report(true);
  if (fatal !== undefined) {
    if (isFerryError(fatal)) throw fatal;
    throw clientError('FERRY_E_BATCH_INPUT_UNREADABLE', `Reading the batch input ${input} failed.`, { cause: fatal, details: { path: input } });
  }
  const elapsedMs = performance.now() - started;
  return {
    total,
    scored,
    failed,
    skipped,
    elapsedMs,
    ratePerSec: elapsedMs > 0 ? ((scored + failed) * 1_000) / elapsedMs : 0,
    output,
    errors: errorsPath,
    repairedBytes,
    aborted: options.signal?.aborted === true,
  };
}

async function* pendingLines(input: string, alreadyDone: Set<number>): AsyncGenerator<JsonlLine> {
  for await (const line of readJsonlLines(input)) {
    if (!isBlank(line.text) && !alreadyDone.has(line.number)) yield line;
  }
}

interface LineError {
  code: string;
  message: string;
  status: number | null;
}

/** The output and errors files of one run; the errors file is only created by the first failed line. */
class BatchSink {
  #out: LineAppender;
  #errors: LineAppender;

  constructor(outputPath: string, errorsPath: string) {
    this.#out = new LineAppender(outputPath);
    this.#errors = new LineAppender(errorsPath);
  }

  open(): Promise<void> {
    return this.#out.open();
  }

  result(line: number, result: unknown): Promise<void> {
    return this.#out.append(`${JSON.stringify({ line, result })}\n`);
  }

  error(line: number, error: LineError): Promise<void> {
    return this.#errors.append(`${JSON.stringify({ line, error })}\n`);
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled([this.#out.close(), this.#errors.close()]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }
}
