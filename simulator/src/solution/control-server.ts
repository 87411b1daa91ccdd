/**
 * A simulation's control channel: JSON over HTTP on a unix socket
 * (`<workspace>/simulations/<name>/control.sock`), what `ferry status|logs|twin|invoke|monitor` talk to.
 *   GET  /status                      -> SimulationStatus
 *   GET  /logs/<module>[?follow=1]    -> NDJSON LogLine stream
 *   GET  /twins/<module>              -> {desired, reported}
 *   PATCH /twins/<module>             -> desired merge patch; answers the twin
 *   POST /methods/<module>/<method>   -> {payload, timeoutSecs?, connectTimeoutSecs?}; answers {status, payload}
 *   GET  /monitor[?module=m]          -> NDJSON stream of upstream (device-to-cloud) messages
 *   GET  /modulecred/<module>         -> {moduleId, EdgeHubConnectionString, EdgeModuleCACertificateFile}
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isFerryError } from '@ferry/deployment-manifests';
import { simulatorError } from '../errors.js';
import type { LogLine } from '../launcher/log-buffer.js';
import type { MethodResult } from '../methods/method-service.js';
import type { TwinProperties } from '../twins/twin-store.js';
import type { CloudMessage } from '../upstream/local-iot-hub.js';

/** What the control server needs of a simulation. */
export interface ControlTarget {
  status(): unknown;
  logs(moduleId: string, options: { follow: boolean; signal: AbortSignal }): AsyncIterable<LogLine>;
  twin(moduleId: string): TwinProperties;
  patchTwin(moduleId: string, patch: unknown): Promise<TwinProperties>;
  invoke(moduleId: string, method: string, payload: unknown, options: { timeoutSecs?: number; connectTimeoutSecs?: number }): Promise<MethodResult>;
  /** Calls `listener` for every upstream message from now on; returns the unsubscribe function. */
  onUpstream(listener: (m: CloudMessage) => void): () => void;
  moduleCredentials(moduleId: string): ModuleCredentials;
}

export interface ModuleCredentials {
  readonly moduleId: string;
  readonly EdgeHubConnectionString: string;
  readonly EdgeModuleCACertificateFile: string;
}

/** An upstream message as the control channel streams it: the body as UTF-8 text (and base64 when it is not). */
export interface MonitorEvent {
  readonly deviceId: string;
  readonly moduleId: string | undefined;
  readonly enqueuedAt: string;
  /** When the local IoT Hub took it: ms since the epoch, with a fraction (a process-local high-resolution clock). */
  readonly receivedAt: number;
  readonly sequenceNumber: number;
  readonly properties: Readonly<Record<string, string>>;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly body: string;
  readonly bodyBase64?: string;
}

const MAX_BODY_BYTES = 1024 * 1024;

export class ControlServer {
  readonly #server: Server;
  readonly #socketPath: string;
  /** Open log and monitor streams, ended on close. */
  readonly #streams: Set<AbortController>;

  private constructor(server: Server, socketPath: string, streams: Set<AbortController>) {
    this.#server = server;
    this.#socketPath = socketPath;
    this.#streams = streams;
  }

  static async start(target: ControlTarget, socketPath: string): Promise<ControlServer> {
    removeStaleSocket(socketPath);
    const streams = new Set<AbortController>();
    const server = createServer((req, res) => {
      handle(target, streams, req, res).catch((e: unknown) => answerError(res, e));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(simulatorError('FERRY_E_SIM_LISTEN_FAILED', `Cannot listen on the control socket ${socketPath}.`, { cause: e })));
      server.listen(socketPath, () => resolve());
    });
    // The control channel hands out module keys: this user only.
    chmodSync(socketPath, 0o600);
    return new ControlServer(server, socketPath, streams);
  }

  get socketPath(): string {
    return this.#socketPath;
  }

  /** Ends open streams, stops listening and removes the socket. */
  async close(): Promise<void> {
    for (const s of this.#streams) s.abort();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    removeStaleSocket(this.#socketPath);
  }
}

async function handle(target: ControlTarget, streams: Set<AbortController>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://control');
  const parts = url.pathname.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  const method = req.method ?? 'GET';
  const [head, a, b] = parts;
  if (method === 'GET' && head === 'status' && parts.length === 1) return answer(res, 200, target.status());
  if (method === 'GET' && head === 'twins' && a !== undefined && parts.length === 2) return answer(res, 200, target.twin(a));
  if (method === 'PATCH' && head === 'twins' && a !== undefined && parts.length === 2) return answer(res, 200, await target.patchTwin(a, await readJson(req)));
  if (method === 'GET' && head === 'modulecred' && a !== undefined && parts.length === 2) return answer(res, 200, target.moduleCredentials(a));
  if (method === 'POST' && head === 'methods' && a !== undefined && b !== undefined && parts.length === 3) {
    const body = await readJson(req);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('POST /methods/<module>/<method> takes a JSON object {"payload", "timeoutSecs"}');
    const { payload, timeoutSecs, connectTimeoutSecs } = body as Record<string, unknown>;
    for (const [k, v] of [['timeoutSecs', timeoutSecs], ['connectTimeoutSecs', connectTimeoutSecs]] as const) {
      if (v !== undefined && typeof v !== 'number') throw invalid(`${k} must be a number of seconds`);
    }
    const result = await target.invoke(a, b, payload, {
      ...(timeoutSecs !== undefined ? { timeoutSecs: timeoutSecs as number } : {}),
      ...(connectTimeoutSecs !== undefined ? { connectTimeoutSecs: connectTimeoutSecs as number } : {}),
    });
    return answer(res, 200, result);
  }
  if (method === 'GET' && head === 'logs' && a !== undefined && parts.length === 2) {
    const follow = url.searchParams.get('follow') === '1' || url.searchParams.get('follow') === 'true';
    const abort = openStream(streams, req, res);
    const lines = target.logs(a, { follow, signal: abort.signal }); // throws FERRY_E_SIM_MODULE_UNKNOWN before the answer starts
    startNdjson(res);
    try {
      for await (const line of lines) {
        if (abort.signal.aborted) break;
        res.write(`${JSON.stringify(line)}\n`);
      }
    } finally {
      streams.delete(abort);
      res.end();
    }
    return;
  }
  if (method === 'GET' && head === 'monitor' && parts.length === 1) {
    const moduleFilter = url.searchParams.get('module');
    const abort = openStream(streams, req, res);
    startNdjson(res);
    const off = target.onUpstream((m) => {
      if (moduleFilter !== null && m.moduleId !== moduleFilter) return;
      res.write(`${JSON.stringify(monitorEvent(m))}\n`);
    });
    await new Promise<void>((resolve) => abort.signal.addEventListener('abort', () => resolve(), { once: true }));
    off();
    streams.delete(abort);
    res.end();
    return;
  }
  throw simulatorError('FERRY_E_SIM_CONTROL_REQUEST_INVALID', `The control socket has no ${method} ${url.pathname}.`, { details: { method, path: url.pathname } });
}

/** Upstream message -> what `ferry monitor` prints. */
export function monitorEvent(m: CloudMessage): MonitorEvent {
  const text = m.body.toString('utf8');
  const exact = Buffer.from(text, 'utf8').equals(m.body);
  return {
    deviceId: m.deviceId,
    moduleId: m.moduleId,
    enqueuedAt: new Date(m.enqueuedAt).toISOString(),
    receivedAt: m.receivedAt,
    sequenceNumber: m.sequenceNumber,
    properties: m.properties,
    systemProperties: m.systemProperties,
    body: text,
    ...(exact ? {} : { bodyBase64: m.body.toString('base64') }),
  };
}

function openStream(streams: Set<AbortController>, req: IncomingMessage, res: ServerResponse): AbortController {
  const abort = new AbortController();
  streams.add(abort);
  const stop = (): void => abort.abort();
  req.on('close', stop);
  res.on('close', stop);
  return abort;
}

function startNdjson(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
}

function invalid(reason: string): Error {
  return simulatorError('FERRY_E_SIM_CONTROL_REQUEST_INVALID', reason);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY_BYTES) throw invalid(`The request body is over ${MAX_BODY_BYTES} bytes.`);
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw invalid('The request body is not JSON.');
  }
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? null);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function answerError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (isFerryError(e)) return answer(res, e.status, { error: e.toJSON() });
  answer(res, 500, { error: { code: 'FERRY_E_INTERNAL', message: e instanceof Error ? e.message : String(e) } });
}

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // absent: nothing to remove
  }
}
