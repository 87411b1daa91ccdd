import { createHmac, timingSafeEqual } from 'node:crypto';
import { simulatorError } from '../errors.js';

/** What a SAS token is for: `<hub>/devices/<device>[/modules/<module>]` (PROTOCOLS.md §2). */
export interface SasResource {
  readonly hubHostName: string;
  readonly deviceId: string;
  readonly moduleId?: string | undefined;
}

export interface ParsedSasToken {
  /** `sr` exactly as it appears in the token (URL-encoded); the signature covers this form. */
  readonly sr: string;
  /** `sr` decoded. */
  readonly resource: string;
  /** `sig` decoded (base64). */
  readonly sig: string;
  /** Expiry, seconds since the epoch. */
  readonly se: number;
  readonly seText: string;
  readonly skn: string | undefined;
}

/** `<hub>/devices/<device>[/modules/<module>]`, not encoded. */
export function sasResourceUri(r: SasResource): string {
  return `${r.hubHostName}/devices/${r.deviceId}${r.moduleId === undefined ? '' : `/modules/${r.moduleId}`}`;
}

/** encodeURIComponent plus `!'()*`, as azure-iot-common's encodeUriComponentStrict. */
function encodeStrict(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}

/** base64(HMAC-SHA256(base64decode(key), sr + "\n" + se)): azure-iot-common authorization.ts. */
export function signSas(key: string, sr: string, se: string): Buffer {
  return createHmac('sha256', Buffer.from(key, 'base64')).update(`${sr}\n${se}`).digest();
}

/** A device or module SAS token as the SDK makes it (PROTOCOLS.md §2). */
export function createSasToken(resource: SasResource, key: string, expiresAtSeconds: number): string {
  const sr = encodeStrict(sasResourceUri(resource));
  const se = String(Math.floor(expiresAtSeconds));
  const sig = encodeStrict(signSas(key, sr, se).toString('base64'));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${se}`;
}

function decodeField(value: string, token: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw simulatorError('FERRY_E_SIM_TOKEN_INVALID', `The SAS token has a badly encoded field (${token}).`);
  }
}

/** Parses `SharedAccessSignature sr=..&sig=..&se=..[&skn=..]`; throws FERRY_E_SIM_TOKEN_INVALID. */
export function parseSasToken(token: string): ParsedSasToken {
  const m = /^SharedAccessSignature\s+(\S+)$/.exec(token.trim());
  if (!m) throw simulatorError('FERRY_E_SIM_TOKEN_INVALID', 'The password is not a SAS token (expected `SharedAccessSignature sr=..&sig=..&se=..`).');
  const fields = new Map<string, string>();
  for (const part of m[1]!.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw simulatorError('FERRY_E_SIM_TOKEN_INVALID', 'The SAS token has a field without a name or value.');
    const name = part.slice(0, eq);
    if (fields.has(name)) throw simulatorError('FERRY_E_SIM_TOKEN_INVALID', `The SAS token repeats the field ${name}.`);
    fields.set(name, part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const seText = fields.get('se');
  if (sr === undefined || sig === undefined || seText === undefined) {
    throw simulatorError('FERRY_E_SIM_TOKEN_INVALID', 'The SAS token lacks one of sr, sig and se.');
  }
  if (!/^\d{1,12}$/.test(seText)) throw simulatorError('FERRY_E_SIM_TOKEN_INVALID', 'The SAS token\'s se is not a number of seconds.');
  const skn = fields.get('skn');
  return { sr, resource: decodeField(sr, 'sr'), sig: decodeField(sig, 'sig'), se: Number(seText), seText, skn: skn === undefined ? undefined : decodeField(skn, 'skn') };
}

export interface SasVerification {
  /** Expiry of the accepted token, seconds since the epoch. */
  readonly expiresAt: number;
}

/**
 * Verifies a device or module token (PROTOCOLS.md §2): the resource must name exactly this identity
 * (host compared case-insensitively), it must not have expired, and its signature must match one of
 * the identity's keys (compared in constant time). Throws FERRY_E_SIM_TOKEN_INVALID or _EXPIRED.
 */
export function verifySasToken(token: string, resource: SasResource, keys: readonly string[], nowSeconds = Date.now() / 1000): SasVerification {
  const parsed = parseSasToken(token);
  if (parsed.skn !== undefined) {
    throw simulatorError('FERRY_E_SIM_TOKEN_INVALID', 'The SAS token names a shared access policy (skn); devices and modules connect with their own key.');
  }
  const expected = sasResourceUri(resource);
  if (!sameResource(parsed.resource, expected)) {
    throw simulatorError('FERRY_E_SIM_TOKEN_INVALID', `The SAS token is for "${parsed.resource}", not for "${expected}".`, { details: { resource: parsed.resource, expected } });
  }
  if (parsed.se <= nowSeconds) {
    throw simulatorError('FERRY_E_SIM_TOKEN_EXPIRED', `The SAS token expired at ${new Date(parsed.se * 1000).toISOString()}.`, { details: { expiredAt: parsed.se } });
  }
  const given = Buffer.from(parsed.sig, 'base64');
  let match = false;
  for (const key of keys) {
    const want = signSas(key, parsed.sr, parsed.seText);
    // Constant time; lengths differ only for a malformed sig, which leaks nothing about the key.
    if (given.length === want.length && timingSafeEqual(given, want)) match = true;
  }
  if (!match) throw simulatorError('FERRY_E_SIM_TOKEN_INVALID', `The SAS token's signature does not match the key of ${expected}.`);
  return { expiresAt: parsed.se };
}

function sameResource(given: string, expected: string): boolean {
  const g = given.replace(/\/+$/, '');
  const slash = expected.indexOf('/');
  const gs = g.indexOf('/');
  if (gs !== slash) return false;
  return g.slice(0, gs).toLowerCase() === expected.slice(0, slash).toLowerCase() && g.slice(gs) === expected.slice(slash);
}
