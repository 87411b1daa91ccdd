/** The message a route sees, and the JSON form of one that `ferry route test` and tools read. */
import { deploymentError } from '../errors.js';

/**
 * A message as routing sees it. Property names are matched ignoring case. The source is read from
 * systemProperties: `connectionModuleId` (+ `outputName`) makes it a module output, no
 * `connectionModuleId` makes it device telemetry.
 */
export interface RouteMessage {
  readonly properties: Readonly<Record<string, string>>;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

const KEYS = new Set(['properties', 'systemProperties', 'body']);

/**
 * Reads a message from its JSON form `{"properties": {...}, "systemProperties": {...}, "body": ...}`.
 * A string body is encoded in the message's contentEncoding (utf-8 unless utf-16 or utf-32 is
 * named); any other JSON value is serialized as UTF-8 JSON. `where` names the input in errors.
 * @throws FERRY_E_ROUTE_MESSAGE_INVALID
 */
export function parseRouteMessage(json: unknown, where = 'message'): RouteMessage {
  const fail = (reason: string, pointer: string): never => {
    throw deploymentError('FERRY_E_ROUTE_MESSAGE_INVALID', `${where}: ${reason}`, { details: { pointer } });
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('a message is a JSON object', '');
  for (const key of Object.keys(json)) {
    if (!KEYS.has(key)) fail(`unknown key "${key}" (a message has properties, systemProperties and body)`, `/${key}`);
  }
  const record = json as Record<string, unknown>;
  const bag = (key: 'properties' | 'systemProperties'): Record<string, string> => {
    const value = record[key];
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`${key} must be an object of string values`, `/${key}`);
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [name, v] of Object.entries(value)) {
      if (typeof v !== 'string') fail(`${key}.${name} must be a string, not ${v === null ? 'null' : typeof v}`, `/${key}/${name}`);
      out[name] = v as string;
    }
    return out;
  };
  const properties = bag('properties');
  const systemProperties = bag('systemProperties');
  const body = record['body'];
  let bytes: Uint8Array;
  if (body === undefined) bytes = new Uint8Array(0);
  else if (typeof body === 'string') bytes = encode(body, encodingOf(systemProperties));
  else bytes = new TextEncoder().encode(JSON.stringify(body));
  return { properties, systemProperties, body: bytes };
}

/**
 * Reads a message from JSON text (a `.json` file, or one line of a `.jsonl` file).
 * @throws FERRY_E_ROUTE_MESSAGE_INVALID, also when the text is not JSON
 */
export function parseRouteMessageText(text: string, where = 'message'): RouteMessage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw deploymentError('FERRY_E_ROUTE_MESSAGE_INVALID', `${where} is not JSON: ${(e as Error).message}`, { details: { pointer: '' } });
  }
  return parseRouteMessage(json, where);
}

function encodingOf(systemProperties: Record<string, string>): string {
  for (const [k, v] of Object.entries(systemProperties)) if (k.toLowerCase() === 'contentencoding') return v.toLowerCase();
  return 'utf-8';
}

function encode(text: string, encoding: string): Uint8Array {
  if (encoding === 'utf-16') {
    const out = new Uint8Array(text.length * 2);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      out[2 * i] = c & 0xff;
      out[2 * i + 1] = c >> 8;
    }
    return out;
  }
  if (encoding === 'utf-32') {
    const cps = Array.from(text, (ch) => ch.codePointAt(0) as number);
    const out = new Uint8Array(cps.length * 4);
    cps.forEach((cp, i) => new DataView(out.buffer).setUint32(4 * i, cp, true));
    return out;
  }
  return new TextEncoder().encode(text);
}
