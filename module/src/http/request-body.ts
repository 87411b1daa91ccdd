/**
 * Reading request bodies under a size limit, and turning `GET /score` query strings into request objects.
 */
import type { IncomingMessage } from 'node:http';

export type BodyOutcome =
  | { ok: true; body: Buffer }
  /** 'too-large': the limit was crossed while streaming (collecting stopped); 'aborted': the client went away. */
  | { ok: false; reason: 'too-large' | 'aborted'; received: number };

/**
 * Collects the body into one Buffer that owns its whole ArrayBuffer (offset 0, never a slice of a shared
 * pool), so the runtime may transfer it to a worker thread without a copy. With a Content-Length the
 * buffer is allocated once up front; chunked bodies are joined at the end.
 *
 * The caller checks Content-Length against `limit` before calling; this guards the streamed bytes
 * (chunked bodies): once `limit` is crossed it stops collecting, so nothing past the limit is buffered.
 */
export function readBody(req: IncomingMessage, limit: number, declaredLength: number | undefined): Promise<BodyOutcome> {
  return new Promise((resolve) => {
    let received = 0;
    let settled = false;
    const whole = declaredLength !== undefined ? Buffer.allocUnsafeSlow(declaredLength) : undefined;
    const chunks: Buffer[] = [];

    const done = (outcome: BodyOutcome): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAborted);
      req.off('close', onClose);
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      const next = received + chunk.length;
      if (next > limit || (whole !== undefined && next > whole.length)) {
        // Stop buffering; what still arrives is discarded (the stream keeps flowing with no listener)
        // until the connection is closed (see lingerThenClose in scoring-server.ts).
        done({ ok: false, reason: 'too-large', received: next });
        return;
      }
      if (whole !== undefined) chunk.copy(whole, received);
      else chunks.push(chunk);
      received = next;
    };
    const onEnd = (): void => {
      if (whole !== undefined) {
        // The HTTP parser enforces Content-Length, so a short body means the connection dropped.
        done(received === whole.length ? { ok: true, body: whole } : { ok: false, reason: 'aborted', received });
        return;
      }
      const body = Buffer.allocUnsafeSlow(received);
      let at = 0;
      for (const c of chunks) at += c.copy(body, at);
      done({ ok: true, body });
    };
    const onAborted = (): void => done({ ok: false, reason: 'aborted', received });
    const onClose = (): void => {
      if (!req.complete) done({ ok: false, reason: 'aborted', received });
    };
    req.on('data', onData);
    req.on('end', onEnd);
    // IncomingMessage emits 'error' only while someone listens (node:_http_incoming onError).
    req.on('error', onAborted);
    req.on('close', onClose);
  });
}

/**
 * `GET /score?a=1&b=[1,2]&c=x` -> `{a: 1, b: [1, 2], c: "x"}`: each value is parsed as JSON when it parses,
 * else kept as a string; a parameter given several times becomes an array of its values (as Azure ML's
 * inference server does). Keys are case-sensitive. The object has no prototype, so `__proto__` is an
 * ordinary key.
 */
export function queryToRequestObject(query: string): Record<string, unknown> {
  const out = Object.create(null) as Record<string, unknown>;
  if (query === '') return out;
  const seen = new Map<string, unknown[]>();
  for (const [key, raw] of new URLSearchParams(query)) {
    const value = parseLoose(raw);
    const list = seen.get(key);
    if (list) list.push(value);
    else seen.set(key, [value]);
  }
  for (const [key, values] of seen) out[key] = values.length === 1 ? values[0] : values;
  return out;
}

function parseLoose(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The media type of a Content-Type header, lowercased, without parameters: `Application/JSON; charset=utf-8`
 * -> `application/json`. Empty string when absent.
 */
export function mediaType(header: string | undefined): string {
  if (header === undefined) return '';
  const semi = header.indexOf(';');
  return (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase();
}

/** `application/json` and structured-syntax JSON types (`application/*+json`, RFC 6839). */
export function isJsonMediaType(type: string): boolean {
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}
