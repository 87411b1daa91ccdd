/**
 * The property bag IoT Hub carries in MQTT topics (PROTOCOLS.md §3): `k=v&k=v`, every key and value
 * percent-encoded. Keys starting with `$.` are system properties.
 */

/** `$.` keys and the system property names the route language uses (PROTOCOLS.md §6). */
const SYSTEM_KEYS: Readonly<Record<string, string>> = {
  '$.mid': 'messageId',
  '$.cid': 'correlationId',
  '$.uid': 'userId',
  '$.to': 'to',
  '$.ct': 'contentType',
  '$.ce': 'contentEncoding',
  '$.exp': 'expiryTimeUtc',
  '$.on': 'outputName',
  '$.ifid': 'interfaceId',
  '$.cdid': 'connectionDeviceId',
  '$.cmid': 'connectionModuleId',
  '$.sub': 'dt-subject',
};

const SYSTEM_NAMES: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(SYSTEM_KEYS).map(([k, v]) => [v, k]));

export interface PropertyBag {
  /** Application properties, decoded. */
  readonly properties: Record<string, string>;
  /** System properties by their route-language names (`messageId`, `contentType`, ...), decoded. */
  readonly systemProperties: Record<string, string>;
}

export class PropertyBagError extends Error {}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new PropertyBagError(`"${s.slice(0, 40)}" is not valid percent-encoding`);
  }
}

/** Decodes a bag; throws PropertyBagError for a key without a name or bad percent-encoding. */
export function decodePropertyBag(bag: string): PropertyBag {
  const properties: Record<string, string> = Object.create(null) as Record<string, string>;
  const systemProperties: Record<string, string> = Object.create(null) as Record<string, string>;
  if (bag === '') return { properties, systemProperties };
  for (const pair of bag.split('&')) {
    if (pair === '') continue; // `a=1&&b=2`, as the SDK's own parser tolerates
    const eq = pair.indexOf('=');
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
    if (key === '') throw new PropertyBagError('a property has no name');
    const system = SYSTEM_KEYS[key];
    if (system !== undefined) systemProperties[system] = value;
    else if (key.startsWith('$.')) systemProperties[key] = value;
    else properties[key] = value;
  }
  return { properties, systemProperties };
}

/** encodeURIComponent plus `!'()*` (RFC 3986 unreserved only). */
function encode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Encodes system properties (as `$.` keys) then application properties. */
export function encodePropertyBag(bag: { properties?: Readonly<Record<string, string>>; systemProperties?: Readonly<Record<string, string>> }): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(bag.systemProperties ?? {})) {
    const key = SYSTEM_NAMES[name] ?? (name.startsWith('$.') ? name : undefined);
    if (key !== undefined) parts.push(`${encode(key)}=${encode(value)}`);
  }
  for (const [key, value] of Object.entries(bag.properties ?? {})) parts.push(`${encode(key)}=${encode(value)}`);
  return parts.join('&');
}

/** Bytes the 256 KiB limit counts: body plus every property name and value (PROTOCOLS.md §5). */
export function messageSize(body: Buffer, bag: PropertyBag): number {
  let n = body.length;
  for (const [k, v] of Object.entries(bag.properties)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  for (const [k, v] of Object.entries(bag.systemProperties)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}
