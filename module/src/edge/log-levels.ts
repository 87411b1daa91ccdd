/** pino's log levels, which the twin's `logLevel` and the `setLogLevel` method accept (issue 4 §1, §3). */
import { edgeError } from './errors.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(v: unknown): v is LogLevel {
  return typeof v === 'string' && (LOG_LEVELS as readonly string[]).includes(v);
}

/** The level named by `v` (case-insensitive); throws FERRY_E_EDGE_LOG_LEVEL_INVALID. */
export function parseLogLevel(v: unknown): LogLevel {
  const level = typeof v === 'string' ? v.trim().toLowerCase() : v;
  if (!isLogLevel(level)) throw edgeError('FERRY_E_EDGE_LOG_LEVEL_INVALID', `${JSON.stringify(v) ?? String(v)} is not a log level`, { details: { level: v } });
  return level;
}
