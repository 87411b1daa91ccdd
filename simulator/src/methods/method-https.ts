/**
 * Module-to-module direct methods over HTTPS on the gateway port, as `ModuleClient.invokeMethod` sends
 * them (PROTOCOLS.md §3; iotedge edge-hub Http/controllers/TwinsController.cs):
 * `POST /twins/<device>[/modules/<module>]/methods`, headers `x-ms-edge-moduleId: <device>/<caller>` and
 * `Authorization: <caller's SAS token>`, body `{methodName, payload, responseTimeoutInSeconds,
 * connectTimeoutInSeconds}`; the answer is `{"status": n, "payload": ...}` with a JSON content type.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isFerryErrorLike } from '../broker/coded.js';
import { simulatorError } from '../errors.js';
import type { IdentityStore } from '../identity/identity-store.js';
import { verifySasToken } from '../identity/sas-token.js';
import type { InvokeOptions, MethodResult } from './method-service.js';

export interface MethodHttpsContext {
  readonly identities: IdentityStore;
  readonly now: () => number;
  readonly maxBodyBytes: number;
  readonly invoke: (moduleId: string | undefined, methodName: string, payload: unknown, options: InvokeOptions) => Promise<MethodResult>;
}

/** `/twins/<device>/methods` or `/twins/<device>/modules/<module>/methods`, each id percent-encoded. */
const PATH = /^\/twins\/([^/]+)(?:\/modules\/([^/]+))?\/methods\/?$/;
const JSON_TYPE = 'application/json; charset=utf-8';

/** Serves a method call and returns true, or returns false (answering nothing) for other requests. */
export function handleMethodHttpsRequest(req: IncomingMessage, res: ServerResponse, ctx: MethodHttpsContext): boolean {
  const path = (req.url ?? '').split('?')[0] ?? '';
  const m = PATH.exec(path);
  if (req.method !== 'POST' || !m) return false;
  serve(req, res, ctx, m[1]!, m[2]).catch((e: unknown) => answerError(res, e));
  return true;
}

async function serve(req: IncomingMessage, res: ServerResponse, ctx: MethodHttpsContext, deviceSegment: string, moduleSegment: string | undefined): Promise<void> {
  authenticate(req, ctx);
  const body = await readBody(req, ctx.maxBodyBytes);
  const request = parseRequest(body);
  const deviceId = decode(deviceSegment);
  const moduleId = moduleSegment === undefined ? undefined : decode(moduleSegment);
  if (deviceId !== ctx.identities.deviceId) {
    throw simulatorError('FERRY_E_SIM_IDENTITY_UNKNOWN', `The simulated device is "${ctx.identities.deviceId}", not "${deviceId}".`, { details: { deviceId } });
  }
  const result = await ctx.invoke(moduleId, request.methodName, request.payload, {
    ...(request.responseTimeoutInSeconds === undefined ? {} : { timeoutSecs: request.responseTimeoutInSeconds }),
    ...(request.connectTimeoutInSeconds === undefined ? {} : { connectTimeoutSecs: request.connectTimeoutInSeconds }),
  });
  const text = JSON.stringify({ status: result.status, payload: result.payload });
  res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text) }).end(text);
}

/**
 * The caller must be a module of this device proving itself with its own SAS token (edgeHub answers
 * 401 otherwise); a missing or malformed `x-ms-edge-moduleId` is a bad request.
 */
function authenticate(req: IncomingMessage, ctx: MethodHttpsContext): void {
  const header = req.headers['x-ms-edge-moduleid'];
  const actor = Array.isArray(header) ? header[0] : header;
  const slash = actor?.indexOf('/') ?? -1;
  if (actor === undefined || slash <= 0 || slash === actor.length - 1) {
    throw simulatorError('FERRY_E_SIM_METHOD_REQUEST_INVALID', 'The request lacks the header x-ms-edge-moduleId: <device>/<module>.');
  }
  const deviceId = actor.slice(0, slash);
  const moduleId = actor.slice(slash + 1);
  const identities = ctx.identities;
  if (deviceId !== identities.deviceId) {
    throw simulatorError('FERRY_E_SIM_TOKEN_INVALID', `Only modules of the device "${identities.deviceId}" may invoke its methods, not "${actor}".`, { details: { caller: actor } });
  }
  const identity = identities.find(deviceId, moduleId);
  if (!identity) throw simulatorError('FERRY_E_SIM_TOKEN_INVALID', `The caller "${actor}" has no identity in the simulator.`, { details: { caller: actor } });
  const token = req.headers.authorization;
  if (token === undefined || token === '') throw simulatorError('FERRY_E_SIM_TOKEN_INVALID', 'The request has no Authorization header (the caller\'s SAS token).');
  verifySasToken(token, { hubHostName: identities.hubHostName, deviceId, moduleId }, [identity.primaryKey, identity.secondaryKey], ctx.now() / 1000);
}

interface MethodRequestBody {
  readonly methodName: string;
  readonly payload: unknown;
  readonly responseTimeoutInSeconds: number | undefined;
  readonly connectTimeoutInSeconds: number | undefined;
}

function parseRequest(body: Buffer): MethodRequestBody {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw simulatorError('FERRY_E_SIM_METHOD_REQUEST_INVALID', 'The request body is not JSON.');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw simulatorError('FERRY_E_SIM_METHOD_REQUEST_INVALID', 'The request body is not a JSON object.');
  const o = v as Record<string, unknown>;
  if (typeof o.methodName !== 'string') throw simulatorError('FERRY_E_SIM_METHOD_REQUEST_INVALID', 'The request body has no methodName.');
  const seconds = (name: string): number | undefined => {
    const s = o[name];
    if (s === undefined || s === null) return undefined;
    if (typeof s !== 'number') throw simulatorError('FERRY_E_SIM_METHOD_REQUEST_INVALID', `${name} is not a number.`);
    return s;
  };
  return {
    methodName: o.methodName,
    payload: o.payload,
    responseTimeoutInSeconds: seconds('responseTimeoutInSeconds'),
    connectTimeoutInSeconds: seconds('connectTimeoutInSeconds'),
  };
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    const tooLarge = (): Error => simulatorError('FERRY_E_SIM_METHOD_PAYLOAD_TOO_LARGE', `The request body is over ${limit} bytes.`, { details: { limit } });
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw simulatorError('FERRY_E_SIM_METHOD_REQUEST_INVALID', `The path segment "${segment}" is badly percent-encoded.`);
  }
}

/** Ferry's HTTP error body `{"message", "code", "details"}` with the code's status (docs/errors.md). */
function answerError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const coded = isFerryErrorLike(e);
  const status = coded ? e.status : 500;
  const body = coded ? JSON.stringify(e) : JSON.stringify({ code: 'FERRY_E_INTERNAL', message: String(e) });
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) }).end(body);
}
