/**
 * Messages in and out of the scorer module (issue 4 §2), as plain data: decoding an input's body by
 * its content type and encoding into a ScoreRequest, and building the result and error messages.
 * The SDK's Message objects are converted at the edge (edge-module.ts).
 */
import { isUtf8 } from 'node:buffer';
import { isFerryError } from '../errors.js';
import type { ScoreRequest } from '../runtime/types.js';
import type { EdgeConfig } from './edge-config.js';
import { edgeError } from './errors.js';

/** The application property giving the shape of a raw tensor body (optional). */
export const SHAPE_PROPERTY = 'ferry-shape';

export interface InboundMessage {
  readonly data: Buffer;
  readonly messageId?: string | undefined;
  readonly correlationId?: string | undefined;
  readonly contentType?: string | undefined;
  readonly contentEncoding?: string | undefined;
  /** Application properties. */
  readonly properties: Readonly<Record<string, string>>;
}

export interface OutboundMessage {
  readonly body: Buffer;
  readonly correlationId?: string;
  readonly contentType: 'application/json';
  readonly contentEncoding: 'utf-8';
  readonly properties: Readonly<Record<string, string>>;
}

/**
 * The ScoreRequest of a message. JSON (`application/json`, or no content type) in UTF-8 (also UTF-16/32
 * when contentEncoding says so) goes to the runtime as bytes, or, with `edge.features`, as a one-row
 * tensor per model input read from the body by JSON pointers; `application/octet-stream` is a raw
 * tensor (shape from the `ferry-shape` property). Throws FERRY_E_EDGE_CONTENT_TYPE_UNSUPPORTED,
 * FERRY_E_EDGE_BODY_UNDECODABLE, FERRY_E_EDGE_FEATURE_INVALID or FERRY_E_EDGE_SHAPE_INVALID.
 */
export function decodeInput(msg: InboundMessage, edge: Pick<EdgeConfig, 'features'>): ScoreRequest {
  const type = mediaType(msg.contentType);
  if (type === 'application/octet-stream') {
    if (msg.data.length === 0) throw edgeError('FERRY_E_EDGE_BODY_UNDECODABLE', 'The message body is empty');
    const shapeText = propertyCI(msg.properties, SHAPE_PROPERTY);
    return { kind: 'binary', body: msg.data, ...(shapeText !== undefined ? { shape: parseShape(shapeText) } : {}) };
  }
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
    throw edgeError('FERRY_E_EDGE_CONTENT_TYPE_UNSUPPORTED', `The content type "${msg.contentType ?? ''}" cannot be scored`, { details: { contentType: msg.contentType } });
  }
  const body = utf8Body(msg.data, msg.contentEncoding);
  if (!edge.features) return { kind: 'json-bytes', body };
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8')) as unknown;
  } catch (e) {
    throw edgeError('FERRY_E_EDGE_BODY_UNDECODABLE', `The message body is not JSON: ${(e as Error).message}`, { cause: e });
  }
  const value: Record<string, number[][]> = {};
  for (const [input, pointers] of Object.entries(edge.features)) {
    value[input] = [pointers.map((p) => featureValue(doc, p))];
  }
  return { kind: 'json', value };
}

/** `1,3,48,192` or `[1,3,48,192]`: positive integers. */
export function parseShape(text: string): number[] {
  const inner = text.trim().replace(/^\[(.*)\]$/, '$1');
  const parts = inner.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.length > 8 || !parts.every((p) => /^[1-9][0-9]{0,8}$/.test(p))) {
    throw edgeError('FERRY_E_EDGE_SHAPE_INVALID', `The ${SHAPE_PROPERTY} property "${text.slice(0, 64)}" is not a list of positive integers`, { details: { shape: text.slice(0, 64) } });
  }
  return parts.map(Number);
}

/** Reads a JSON pointer (RFC 6901); the value must be a finite number (booleans count as 0/1). */
export function featureValue(doc: unknown, pointer: string): number {
  let node: unknown = doc;
  if (pointer !== '') {
    for (const raw of pointer.slice(1).split('/')) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      if (Array.isArray(node) && /^(0|[1-9][0-9]*)$/.test(key)) node = node[Number(key)];
      else if (node !== null && typeof node === 'object' && !Array.isArray(node) && Object.hasOwn(node, key)) node = (node as Record<string, unknown>)[key];
      else node = undefined;
      if (node === undefined) break;
    }
  }
  if (typeof node === 'boolean') return node ? 1 : 0;
  if (typeof node !== 'number' || !Number.isFinite(node)) {
    const what = node === undefined ? 'is missing' : `is ${node === null ? 'null' : typeof node}, not a number`;
    throw edgeError('FERRY_E_EDGE_FEATURE_INVALID', `The message body's "${pointer}" ${what}`, { details: { pointer } });
  }
  return node;
}

/** The result message: correlated to the input, carried properties, model and timing properties. */
export function resultMessage(input: InboundMessage, o: { body: Buffer; modelName: string; modelVersion: number; scoreMs: number; carry: readonly string[] }): OutboundMessage {
  return {
    body: o.body,
    ...correlation(input),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    properties: { ...carried(input, o.carry), modelName: o.modelName, modelVersion: String(o.modelVersion), scoreMs: o.scoreMs.toFixed(3) },
  };
}

/** The error message of an input that could not be scored: `{code, reason, messageId}`. */
export function errorMessage(input: InboundMessage, error: unknown, carry: readonly string[]): OutboundMessage {
  const coded = isFerryError(error);
  const code = coded ? error.code : 'FERRY_E_SCORING_FAILED';
  const reason = coded ? error.reason : error instanceof Error ? error.message : String(error);
  const details = coded && error.details ? { details: error.details } : {};
  const body = Buffer.from(JSON.stringify({ code, reason, messageId: input.messageId ?? null, ...details }), 'utf8');
  return { body, ...correlation(input), contentType: 'application/json', contentEncoding: 'utf-8', properties: { ...carried(input, carry), errorCode: code } };
}

function correlation(input: InboundMessage): { correlationId?: string } {
  return input.messageId ? { correlationId: input.messageId } : {};
}

function carried(input: InboundMessage, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const v = propertyCI(input.properties, name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** Application property names are case-insensitive (PROTOCOLS.md §6). */
function propertyCI(props: Readonly<Record<string, string>>, name: string): string | undefined {
  if (Object.hasOwn(props, name)) return props[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(props)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** The body as UTF-8 bytes, by contentEncoding (PROTOCOLS.md §6 names utf-8, utf-16 and utf-32). */
function utf8Body(data: Buffer, encoding: string | undefined): Buffer {
  if (data.length === 0) throw edgeError('FERRY_E_EDGE_BODY_UNDECODABLE', 'The message body is empty');
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'utf-8' || enc === 'utf8') {
    if (!isUtf8(data)) throw edgeError('FERRY_E_EDGE_BODY_UNDECODABLE', 'The message body is not valid UTF-8', { details: { contentEncoding: encoding ?? null } });
    return data;
  }
  if (enc === 'utf-16' || enc === 'utf-16le' || enc === 'utf-16be') {
    if (data.length % 2 !== 0) throw edgeError('FERRY_E_EDGE_BODY_UNDECODABLE', 'The message body is not valid UTF-16 (odd length)', { details: { contentEncoding: encoding } });
    return reencode(data, enc === 'utf-16be' ? 'utf-16be' : 'utf-16le', encoding);
  }
  if (enc === 'utf-32' || enc === 'utf-32le') {
    if (data.length % 4 !== 0) throw edgeError('FERRY_E_EDGE_BODY_UNDECODABLE', 'The message body is not valid UTF-32 (length not a multiple of 4)', { details: { contentEncoding: encoding } });
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let text = '';
    try {
      for (let i = 0; i < data.length; i += 4) {
        const point = view.getUint32(i, true);
        if (i === 0 && point === 0xfeff) continue; // byte order mark
        text += String.fromCodePoint(point);
      }
      return Buffer.from(text, 'utf8');
    } catch (e) {
      throw edgeError('FERRY_E_EDGE_BODY_UNDECODABLE', 'The message body is not valid UTF-32', { cause: e, details: { contentEncoding: encoding } });
    }
  }
  throw edgeError('FERRY_E_EDGE_BODY_UNDECODABLE', `The content encoding "${encoding}" is not a text encoding the module reads (utf-8, utf-16, utf-32)`, { details: { contentEncoding: encoding } });
}

function reencode(data: Buffer, label: 'utf-16le' | 'utf-16be', encoding: string | undefined): Buffer {
  try {
    return Buffer.from(new TextDecoder(label, { fatal: true }).decode(data), 'utf8');
  } catch (e) {
    throw edgeError('FERRY_E_EDGE_BODY_UNDECODABLE', `The message body is not valid ${label.toUpperCase()}`, { cause: e, details: { contentEncoding: encoding } });
  }
}
