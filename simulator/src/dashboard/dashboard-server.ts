/**
 * The simulator's dashboard (issue 3 §6): an HTTP server on loopback serving one page and its JSON API.
 * - `GET /` (and `/dashboard.js`, `/dashboard.css`): the page; it polls the API every second.
 * - `GET /api/state`: the simulation's status (modules, routes with counts and rates, endpoint backlogs), each
 *   module's twin, and the latest messages the router stored (properties and a body preview).
 * - `POST /api/messages`: injects a message into a module input (parseDashboardInject's body), durably,
 *   through the store like a routed message; answers once it is stored.
 * There is no login: the server listens on loopback only, answers only requests whose Host is a loopback
 * name (DNS rebinding) and whose Origin, when sent, is its own, and takes JSON bodies only (a cross-site
 * form cannot send them without a CORS preflight, which it never grants).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isFerryErrorLike } from '../broker/coded.js';
import { simulatorError } from '../errors.js';
import type { Router } from '../router/router.js';
import type { SimulationStatus } from '../solution/simulation.js';
import type { TwinProperties } from '../twins/twin-store.js';
import { injectedMessage, readInjectBody } from '../solution/inject-request.js';
import { parseDashboardInject, DASHBOARD_SOURCE_MODULE_ID, type DashboardInjectResult } from './inject-message.js';
import { MessageLog, type MessageView } from './message-log.js';
import { DASHBOARD_HTML, DASHBOARD_CSS } from './page.js';
import { DASHBOARD_SCRIPT } from './page-script.js';

/** The dashboard's port unless told otherwise (next to iotedgehubdev's 53000). */
export const DEFAULT_DASHBOARD_PORT = 53080;
/** Messages `GET /api/state` lists (newest first). */
export const DASHBOARD_MESSAGES = 50;
export const DASHBOARD_INJECT_PATH = '/api/messages';
export const DASHBOARD_STATE_PATH = '/api/state';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** What the dashboard shows and acts on (a Simulation). */
export interface DashboardTarget {
  status(): SimulationStatus;
  twin(moduleId: string): TwinProperties;
  readonly router: Router;
  readonly identities: { readonly deviceId: string };
}

export interface DashboardOptions {
  /** 0 picks a free port (default DEFAULT_DASHBOARD_PORT). */
  readonly port?: number;
  /** A loopback address (default 127.0.0.1). */
  readonly host?: string;
  /** When the port is in use, listen on a free one instead of failing (for the default port). */
  readonly fallbackToFreePort?: boolean;
}

export interface DashboardState {
  readonly status: SimulationStatus;
  readonly twins: Readonly<Record<string, TwinProperties>>;
  readonly messages: readonly MessageView[];
}

export class DashboardServer {
  readonly #target: DashboardTarget;
  readonly #server: Server;
  readonly #log = new MessageLog(DASHBOARD_MESSAGES);
  readonly #untap: () => void;
  #closing: Promise<void> | undefined;

  private constructor(target: DashboardTarget, server: Server) {
    this.#target = target;
    this.#server = server;
    this.#untap = target.router.onAccepted(this.#log.record);
  }

  /** Listens; FERRY_E_SIM_LISTEN_FAILED when the port is taken (unless fallbackToFreePort) or not allowed. */
  static async start(target: DashboardTarget, options: DashboardOptions = {}): Promise<DashboardServer> {
    const late: { self?: DashboardServer } = {};
    const server = createServer((req, res) => {
      if (!late.self) return answer(res, 503, { message: 'Starting.' });
      late.self.#handle(req, res).catch((e: unknown) => answerError(res, e));
    });
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? DEFAULT_DASHBOARD_PORT;
    try {
      await listen(server, port, host);
    } catch (e) {
      if (!options.fallbackToFreePort || port === 0 || (e as { cause?: { code?: string } }).cause?.code !== 'EADDRINUSE') throw e;
      await listen(server, 0, host);
    }
    late.self = new DashboardServer(target, server);
    return late.self;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** The page, e.g. http://127.0.0.1:53080/ */
  get url(): string {
    const a = this.#server.address() as AddressInfo;
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/`;
  }

  /** What `GET /api/state` answers. */
  state(): DashboardState {
    const status = this.#target.status();
    const twins: Record<string, TwinProperties> = {};
    for (const m of status.modules) {
      try {
        twins[m.id] = this.#target.twin(m.id);
      } catch {
        // A module without a twin yet is shown without one.
      }
    }
    return { status, twins, messages: this.#log.list() };
  }

  /**
   * Queues a message for a module input (what `POST /api/messages` does); resolves once it is stored.
   * FERRY_E_SIM_INJECT_INVALID, FERRY_E_SIM_MODULE_UNKNOWN (not a manifest module), FERRY_E_SIM_INPUT_UNKNOWN
   * (no route sends to that input), FERRY_E_SIM_MESSAGE_TOO_LARGE.
   */
  async inject(body: unknown): Promise<DashboardInjectResult> {
    const request = parseDashboardInject(body);
    const { moduleId, inputName } = request;
    const inputs = routedInputs(this.#target.router, moduleId);
    if (inputs.length === 0 && !this.#target.status().modules.some((m) => m.id === moduleId)) {
      throw simulatorError('FERRY_E_SIM_MODULE_UNKNOWN', `The simulation has no module "${moduleId}".`, { details: { moduleId } });
    }
    if (!inputs.includes(inputName)) {
      throw simulatorError('FERRY_E_SIM_INPUT_UNKNOWN', `No route sends to input "${inputName}" of module "${moduleId}" (routed inputs: ${inputs.join(', ') || 'none'}).`, { details: { moduleId, inputName, inputs } });
    }
    const { message, messageId } = injectedMessage(request, { deviceId: this.#target.identities.deviceId, moduleId: DASHBOARD_SOURCE_MODULE_ID });
    await this.#target.router.enqueueInput(moduleId, inputName, message, { source: DASHBOARD_SOURCE_MODULE_ID });
    return { moduleId, inputName, messageId };
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#untap();
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
    return this.#closing;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const hostName = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    if (!LOOPBACK_HOSTS.has(hostName)) throw requestError(403, `The dashboard answers only loopback host names (127.0.0.1, localhost, [::1]), not "${hostName}".`);
    const origin = req.headers.origin;
    if (origin !== undefined && originHost(origin) !== req.headers.host) throw requestError(403, `Requests from ${origin} are not allowed.`);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const page = PAGES[path];
    if (page) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed(res, 'GET');
      res.writeHead(200, { 'content-type': page.type, ...SECURITY_HEADERS }).end(req.method === 'HEAD' ? undefined : page.body);
      return;
    }
    if (path === DASHBOARD_STATE_PATH) {
      if (req.method !== 'GET') return notAllowed(res, 'GET');
      return answer(res, 200, this.state());
    }
    if (path === DASHBOARD_INJECT_PATH) {
      if (req.method !== 'POST') return notAllowed(res, 'POST');
      if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
        throw simulatorError('FERRY_E_SIM_INJECT_INVALID', 'Send the request body as JSON, with Content-Type: application/json.');
      }
      const text = await readInjectBody(req);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw simulatorError('FERRY_E_SIM_INJECT_INVALID', 'The request body is not JSON.');
      }
      return answer(res, 200, await this.inject(body));
    }
    throw requestError(404, `Not found: the dashboard answers GET /, GET ${DASHBOARD_STATE_PATH} and POST ${DASHBOARD_INJECT_PATH}.`);
  }
}

const PAGES: Readonly<Record<string, { type: string; body: string }>> = {
  '/': { type: 'text/html; charset=utf-8', body: DASHBOARD_HTML },
  '/dashboard.js': { type: 'text/javascript; charset=utf-8', body: DASHBOARD_SCRIPT },
  '/dashboard.css': { type: 'text/css; charset=utf-8', body: DASHBOARD_CSS },
};

/** The inputs of `moduleId` the current routes send to (the only ones an injection may use). */
function routedInputs(router: Router, moduleId: string): string[] {
  const inputs = new Set<string>();
  for (const r of router.routes) {
    const sink = r.compiled.sink;
    if (sink.kind === 'module-input' && sink.module === moduleId) inputs.add(sink.input);
  }
  return [...inputs];
}

/** FERRY_E_SIM_DASHBOARD_REQUEST_INVALID, answered with `status` (403, 404 or 405). */
function requestError(status: number, message: string): Error {
  return Object.assign(simulatorError('FERRY_E_SIM_DASHBOARD_REQUEST_INVALID', message), { answerStatus: status });
}

function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

function notAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  answerError(res, requestError(405, `Use ${allow} here.`));
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS }).end(JSON.stringify(body));
}

function answerError(res: ServerResponse, e: unknown): void {
  if (isFerryErrorLike(e)) {
    const x = e as { details?: unknown; answerStatus?: number };
    answer(res, x.answerStatus ?? e.status, { message: e.message, code: e.code, ...(x.details ? { details: x.details } : {}) });
  } else answer(res, 500, { message: (e as Error).message ?? String(e) });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (cause: Error): void => reject(simulatorError('FERRY_E_SIM_LISTEN_FAILED', `The dashboard cannot listen on ${host}:${port}: ${cause.message}`, { cause, details: { port } }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
