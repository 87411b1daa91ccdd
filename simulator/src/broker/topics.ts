import { decodePropertyBag, encodePropertyBag, PropertyBagError } from './property-bag.js';
import type { PropertyBag } from './property-bag.js';

/** Who a connection is: the identity it authenticated as. */
export interface ClientIdentity {
  readonly deviceId: string;
  readonly moduleId: string | undefined;
}

export type ClientMessageKind = 'telemetry' | 'output' | 'twin-get' | 'twin-patch' | 'method-response';

/** A client publish, its topic parsed (PROTOCOLS.md §3). */
export interface ParsedPublish extends PropertyBag {
  readonly kind: ClientMessageKind;
  /** The output name (`$.on`) of a module output. */
  readonly output?: string;
  /** `$rid` of twin requests and method responses. */
  readonly rid?: string;
  /** The status of a method response. */
  readonly status?: number;
}

export type PublishCheck =
  | { readonly ok: true; readonly publish: ParsedPublish }
  | { readonly ok: false; readonly code: 'FERRY_E_SIM_TOPIC_FORBIDDEN' | 'FERRY_E_SIM_MESSAGE_MALFORMED'; readonly reason: string };

export function clientIdOf(id: ClientIdentity): string {
  return id.moduleId === undefined ? id.deviceId : `${id.deviceId}/${id.moduleId}`;
}

function ownPrefix(id: ClientIdentity): string {
  return id.moduleId === undefined ? `devices/${id.deviceId}/` : `devices/${id.deviceId}/modules/${id.moduleId}/`;
}

/** `devices/<d>/modules/<m>/inputs/<input>/<bag>`: the `/` after the input is mandatory (PROTOCOLS.md §3). */
export function inputTopic(deviceId: string, moduleId: string, input: string, bag: Parameters<typeof encodePropertyBag>[0]): string {
  return `devices/${deviceId}/modules/${moduleId}/inputs/${input}/${encodePropertyBag(bag)}`;
}

export function twinResponseTopic(status: number, rid: string): string {
  return `$iothub/twin/res/${status}/?$rid=${encodeURIComponent(rid)}`;
}

export function desiredPatchTopic(version: number): string {
  return `$iothub/twin/PATCH/properties/desired/?$version=${version}`;
}

export function methodRequestTopic(method: string, rid: string): string {
  return `$iothub/methods/POST/${method}/?$rid=${encodeURIComponent(rid)}`;
}

/** `?$rid=..&$version=..` of `$iothub` topics. */
function parseQuery(q: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of q.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    out.set(decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq)), eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1)));
  }
  return out;
}

const EMPTY: PropertyBag = { properties: {}, systemProperties: {} };

/**
 * What a client may publish: only as itself (PROTOCOLS.md §3): its events (telemetry; module outputs
 * carry `$.on`), twin GET and reported PATCH, and method responses.
 */
export function checkPublish(id: ClientIdentity, topic: string): PublishCheck {
  const forbidden = (reason: string): PublishCheck => ({ ok: false, code: 'FERRY_E_SIM_TOPIC_FORBIDDEN', reason });
  const malformed = (reason: string): PublishCheck => ({ ok: false, code: 'FERRY_E_SIM_MESSAGE_MALFORMED', reason });
  try {
    if (topic.startsWith('devices/')) {
      const prefix = `${ownPrefix(id)}messages/events`;
      if (topic !== prefix && !topic.startsWith(`${prefix}/`)) return forbidden(`${clientIdOf(id)} may not publish on "${topic}"`);
      let bag = topic.slice(prefix.length + 1);
      if (bag.endsWith('/')) bag = bag.slice(0, -1); // sendOutputEvent appends one
      if (bag.includes('/')) return malformed(`the property bag of "${topic}" holds a "/"`);
      const decoded = decodePropertyBag(bag);
      const output = decoded.systemProperties.outputName;
      if (output !== undefined && id.moduleId === undefined) return malformed('a device message carries an output name ($.on)');
      return { ok: true, publish: { ...decoded, kind: output === undefined ? 'telemetry' : 'output', ...(output === undefined ? {} : { output }) } };
    }
    const q = topic.indexOf('/?');
    const path = q < 0 ? topic : topic.slice(0, q + 1);
    const query = q < 0 ? new Map<string, string>() : parseQuery(topic.slice(q + 2));
    const rid = query.get('$rid');
    if (path === '$iothub/twin/GET/') {
      if (rid === undefined) return malformed('a twin GET without $rid');
      return { ok: true, publish: { ...EMPTY, kind: 'twin-get', rid } };
    }
    if (path === '$iothub/twin/PATCH/properties/reported/') {
      if (rid === undefined) return malformed('a reported-properties PATCH without $rid');
      return { ok: true, publish: { ...EMPTY, kind: 'twin-patch', rid } };
    }
    const m = /^\$iothub\/methods\/res\/(\d{3})\/$/.exec(path);
    if (m) {
      if (rid === undefined) return malformed('a method response without $rid');
      return { ok: true, publish: { ...EMPTY, kind: 'method-response', rid, status: Number(m[1]) } };
    }
    return forbidden(`${clientIdOf(id)} may not publish on "${topic}"`);
  } catch (e) {
    if (e instanceof PropertyBagError || e instanceof URIError) return malformed(`"${topic.slice(0, 200)}": ${e.message}`);
    throw e;
  }
}

/**
 * What a client may subscribe to: its own inputs (modules) or cloud-to-device messages (devices),
 * twin responses, desired-property patches and methods. `$iothub/...` answers are sent to the one
 * connection they are for, never fanned out.
 */
export function subscriptionAllowed(id: ClientIdentity, filter: string): boolean {
  const own = id.moduleId === undefined ? `${ownPrefix(id)}messages/devicebound/` : `${ownPrefix(id)}inputs/`;
  const prefixes = [own, '$iothub/twin/res/', '$iothub/twin/PATCH/properties/desired/', '$iothub/methods/POST/'];
  return prefixes.some((p) => filter.startsWith(p));
}
