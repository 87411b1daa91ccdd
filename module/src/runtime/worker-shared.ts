/** What both worker engines need: reading a JSON body, session options from the config. */
import type { InferenceSession } from 'onnxruntime-node';
import { scoringError } from '../errors.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 JSON bytes -> value; FERRY_E_REQUEST_MALFORMED otherwise. */
export function parseJsonBody(body: Uint8Array): unknown {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch (e) {
    throw scoringError('FERRY_E_REQUEST_MALFORMED', 'The request body is not valid UTF-8', { cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw scoringError('FERRY_E_REQUEST_MALFORMED', `The request body is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** Session options from `runtime.threads`; everything else is onnxruntime's default, errors-only logging. */
export function sessionOptions(threads: number | undefined, extra?: InferenceSession.SessionOptions): InferenceSession.SessionOptions {
  const opts: InferenceSession.SessionOptions = { logSeverityLevel: 3 };
  if (threads !== undefined && threads > 0) {
    opts.intraOpNumThreads = threads;
    opts.interOpNumThreads = 1;
    opts.executionMode = 'sequential';
  }
  return { ...opts, ...extra };
}
