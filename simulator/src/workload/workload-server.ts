import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { simulatorError } from '../errors.js';
import type { IdentityStore } from '../identity/identity-store.js';
import { isFerryErrorLike } from '../broker/coded.js';

/** The iotedged API version the SDK speaks (azure-iot-device iotedge_authentication_provider.ts). */
export const WORKLOAD_API_VERSION = '2018-06-28';
const MAX_BODY = 64 * 1024;

export interface WorkloadServerOptions {
  identities: IdentityStore;
  /** The CA certificate PEM served as the trust bundle. */
  caCertPem: string;
  /** The unix socket path (IOTEDGE_WORKLOADURI=unix://<path>). */
  socketPath: string;
}

/**
 * The IoT Edge workload API on a unix socket (PROTOCOLS.md §1), so modules can use the SDK's
 * IOTEDGE_* environment path: `GET /trust-bundle` and `POST /modules/{m}/genid/{g}/sign`.
 */
export class WorkloadServer {
  readonly #server: Server;
  readonly #socketPath: string;

  private constructor(server: Server, socketPath: string) {
    this.#server = server;
    this.#socketPath = socketPath;
  }

  static async start(options: WorkloadServerOptions): Promise<WorkloadServer> {
    removeStaleSocket(options.socketPath);
    const server = createServer((req, res) => {
      handle(options, req, res).catch((e: unknown) => answerError(res, e));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(simulatorError('FERRY_E_SIM_LISTEN_FAILED', `Cannot listen on the workload socket ${options.socketPath}.`, { cause: e })));
      server.listen(options.socketPath, () => resolve());
    });
    // Only this user may sign with module keys.
    chmodSync(options.socketPath, 0o600);
    return new WorkloadServer(server, options.socketPath);
  }

  /** `unix://<socket path>`: what modules get as IOTEDGE_WORKLOADURI. */
  get uri(): string {
    return `unix://${this.#socketPath}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // absent: nothing to remove; anything else shows when listening
  }
}

async function handle(options: WorkloadServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://workload');
  const apiVersion = url.searchParams.get('api-version');
  const body = await readBody(req);
  if (req.method === 'GET' && url.pathname === '/trust-bundle') {
    requireApiVersion(apiVersion);
    return answer(res, 200, { certificate: options.caCertPem });
  }
  const sign = /^\/modules\/([^/]+)\/genid\/([^/]+)\/sign$/.exec(url.pathname);
  if (req.method === 'POST' && sign) {
    requireApiVersion(apiVersion);
    const moduleId = decodeURIComponent(sign[1]!);
    const generationId = decodeURIComponent(sign[2]!);
    const identity = options.identities.module(moduleId);
    if (!identity) throw simulatorError('FERRY_E_SIM_IDENTITY_UNKNOWN', `No identity for module "${moduleId}".`, { details: { moduleId } });
    if (identity.generationId !== generationId) {
      throw simulatorError('FERRY_E_SIM_IDENTITY_UNKNOWN', `Module "${moduleId}" has no generation "${generationId}".`, { details: { moduleId, generationId } });
    }
    const request = parseSignRequest(body);
    const key = request.keyId === 'secondary' ? identity.secondaryKey : identity.primaryKey;
    const digest = createHmac('sha256', Buffer.from(key, 'base64')).update(Buffer.from(request.data, 'base64')).digest('base64');
    return answer(res, 200, { digest });
  }
  throw simulatorError('FERRY_E_SIM_WORKLOAD_ROUTE_NOT_FOUND', `${req.method} ${url.pathname} is not a workload API route.`);
}

function requireApiVersion(v: string | null): void {
  if (!v) throw simulatorError('FERRY_E_SIM_WORKLOAD_REQUEST_INVALID', 'The api-version query parameter is missing.');
}

function parseSignRequest(body: Buffer): { keyId: string; data: string } {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw simulatorError('FERRY_E_SIM_WORKLOAD_REQUEST_INVALID', 'The sign request body is not JSON.');
  }
  const r = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  if (r.keyId !== 'primary' && r.keyId !== 'secondary') throw simulatorError('FERRY_E_SIM_WORKLOAD_REQUEST_INVALID', 'keyId must be "primary" or "secondary".');
  if (r.algo !== 'HMACSHA256') throw simulatorError('FERRY_E_SIM_WORKLOAD_REQUEST_INVALID', 'algo must be "HMACSHA256".');
  if (typeof r.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(r.data)) throw simulatorError('FERRY_E_SIM_WORKLOAD_REQUEST_INVALID', 'data must be a base64 string.');
  return { keyId: r.keyId, data: r.data };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(simulatorError('FERRY_E_SIM_WORKLOAD_REQUEST_INVALID', `The request body is over ${MAX_BODY} bytes.`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

function answerError(res: ServerResponse, e: unknown): void {
  if (res.headersSent || res.destroyed) return;
  if (isFerryErrorLike(e)) answer(res, e.status, { message: e.message, code: e.code });
  else answer(res, 500, { message: 'Internal error in the workload API.', code: 'FERRY_E_INTERNAL' });
}
