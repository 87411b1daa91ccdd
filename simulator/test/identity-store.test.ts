import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdentityStore } from '../src/identity/identity-store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-ids-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('identity store', () => {
  it('makes a device and module identities with 32-byte keys, kept across reopen, in a 0600 file', () => {
    const file = join(dir, 'ws', 'identities.json');
    const store = IdentityStore.open(file, { hubHostName: 'hub.example', deviceId: 'edge1' });
    const scorer = store.ensureModule('scorer');
    const camera = store.ensureModule('camera');
    expect(Buffer.from(scorer.primaryKey, 'base64')).toHaveLength(32);
    expect(scorer.primaryKey).not.toBe(camera.primaryKey);
    expect(scorer.primaryKey).not.toBe(scorer.secondaryKey);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'ws'))).toEqual(['identities.json']); // no temporary files left

    const again = IdentityStore.open(file, { hubHostName: 'hub.example', deviceId: 'edge1' });
    expect(again.module('scorer')).toEqual(scorer);
    expect(again.device()).toEqual(store.device());
    expect(again.ensureModule('scorer')).toEqual(scorer);
    expect(again.modules().map((m) => m.moduleId)).toEqual(['camera', 'scorer']);
    expect(again.find('edge1', 'camera')).toEqual(camera);
    expect(again.find('other', 'camera')).toBeUndefined();
    expect(again.removeModule('camera')).toBe(true);
    expect(IdentityStore.open(file, { hubHostName: 'hub.example', deviceId: 'edge1' }).module('camera')).toBeUndefined();
  });

  it('writes connection strings as the SDK reads them', () => {
    const store = IdentityStore.open(join(dir, 'i.json'), { hubHostName: 'hub.example', deviceId: 'edge1' });
    const m = store.ensureModule('scorer');
    expect(store.connectionString('scorer', 'localhost')).toBe(`HostName=hub.example;GatewayHostName=localhost;DeviceId=edge1;ModuleId=scorer;SharedAccessKey=${m.primaryKey}`);
    expect(store.connectionString(undefined, 'gw')).toBe(`HostName=hub.example;GatewayHostName=gw;DeviceId=edge1;SharedAccessKey=${store.device().primaryKey}`);
    expect(code(() => store.connectionString('nope', 'gw'))).toBe('FERRY_E_SIM_IDENTITY_UNKNOWN');
  });

  it('refuses invalid ids and unreadable files; another hub or device starts afresh', () => {
    const file = join(dir, 'i.json');
    const store = IdentityStore.open(file, { hubHostName: 'hub.example', deviceId: 'edge1' });
    expect(code(() => store.ensureModule('a/b'))).toBe('FERRY_E_SIM_IDENTITY_INVALID');
    expect(code(() => store.ensureModule('$custom'))).toBe('FERRY_E_SIM_IDENTITY_INVALID');
    expect(code(() => store.ensureModule('x'.repeat(129)))).toBe('FERRY_E_SIM_IDENTITY_INVALID');
    expect(code(() => IdentityStore.open(join(dir, 'j.json'), { hubHostName: 'h', deviceId: 'a b' }))).toBe('FERRY_E_SIM_IDENTITY_INVALID');
    const key = store.device().primaryKey;
    expect(IdentityStore.open(file, { hubHostName: 'hub.example', deviceId: 'edge2' }).device().primaryKey).not.toBe(key);
    expect(JSON.parse(readFileSync(file, 'utf8')).deviceId).toBe('edge2');
    writeFileSync(file, '{"version": 1, "hubHostName": 3}');
    expect(code(() => IdentityStore.open(file, { hubHostName: 'hub.example', deviceId: 'edge1' }))).toBe('FERRY_E_SIM_WORKSPACE_IO');
    writeFileSync(file, 'not json');
    expect(code(() => IdentityStore.open(file, { hubHostName: 'hub.example', deviceId: 'edge1' }))).toBe('FERRY_E_SIM_WORKSPACE_IO');
  });
});
