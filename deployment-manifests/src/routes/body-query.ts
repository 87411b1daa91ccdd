/**
 * `$body.<path>` queries (iotedge `query/builtins/BodyQuery.cs`, `query/jsonpath/JsonPath.g4`,
 * `JsonMessageQueryValueProvider.cs`, `Message.cs`).
 */
import type { RouteMessage } from './message.js';
import type { Dynamic } from './values.js';

/** One step of a body path: a property name, optionally followed by one array index. */
export interface PathSegment {
  readonly name: string;
  readonly index: number | undefined;
}

/**
 * Parses the path after `$body.` (JsonPath.g4: `name ('[' int ']')? ('.' name ('[' int ']')?)*`,
 * names without `()<>@,;:\"/[]?={}.` or white space). Returns an error text when it is not one.
 */
export function parseBodyPath(path: string): PathSegment[] | string {
  if (path === '') return '$body query cannot be empty';
  const segments: PathSegment[] = [];
  for (const part of path.split('.')) {
    const m = /^([^()<>@,;:\\"/[\]?={}.\s]+)(?:\[\s*(\d+)\s*\])?$/.exec(part);
    // a name of digits only lexes as an integer in JsonPath.g4, which is not a name
    if (!m || /^\d+$/.test(m[1] as string)) return `'${part}' is not a property name with an optional [index] (write $body.a.b[0].c)`;
    segments.push({ name: m[1] as string, index: m[2] === undefined ? undefined : Number(m[2]) });
  }
  return segments;
}

// Content encodings a JSON body may have (Constants.cs); utf-16 and utf-32 are little-endian (.NET Encoding.Unicode / UTF32).
const DECODERS: Readonly<Record<string, (body: Uint8Array) => string>> = {
  'utf-8': (b) => new TextDecoder('utf-8').decode(b),
  'utf-16': (b) => new TextDecoder('utf-16le').decode(b),
  'utf-32': decodeUtf32le,
};

function decodeUtf32le(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i + 3 < b.length; i += 4) {
    const cp = ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24)) >>> 0;
    out += cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : '\ufffd';
  }
  return out;
}

const NOT_JSON = Symbol('not a JSON object body');
type ParsedBody = Record<string, unknown> | typeof NOT_JSON;
const parsed = new WeakMap<RouteMessage, ParsedBody>();

/** Looks a system property up by name, ignoring case (edgeHub's property bags are case-insensitive). */
export function systemProperty(message: RouteMessage, name: string): string | undefined {
  return lookup(message.systemProperties, name);
}

export function lookup(bag: Readonly<Record<string, string>>, name: string): string | undefined {
  if (Object.hasOwn(bag, name)) return bag[name];
  const lower = name.toLowerCase();
  for (const key in bag) {
    if (Object.hasOwn(bag, key) && key.toLowerCase() === lower) return bag[key];
  }
  return undefined;
}

/**
 * The message body as a JSON object, parsed once per message, only when contentType is
 * application/json and contentEncoding utf-8, utf-16 or utf-32 (case-insensitive); else none.
 */
function bodyOf(message: RouteMessage): ParsedBody {
  let body = parsed.get(message);
  if (body !== undefined) return body;
  body = NOT_JSON;
  const contentType = systemProperty(message, 'contentType');
  const decode = DECODERS[(systemProperty(message, 'contentEncoding') ?? '').toLowerCase()];
  if (contentType !== undefined && contentType.toLowerCase() === 'application/json' && decode) {
    try {
      const value: unknown = JSON.parse(decode(message.body).replace(/^\ufeff/, ''));
      // JObject.Parse: the body must be an object
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) body = value as Record<string, unknown>;
    } catch {
      // not JSON: every query of it is undefined
    }
  }
  parsed.set(message, body);
  return body;
}

// Json.NET reads ISO 8601 date strings as dates, which a body query turns into undefined
// (iotedge BodyQueryTest: `$body.message.Weather.Time <> '100'` is undefined).
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,7})?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
function isJsonNetDate(s: string): boolean {
  const m = ISO_DATE.exec(s);
  if (!m) return /^\/Date\(-?\d+(?:[+-]\d{4})?\)\/$/.test(s);
  const [, y, mo, d, h, mi, se] = m.map(Number) as number[];
  const days = new Date(Date.UTC(y as number, mo as number, 0)).getUTCDate();
  return (mo as number) >= 1 && (mo as number) <= 12 && (d as number) >= 1 && (d as number) <= days
    && (m[4] === undefined || ((h as number) < 24 && (mi as number) < 60 && (se as number) < 60));
}

/** Evaluates a body path: a missing path is null; an object, array or date is undefined. */
export function queryBody(message: RouteMessage, path: readonly PathSegment[]): Dynamic {
  const body = bodyOf(message);
  if (body === NOT_JSON) return undefined;
  let current: unknown = body;
  for (const { name, index } of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, name)) return null;
    current = (current as Record<string, unknown>)[name];
    if (index !== undefined) {
      if (!Array.isArray(current) || index >= current.length) return null;
      current = current[index];
    }
  }
  switch (typeof current) {
    case 'boolean':
    case 'number':
      return current;
    case 'string':
      return isJsonNetDate(current) ? undefined : current;
    default:
      return current === null ? null : undefined;
  }
}
