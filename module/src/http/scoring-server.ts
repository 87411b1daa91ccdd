/**
 * The local scoring service: Azure ML's scoring web service conventions (PROTOCOLS.md §7) over node:http,
 * in front of a ScoringRuntime. The runtime scores, validates, queues and times out; this file routes,
 * authenticates, limits bodies, sets the Azure ML headers, counts, and drains on shutdown.
 *
 * Routes: GET / (liveness), POST /score, GET /score?k=v, GET /swagger.json[?version=2|3], GET /healthz,
 * GET /metrics. Error bodies are `{"message": ..., "code": "FERRY_E_...", "details"?: {...}}`.
 * `/`, `/healthz` and `/swagger.json` need no key (Azure ML leaves `/` and `/swagger.json` open too);
 * `/score` and `/metrics` need `Authorization: Bearer <primary or secondary key>` when auth is 'key'.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { isFerryError, scoringError } from '../errors.js';
import type { FerryError } from '../errors.js';
import type { ScoreRequest, ScoreResult, ScoringRuntime } from '../runtime/types.js';
import { httpError } from './errors.js';
import { isJsonMediaType, mediaType, queryToRequestObject, readBody } from './request-body.js';
import type { ServiceKeys } from './service-keys.js';
import { PROMETHEUS_CONTENT_TYPE, ServiceMetrics } from './service-metrics.js';
import type { RouteLabel } from './service-metrics.js';

export interface ScoringServerOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 8890; 0 picks a free one). */
  port?: number;
  /** 'key' requires a bearer key on /score and /metrics; `keys` must then be given. */
  auth: 'key' | 'none';
  keys?: ServiceKeys;
  /** Largest accepted request body (default 10 MiB); larger ones get 413 and the connection is closed. */
  maxBodyBytes?: number;
  /** One event per answered request, plus lifecycle events, for the caller's logger. Must not throw. */
  onEvent?: (e: ServerEvent) => void;
}

export interface ScoringServer {
  /** `http://host:port` (a wildcard host is reported as the loopback address). */
  readonly url: string;
  readonly port: number;
  /**
   * Stops accepting connections, answers new requests on open connections with 503 FERRY_E_SHUTTING_DOWN
   * and `Connection: close`, waits up to `graceMs` (default 30 s) for in-flight requests, then closes the
   * runtime. Idempotent: later calls return the same promise.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

export interface RequestEvent {
  type: 'request';
  method: string;
  /** The path without the query string. */
  path: string;
  status: number;
  /** Arrival to answer, in milliseconds. */
  ms: number;
  requestId: string;
  /** The FERRY_E_* code of an error answer. */
  code?: string;
  /** The underlying error of a 5xx answer (the cause of FERRY_E_INTERNAL), for the log's stack trace. */
  error?: unknown;
}

export type ServerEvent =
  | RequestEvent
  /** The runtime finished loading: the service scores from now on. */
  | { type: 'ready'; ms: number }
  /** The runtime failed to load: /healthz and /score answer 503 until the process is restarted. */
  | { type: 'load-failed'; error: FerryError }
  /** close() was called: `inFlight` requests are being waited for. */
  | { type: 'draining'; inFlight: number }
  | { type: 'closed' };

const DEFAULT_PORT = 8890;
const DEFAULT_MAX_BODY = 10 * 1024 * 1024;
const DEFAULT_GRACE_MS = 30_000;
/** Azure ML's inference server refuses longer request ids with 431 (HEADER_LIMIT in its routes.py). */
const MAX_REQUEST_ID = 100;
const RETRY_AFTER_NOT_READY = 1;
const RETRY_AFTER_FAILED = 30;
/** Keep idle keep-alive connections longer than the usual 60 s idle timeout of proxies and clients. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Longest a connection answered with 413 keeps draining the client's body before it is closed. */
const LINGER_MS = 5000;

const ALLOW_SCORE = 'GET, POST';
/**
 * A raw tensor answer is asked for with an Accept header that names application/octet-stream and not
 * application/json (a no-code model with one numeric output); JSON stays the default.
 */
function wantsBinary(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('application/octet-stream') && !accept.includes('application/json');
}

/** The shape of an `application/octet-stream` body, for models with more than one symbolic dimension: `1,3,48,192`. */
const SHAPE_HEADER = 'x-ferry-shape';
const ALLOW_GET = 'GET, HEAD';

/**
 * Listens at once; the runtime may still be loading (a promise), then /healthz and /score answer 503.
 * The server owns the runtime from here on: close() closes it, and so does a failure to listen
 * (FERRY_E_LISTEN_FAILED).
 */
export async function startScoringServer(
  runtime: ScoringRuntime | Promise<ScoringRuntime>,
  opts: ScoringServerOptions,
): Promise<ScoringServer> {
  if (opts.auth === 'key' && !opts.keys) throw new TypeError("startScoringServer: auth 'key' needs opts.keys");
  const service = new ScoringService(runtime, opts);
  try {
    await service.listen(opts.host ?? '127.0.0.1', opts.port ?? DEFAULT_PORT);
  } catch (e) {
    // The server owns the runtime: without a server to close, release it here (worker threads included).
    await service.close({ graceMs: 0 }).catch(() => undefined);
    throw e;
  }
  return service;
}

/** One request on its way through the service. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly start: number;
  readonly method: string;
  readonly path: string;
  readonly route: RouteLabel;
  requestId: string;
  done: boolean;
}

class ScoringService implements ScoringServer {
  readonly #server: Server;
  readonly #keys: ServiceKeys | undefined;
  readonly #maxBody: number;
  readonly #onEvent: ((e: ServerEvent) => void) | undefined;
  readonly #metrics = new ServiceMetrics();
  readonly #runtimeLoading: Promise<ScoringRuntime> | undefined;
  #runtime: ScoringRuntime | undefined;
  #loadError: FerryError | undefined;
  #inFlight = 0;
  #closing = false;
  #closed: Promise<void> | undefined;
  #onDrained: (() => void) | undefined;
  #url = '';
  #port = 0;

  constructor(runtime: ScoringRuntime | Promise<ScoringRuntime>, opts: ScoringServerOptions) {
    this.#keys = opts.auth === 'key' ? opts.keys : undefined;
    this.#maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.#onEvent = opts.onEvent;
    if (isPromiseLike(runtime)) {
      const started = performance.now();
      this.#runtimeLoading = Promise.resolve(runtime);
      this.#runtimeLoading.then(
        (rt) => {
          this.#runtime = rt;
          this.#emit({ type: 'ready', ms: performance.now() - started });
        },
        (e: unknown) => {
          this.#loadError = isFerryError(e) ? e : httpError('FERRY_E_RUNTIME_FAILED', 'The scoring runtime failed to load', { cause: e });
          this.#emit({ type: 'load-failed', error: this.#loadError });
        },
      );
    } else {
      this.#runtime = runtime;
    }
    // noDelay: answers are small and latency-bound, Nagle would hold them back (on by default in Node 20; explicit here).
    this.#server = createServer({ noDelay: true, keepAlive: true }, (req, res) => this.#handle(req, res, false));
    // `Expect: 100-continue` (curl sends it for bodies over 1 MiB): refuse before the body is sent when we can.
    this.#server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res, true));
    this.#server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    this.#server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000;
  }

  get url(): string {
    return this.#url;
  }

  get port(): number {
    return this.#port;
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        reject(httpError('FERRY_E_LISTEN_FAILED', `Cannot listen on ${host}:${port} (${e.code ?? e.message})`, { cause: e, details: { host, port } }));
      };
      this.#server.once('error', onError);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', onError);
        const addr = this.#server.address() as AddressInfo;
        this.#port = addr.port;
        this.#url = `http://${urlHost(addr.address)}:${addr.port}`;
        resolve();
      });
    });
  }

  close(opts: { graceMs?: number } = {}): Promise<void> {
    this.#closed ??= this.#drainAndClose(opts.graceMs ?? DEFAULT_GRACE_MS);
    return this.#closed;
  }

  async #drainAndClose(graceMs: number): Promise<void> {
    const deadline = performance.now() + graceMs;
    this.#closing = true;
    this.#emit({ type: 'draining', inFlight: this.#inFlight });
    // Stops accepting and (Node >= 19) closes idle keep-alive connections; busy ones close after their answer.
    const serverClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    if (this.#inFlight > 0) {
      await withTimeout(new Promise<void>((resolve) => (this.#onDrained = resolve)), deadline - performance.now());
    }
    // Connections that went idle during the drain (their answers said `Connection: close`; this is a backstop).
    this.#server.closeIdleConnections();
    await withTimeout(serverClosed, Math.max(0, deadline - performance.now()));
    this.#server.closeAllConnections();
    await serverClosed;
    const runtime = this.#runtime ?? (await this.#runtimeLoading?.catch(() => undefined));
    await runtime?.close();
    this.#emit({ type: 'closed' });
  }

  // ---- routing -------------------------------------------------------------------------------------

  #handle(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const x: Exchange = { req, res, start: performance.now(), method: req.method ?? 'GET', path, route: routeOf(path), requestId: '', done: false };
    this.#inFlight++;
    try {
      const given = req.headers['x-request-id'];
      if (typeof given === 'string' && given !== '') {
        if (given.length > MAX_REQUEST_ID) {
          x.requestId = randomUUID();
          return this.#fail(x, httpError('FERRY_E_REQUEST_ID_TOO_LONG', `x-request-id has ${given.length} characters, more than ${MAX_REQUEST_ID}`));
        }
        x.requestId = given;
      } else {
        x.requestId = randomUUID();
      }
      if (this.#closing) return this.#fail(x, scoringError('FERRY_E_SHUTTING_DOWN', 'The service is shutting down'));
      const query = q === -1 ? '' : url.slice(q + 1);
      const m = x.method;
      switch (x.route) {
        case '/score':
          if (m === 'POST') return void this.#scorePost(x, expectContinue).catch((e: unknown) => this.#fail(x, e));
          if (m === 'GET') return void this.#scoreGet(x, query).catch((e: unknown) => this.#fail(x, e));
          return this.#notAllowed(x, ALLOW_SCORE);
        case '/':
          if (m !== 'GET' && m !== 'HEAD') return this.#notAllowed(x, ALLOW_GET);
          return this.#send(x, 200, 'text/plain; charset=utf-8', 'Healthy');
        case '/healthz':
          if (m !== 'GET' && m !== 'HEAD') return this.#notAllowed(x, ALLOW_GET);
          return this.#healthz(x);
        case '/swagger.json':
          if (m !== 'GET' && m !== 'HEAD') return this.#notAllowed(x, ALLOW_GET);
          return this.#swagger(x, query);
        case '/metrics':
          if (m !== 'GET' && m !== 'HEAD') return this.#notAllowed(x, ALLOW_GET);
          if (!this.#authorized(x)) return;
          return this.#send(x, 200, PROMETHEUS_CONTENT_TYPE, this.#metrics.render(this.#gauges()));
        default:
          return this.#fail(x, httpError('FERRY_E_ROUTE_NOT_FOUND', `No route ${x.method} ${x.path}`));
      }
    } catch (e) {
      this.#fail(x, e);
    }
  }

  async #scorePost(x: Exchange, expectContinue: boolean): Promise<void> {
    if (!this.#authorized(x)) return;
    const runtime = this.#readyRuntime(x);
    if (!runtime) return;
    const type = mediaType(x.req.headers['content-type']);
    const binary = type === 'application/octet-stream';
    if (!binary && !isJsonMediaType(type)) {
      return this.#fail(x, httpError('FERRY_E_UNSUPPORTED_MEDIA_TYPE', `POST /score takes application/json or application/octet-stream, not ${type === '' ? 'a body without Content-Type' : type}`));
    }
    const lengthHeader = x.req.headers['content-length'];
    const declared = lengthHeader === undefined ? undefined : Number(lengthHeader);
    if (declared !== undefined && declared > this.#maxBody) {
      // Refused from the header alone: nothing of the body is read.
      return this.#tooLarge(x, declared);
    }
    const shapeHeader = binary ? x.req.headers[SHAPE_HEADER] : undefined;
    const shape = typeof shapeHeader === 'string' ? parseShapeHeader(shapeHeader) : undefined;
    if (typeof shapeHeader === 'string' && shape === undefined) {
      return this.#fail(x, httpError('FERRY_E_SHAPE_HEADER_INVALID', `${SHAPE_HEADER}: "${shapeHeader.slice(0, 64)}" is not a list of dimensions`));
    }
    if (expectContinue) x.res.writeContinue();
    const outcome = await readBody(x.req, this.#maxBody, declared);
    if (!outcome.ok) {
      if (outcome.reason === 'too-large') return this.#tooLarge(x, outcome.received);
      return this.#abandoned(x);
    }
    const request: ScoreRequest = !binary ? { kind: 'json-bytes', body: outcome.body }
      : shape ? { kind: 'binary', body: outcome.body, shape } : { kind: 'binary', body: outcome.body };
    return this.#score(x, runtime, request);
  }

  async #scoreGet(x: Exchange, query: string): Promise<void> {
    if (!this.#authorized(x)) return;
    const runtime = this.#readyRuntime(x);
    if (!runtime) return;
    return this.#score(x, runtime, { kind: 'json', value: queryToRequestObject(query) });
  }

  async #score(x: Exchange, runtime: ScoringRuntime, request: ScoreRequest): Promise<void> {
    // A client that hangs up takes its request out of the runtime's queue.
    const abort = new AbortController();
    const onClose = (): void => {
      if (!x.done) abort.abort();
    };
    x.res.once('close', onClose);
    let result: ScoreResult;
    try {
      result = await runtime.score(request, { signal: abort.signal, ...(wantsBinary(x.req.headers.accept) ? { output: 'binary' as const } : {}) });
    } catch (e) {
      x.res.off('close', onClose);
      if (abort.signal.aborted) return this.#abandoned(x);
      return this.#fail(x, e);
    }
    x.res.off('close', onClose);
    const headers: OutgoingHttpHeaders = {
      'content-type': result.contentType,
      'content-length': result.body.length,
      'x-request-id': x.requestId,
      // Azure ML formats it with three decimals ('0.012', never '1.2e-2').
      'x-ms-run-fn-exec-ms': result.execMs.toFixed(3),
    };
    if (result.tensor) {
      // A raw tensor answer (Accept: application/octet-stream): say what the bytes are.
      headers[SHAPE_HEADER] = result.tensor.dims.join(',');
      headers['x-ferry-output'] = result.tensor.name;
      headers['x-ferry-element-type'] = result.tensor.elementType;
    }
    if (this.#closing) headers.connection = 'close';
    x.res.writeHead(200, headers);
    x.res.end(result.body);
    this.#finish(x, 200, undefined, undefined);
  }

  #healthz(x: Exchange): void {
    const runtime = this.#runtime;
    if (runtime) {
      const { inFlight, queued } = runtime.stats();
      const body = { status: 'ready', name: runtime.name, mode: runtime.mode, models: runtime.models.map((m) => m.id), inFlight, queued };
      return this.#send(x, 200, 'application/json', JSON.stringify(body));
    }
    if (this.#loadError) {
      const e = this.#loadError;
      const body = { status: 'failed', message: e.message, code: e.code };
      return this.#send(x, 503, 'application/json', JSON.stringify(body), { 'retry-after': String(RETRY_AFTER_FAILED) }, e.code);
    }
    const e = httpError('FERRY_E_NOT_READY', 'The models are still loading');
    const body = { status: 'loading', message: e.message, code: e.code };
    return this.#send(x, 503, 'application/json', JSON.stringify(body), { 'retry-after': String(RETRY_AFTER_NOT_READY) }, e.code);
  }

  #swagger(x: Exchange, query: string): void {
    const runtime = this.#readyRuntime(x);
    if (!runtime) return;
    // Azure ML's inference server answers Swagger 2 when no version is asked for, 404 for an unknown one.
    const asked = query === '' ? null : new URLSearchParams(query).get('version');
    const version = asked === null || asked === '2' ? 2 : asked === '3' ? 3 : undefined;
    if (version === undefined) {
      return this.#fail(x, httpError('FERRY_E_SWAGGER_VERSION_UNKNOWN', `No swagger document of version "${asked}"`));
    }
    const host = x.req.headers.host;
    const doc = runtime.swagger(version, host === undefined ? { auth: this.#keys !== undefined } : { host, auth: this.#keys !== undefined });
    return this.#send(x, 200, 'application/json', JSON.stringify(doc));
  }

  // ---- checks --------------------------------------------------------------------------------------

  /** True when auth is off or the request carries a valid key; otherwise answers 401 and returns false. */
  #authorized(x: Exchange): boolean {
    const keys = this.#keys;
    if (!keys) return true;
    const header = x.req.headers.authorization;
    // RFC 6750 §2.1: `Bearer <token>`, the scheme is case-insensitive.
    if (header === undefined || header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') {
      this.#fail(x, httpError('FERRY_E_KEY_MISSING', header === undefined ? 'The request has no Authorization header' : 'The Authorization header is not a Bearer key'));
      return false;
    }
    if (keys.match(header.slice(7).trim()) === undefined) {
      this.#fail(x, httpError('FERRY_E_KEY_INVALID', 'The bearer key is not valid for this service'));
      return false;
    }
    return true;
  }

  /** The runtime once loaded; otherwise answers 503 and returns undefined. */
  #readyRuntime(x: Exchange): ScoringRuntime | undefined {
    if (this.#runtime) return this.#runtime;
    if (this.#loadError) {
      const cause = this.#loadError;
      this.#fail(x, httpError('FERRY_E_RUNTIME_FAILED', `The scoring runtime failed to load (${cause.code})`, { cause, details: { causeCode: cause.code } }));
    } else {
      this.#fail(x, httpError('FERRY_E_NOT_READY', 'The models are still loading'));
    }
    return undefined;
  }

  // ---- answers -------------------------------------------------------------------------------------

  #notAllowed(x: Exchange, allow: string): void {
    this.#fail(x, httpError('FERRY_E_METHOD_NOT_ALLOWED', `${x.path} does not answer ${x.method}`), { allow });
  }

  /** 413 at once, then a staged close of the connection: nothing more of the body is buffered. */
  #tooLarge(x: Exchange, bytes: number): void {
    const err = httpError('FERRY_E_BODY_TOO_LARGE', `The body has ${bytes > this.#maxBody ? `more than ${this.#maxBody}` : bytes} bytes; the limit is ${this.#maxBody}`, { details: { limitBytes: this.#maxBody } });
    lingerThenClose(x.req.socket);
    this.#fail(x, err, { connection: 'close' });
  }

  /** The client went away before its answer: count it (nginx's 499) and free the socket. */
  #abandoned(x: Exchange): void {
    x.res.destroy();
    this.#finish(x, 499, undefined, undefined);
  }

  #fail(x: Exchange, err: unknown, extra?: OutgoingHttpHeaders): void {
    if (x.done) return;
    const e = isFerryError(err) ? err : httpError('FERRY_E_INTERNAL', 'The request failed unexpectedly', { cause: err });
    const headers: OutgoingHttpHeaders = extra ? { ...extra } : {};
    if (e.status === 503) headers['retry-after'] = String(retryAfterOf(e));
    if (e.status === 401) headers['www-authenticate'] = e.code === 'FERRY_E_KEY_INVALID' ? 'Bearer realm="ferry", error="invalid_token"' : 'Bearer realm="ferry"';
    if (e.details?.functionFailed === true) headers['x-ms-run-function-failed'] = 'True';
    this.#send(x, e.status, 'application/json', errorBody(e), headers, e.code, e.status >= 500 ? (e.cause ?? e) : undefined);
  }

  #send(x: Exchange, status: number, contentType: string, body: string, extra?: OutgoingHttpHeaders, code?: string, error?: unknown): void {
    if (x.done) return;
    const headers: OutgoingHttpHeaders = {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
      'x-request-id': x.requestId,
    };
    if (extra) Object.assign(headers, extra);
    if (this.#closing) headers.connection = 'close';
    if (!x.res.headersSent) {
      x.res.writeHead(status, headers);
      x.res.end(body);
    } else {
      x.res.destroy();
    }
    this.#finish(x, status, code, error);
  }

  #finish(x: Exchange, status: number, code: string | undefined, error: unknown): void {
    if (x.done) return;
    x.done = true;
    this.#inFlight--;
    const ms = performance.now() - x.start;
    this.#metrics.countRequest(x.route, x.method, status, code);
    if (x.route === '/score') this.#metrics.observeScore(ms / 1000);
    if (this.#onEvent) {
      const e: RequestEvent = { type: 'request', method: x.method, path: x.path, status, ms, requestId: x.requestId };
      if (code !== undefined) e.code = code;
      if (error !== undefined) e.error = error;
      this.#emit(e);
    }
    if (this.#inFlight === 0 && this.#onDrained) this.#onDrained();
  }

  #gauges(): { httpInFlight: number; scoringInFlight: number; queued: number; ready: boolean } {
    const stats = this.#runtime?.stats();
    // This /metrics request itself is in flight while it renders: leave it out.
    return { httpInFlight: this.#inFlight - 1, scoringInFlight: stats?.inFlight ?? 0, queued: stats?.queued ?? 0, ready: this.#runtime !== undefined };
  }

  #emit(e: ServerEvent): void {
    if (!this.#onEvent) return;
    try {
      this.#onEvent(e);
    } catch {
      // A logger's failure must not break the request it logs.
    }
  }
}

/**
 * RFC 9112 §9.6 (tear-down): after its last answer a server should half-close, keep reading until the
 * client closes, then close. Node's default for a `Connection: close` answer is end() then destroy() as soon
 * as the answer is flushed: with body bytes still arriving the kernel then resets the connection, and a client
 * still sending its body (Node's http client, for one) fails with EPIPE/ECONNRESET and never reads the 413.
 * So for this socket the close is staged: FIN after the answer, incoming bytes are discarded (the request
 * stream keeps flowing, nothing is kept), and the socket is destroyed once the client closes its side or after
 * LINGER_MS, whichever comes first. Node calls `socket.destroySoon()` when a `Connection: close` answer
 * finishes (node:_http_server resOnFinish); this socket's own method is replaced to stage the close.
 */
function lingerThenClose(socket: Socket): void {
  socket.destroySoon = function stagedClose(this: Socket): void {
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    const close = (): void => {
      clearTimeout(timer);
      this.destroy();
    };
    this.once('end', close);
    this.once('close', () => clearTimeout(timer));
    this.end();
  };
}

/** `1,3,48,192` -> [1, 3, 48, 192]; undefined unless every item is a non-negative integer (at most 16 of them). */
function parseShapeHeader(text: string): number[] | undefined {
  const parts = text.split(',');
  if (parts.length > 16) return undefined;
  const dims: number[] = [];
  for (const part of parts) {
    const t = part.trim();
    if (!/^[0-9]{1,10}$/.test(t)) return undefined;
    const n = Number(t);
    if (n > 0x7fffffff) return undefined;
    dims.push(n);
  }
  return dims;
}

function routeOf(path: string): RouteLabel {
  switch (path) {
    case '/score':
    case '/':
    case '/healthz':
    case '/swagger.json':
    case '/metrics':
      return path;
    default:
      return 'other';
  }
}

function errorBody(e: FerryError): string {
  // Azure ML's error body is {"message": ...}; Ferry adds the stable code and, when present, details.
  if (e.details === undefined) return JSON.stringify({ message: e.message, code: e.code });
  try {
    return JSON.stringify({ message: e.message, code: e.code, details: e.details });
  } catch {
    return JSON.stringify({ message: e.message, code: e.code });
  }
}

function retryAfterOf(e: FerryError): number {
  const given = e.details?.retryAfterSeconds;
  if (typeof given === 'number' && Number.isFinite(given) && given >= 0) return Math.ceil(given);
  return e.code === 'FERRY_E_RUNTIME_FAILED' ? RETRY_AFTER_FAILED : RETRY_AFTER_NOT_READY;
}

function isPromiseLike<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown }).then === 'function';
}

function urlHost(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return address.includes(':') ? `[${address}]` : address;
}

async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))))]);
  clearTimeout(timer);
}
