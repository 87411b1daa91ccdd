/**
 * How long to wait before retrying a 503. `Retry-After` is either delay-seconds or an HTTP-date
 * (RFC 9110 §10.2.3); without a usable header the wait doubles from 100 ms. Always capped by `maxMs`.
 */
export function retryDelayMs(retryAfter: string | undefined, attempt: number, maxMs: number, now: number = Date.now()): number {
  const asked = parseRetryAfter(retryAfter, now);
  const fallback = 100 * 2 ** Math.max(0, attempt - 1);
  return Math.max(0, Math.min(asked ?? fallback, maxMs));
}

/** The delay a Retry-After header value asks for, in ms, or undefined when it is absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
