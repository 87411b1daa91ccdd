import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import common from 'azure-iot-common';
import { createSasToken, parseSasToken, verifySasToken } from '../src/identity/sas-token.js';

const HUB = 'hub.azure-devices.net';
const key = randomBytes(32).toString('base64');
const other = randomBytes(32).toString('base64');
const resource = { hubHostName: HUB, deviceId: 'dev-1', moduleId: 'scorer' };
const now = 1_800_000_000;

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('SAS tokens (PROTOCOLS.md §2)', () => {
  it('accepts a token made by the SDK\'s own SharedAccessSignature.create, and our tokens have the same form', () => {
    const sr = encodeURIComponent(`${HUB}/devices/dev-1/modules/scorer`);
    const sdk = common.SharedAccessSignature.create(sr, undefined as unknown as string, key, now + 3600).toString();
    expect(verifySasToken(sdk, resource, [key], now)).toEqual({ expiresAt: now + 3600 });
    expect(createSasToken(resource, key, now + 3600)).toBe(sdk);
  });

  it('accepts the secondary key, and ids that need encoding', () => {
    const r = { hubHostName: HUB, deviceId: "d(1)'*", moduleId: 'm=1' };
    const token = createSasToken(r, other, now + 10);
    expect(parseSasToken(token).resource).toBe(`${HUB}/devices/d(1)'*/modules/m=1`);
    expect(verifySasToken(token, r, [key, other], now).expiresAt).toBe(now + 10);
  });

  it('refuses a wrong key, an expired token, another resource, a policy token and garbage', () => {
    const good = createSasToken(resource, key, now + 60);
    expect(code(() => verifySasToken(good, resource, [other], now))).toBe('FERRY_E_SIM_TOKEN_INVALID');
    expect(code(() => verifySasToken(good, resource, [key], now + 60))).toBe('FERRY_E_SIM_TOKEN_EXPIRED');
    expect(code(() => verifySasToken(good, { ...resource, moduleId: 'other' }, [key], now))).toBe('FERRY_E_SIM_TOKEN_INVALID');
    expect(code(() => verifySasToken(good, { ...resource, moduleId: undefined }, [key], now))).toBe('FERRY_E_SIM_TOKEN_INVALID');
    expect(code(() => verifySasToken(`${good}&skn=iothubowner`, resource, [key], now))).toBe('FERRY_E_SIM_TOKEN_INVALID');
    // A token for the module signed by the right key but with se changed after signing.
    expect(code(() => verifySasToken(good.replace(`se=${now + 60}`, `se=${now + 99_999}`), resource, [key], now))).toBe('FERRY_E_SIM_TOKEN_INVALID');
    for (const bad of ['', 'Bearer abc', 'SharedAccessSignature sr=a&sig=b', 'SharedAccessSignature sr=%zz&sig=b&se=1', 'SharedAccessSignature sr=a&sig=b&se=soon']) {
      expect(code(() => verifySasToken(bad, resource, [key], now)), bad).toBe('FERRY_E_SIM_TOKEN_INVALID');
    }
  });

  it('compares the hub host case-insensitively and ids exactly', () => {
    const token = createSasToken({ ...resource, hubHostName: HUB.toUpperCase() }, key, now + 60);
    expect(verifySasToken(token, resource, [key], now).expiresAt).toBe(now + 60);
    const upper = createSasToken({ ...resource, moduleId: 'Scorer' }, key, now + 60);
    expect(code(() => verifySasToken(upper, resource, [key], now))).toBe('FERRY_E_SIM_TOKEN_INVALID');
  });
});
