/**
 * The body iotedgehubdev's `POST /api/v1/messages` takes (its testing utility's getValidateMessage fields),
 * shared by single-module mode and the dashboard, and the message made from it.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { MAX_MESSAGE_BYTES } from '../broker/edge-broker.js';
import { messageSize } from '../broker/property-bag.js';
import { simulatorError } from '../errors.js';
import type { Message } from '../store/store-types.js';

/** Request bodies larger than this are refused unread (a message is at most 256 KiB). */
const MAX_REQUEST_BYTES = 2 * MAX_MESSAGE_BYTES;

/** Reads an inject request's body as text; FERRY_E_SIM_MESSAGE_TOO_LARGE (and the request dropped) past MAX_REQUEST_BYTES. */
export function readInjectBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        reject(simulatorError('FERRY_E_SIM_MESSAGE_TOO_LARGE', `The request body is over ${MAX_REQUEST_BYTES} bytes.`, { details: { limit: MAX_MESSAGE_BYTES } }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export interface InjectRequest {
  readonly inputName: string;
  /** The body: a string is sent as UTF-8, another JSON value as its JSON text. */
  readonly data: unknown;
  readonly properties?: Readonly<Record<string, unknown>>;
  readonly messageId?: string;
  readonly correlationId?: string;
  readonly userId?: string;
}

/** Validates a request body as iotedgehubdev's testing utility does (inputName and data required). */
export function parseInjectRequest(body: unknown): InjectRequest {
  const bad = (reason: string): never => {
    throw simulatorError('FERRY_E_SIM_INJECT_INVALID', reason);
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) bad('The request body is not a JSON object.');
  const b = body as Record<string, unknown>;
  if (typeof b['inputName'] !== 'string' || b['inputName'] === '') bad('Cannot get inputName in the request body (a non-empty string).');
  // The testing utility refuses a falsy data (`if (!data)`): missing, null, empty string, 0, false.
  if (b['data'] === undefined || b['data'] === null || b['data'] === '' || b['data'] === 0 || b['data'] === false) bad('Cannot find message data in the request body.');
  const properties = b['properties'];
  if (properties !== undefined && (typeof properties !== 'object' || properties === null || Array.isArray(properties))) bad('properties must be an object of names to values.');
  for (const key of ['messageId', 'correlationId', 'userId'] as const) {
    if (b[key] !== undefined && typeof b[key] !== 'string') bad(`${key} must be a string.`);
  }
  return b as unknown as InjectRequest;
}

/**
 * The message a request makes: application properties (non-string values as their JSON text), messageId
 * (made when not given), correlationId, userId, the origin device and module, plus `extraSystem`.
 * FERRY_E_SIM_MESSAGE_TOO_LARGE over 256 KiB (body and properties).
 */
export function injectedMessage(
  request: InjectRequest,
  origin: { readonly deviceId: string; readonly moduleId: string },
  extraSystem: Readonly<Record<string, string>> = {},
): { message: Omit<Message, 'enqueuedAt'>; messageId: string } {
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.properties ?? {})) properties[k] = typeof v === 'string' ? v : JSON.stringify(v);
  const messageId = request.messageId ?? randomUUID();
  const systemProperties: Record<string, string> = {
    messageId,
    ...(request.correlationId !== undefined ? { correlationId: request.correlationId } : {}),
    ...(request.userId !== undefined ? { userId: request.userId } : {}),
    ...extraSystem,
    connectionDeviceId: origin.deviceId,
    connectionModuleId: origin.moduleId,
  };
  const body = Buffer.from(typeof request.data === 'string' ? request.data : JSON.stringify(request.data), 'utf8');
  const size = messageSize(body, { properties, systemProperties });
  if (size > MAX_MESSAGE_BYTES) {
    throw simulatorError('FERRY_E_SIM_MESSAGE_TOO_LARGE', `The message is ${size} bytes (body and properties), over ${MAX_MESSAGE_BYTES}.`, { details: { size, limit: MAX_MESSAGE_BYTES } });
  }
  return { message: { properties, systemProperties, body }, messageId };
}
