import { isFerryErrorLike } from './coded.js';
import type { IdentityStore } from '../identity/identity-store.js';
import { verifySasToken } from '../identity/sas-token.js';
import type { ClientIdentity } from './topics.js';

/** CONNACK return codes of MQTT 3.1.1 (MQTT-3.2.2.3, table 3.1). */
export const CONNACK = { IDENTIFIER_REJECTED: 2, BAD_USERNAME_OR_PASSWORD: 4, NOT_AUTHORIZED: 5 } as const;

export type ConnectCheck =
  | { readonly ok: true; readonly identity: ClientIdentity; readonly expiresAt: number }
  | { readonly ok: false; readonly returnCode: number; readonly code: string; readonly reason: string };

/**
 * Checks a CONNECT as IoT Hub does (PROTOCOLS.md §2): client id `<d>/<m>` or `<d>`, username
 * `<hub>/<clientId>/?api-version=...`, password a SAS token for exactly that identity.
 */
export function checkConnect(store: IdentityStore, clientId: string, username: string | undefined, password: Buffer | undefined, nowSeconds: number): ConnectCheck {
  const refuse = (returnCode: number, code: string, reason: string): ConnectCheck => ({ ok: false, returnCode, code, reason });
  const parts = clientId.split('/');
  if (parts.length > 2 || parts.some((p) => p === '')) {
    return refuse(CONNACK.IDENTIFIER_REJECTED, 'FERRY_E_SIM_CONNECT_REFUSED', `client id "${clientId}" is not <device> or <device>/<module>`);
  }
  const [deviceId, moduleId] = parts as [string, string | undefined];
  if (username === undefined || password === undefined) {
    return refuse(CONNACK.BAD_USERNAME_OR_PASSWORD, 'FERRY_E_SIM_CONNECT_REFUSED', `${clientId} connected without a username and a SAS token as password`);
  }
  const q = username.indexOf('/?');
  const prefix = q < 0 ? username : username.slice(0, q);
  const want = `${store.hubHostName}/${clientId}`;
  const slash = prefix.indexOf('/');
  const sameHub = slash > 0 && prefix.slice(0, slash).toLowerCase() === store.hubHostName.toLowerCase();
  if (!sameHub || prefix.slice(slash) !== want.slice(store.hubHostName.length) || q < 0 || !/(^|&)api-version=[^&]+/.test(username.slice(q + 2))) {
    return refuse(CONNACK.BAD_USERNAME_OR_PASSWORD, 'FERRY_E_SIM_CONNECT_REFUSED', `username "${username.slice(0, 200)}" is not ${want}/?api-version=...`);
  }
  const identity = store.find(deviceId, moduleId);
  if (!identity) {
    return refuse(CONNACK.NOT_AUTHORIZED, 'FERRY_E_SIM_IDENTITY_UNKNOWN', `no identity ${clientId} on device ${store.deviceId}`);
  }
  try {
    const { expiresAt } = verifySasToken(password.toString('utf8'), { hubHostName: store.hubHostName, deviceId, moduleId }, [identity.primaryKey, identity.secondaryKey], nowSeconds);
    return { ok: true, identity: { deviceId, moduleId }, expiresAt };
  } catch (e) {
    if (isFerryErrorLike(e)) return refuse(CONNACK.NOT_AUTHORIZED, e.code, e.reason);
    throw e;
  }
}
