import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createServer, connect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { ensureGatewayCertificates, gatewaySubjectAltNames } from '../src/certificates/local-ca.js';

const root = mkdtempSync(join(tmpdir(), 'ferry-certs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A TLS handshake as the SDK makes it: verify against the CA file only, check the host name. */
async function handshake(certs: { serverCertPem: string; serverKeyPem: string }, ca: string, servername: string): Promise<string | undefined> {
  const server = createServer({ cert: certs.serverCertPem, key: certs.serverKeyPem }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await new Promise<string | undefined>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca, servername });
      s.on('secureConnect', () => {
        s.destroy();
        resolve(undefined);
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
  } finally {
    server.close();
  }
}

describe('local CA and server certificate', () => {
  it('names localhost, 127.0.0.1, ::1 and the gateway host', () => {
    expect(gatewaySubjectAltNames('edge.example:8883')).toEqual(['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', 'DNS:edge.example']);
    expect(gatewaySubjectAltNames('localhost')).toEqual(['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
    expect(gatewaySubjectAltNames('10.1.2.3')).toEqual(['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', 'IP:10.1.2.3']);
  });

  it('is made on first run with 0600 keys, reused after, and TLS clients trusting the CA accept it', async () => {
    const dir = join(root, 'a');
    const first = ensureGatewayCertificates(dir, { gatewayHostName: 'edge.example' });
    expect(first.created).toBe(true);
    expect(statSync(join(dir, 'ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'server-key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(first.caCertPath, 'utf8')).toBe(first.caCertPem);

    const x = new X509Certificate(first.serverCertPem);
    const ca = new X509Certificate(first.caCertPem);
    expect(x.subjectAltName).toContain('DNS:edge.example');
    expect(x.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(x.checkIssued(ca)).toBe(true);
    expect(x.verify(ca.publicKey)).toBe(true);
    expect(ca.ca).toBe(true);
    expect(x.ca).toBe(false);

    const again = ensureGatewayCertificates(dir, { gatewayHostName: 'edge.example' });
    expect(again.created).toBe(false);
    expect(again.serverCertPem).toBe(first.serverCertPem);
    expect(again.caCertPem).toBe(first.caCertPem);

    // Node's TLS client (what mqtt.js uses) with only this CA: host names in the SAN pass, others fail.
    expect(await handshake(first, first.caCertPem, 'localhost')).toBeUndefined();
    expect(await handshake(first, first.caCertPem, 'edge.example')).toBeUndefined();
    expect(await handshake(first, first.caCertPem, 'evil.example')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    const stranger = ensureGatewayCertificates(join(root, 'b'), { gatewayHostName: 'edge.example' });
    expect(await handshake(first, stranger.caCertPem, 'localhost')).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN/);
  });

  it('makes the server certificate again when the names change, and everything when it expired', () => {
    const dir = join(root, 'c');
    const first = ensureGatewayCertificates(dir, { gatewayHostName: 'one.example' });
    const renamed = ensureGatewayCertificates(dir, { gatewayHostName: 'two.example' });
    expect(renamed.created).toBe(true);
    expect(renamed.caCertPem).toBe(first.caCertPem);
    expect(renamed.subjectAltNames).toContain('DNS:two.example');
    expect(renamed.subjectAltNames).not.toContain('DNS:one.example');
    const later = new Date(Date.now() + 400 * 86_400_000);
    const renewed = ensureGatewayCertificates(dir, { gatewayHostName: 'two.example', now: later });
    expect(renewed.created).toBe(true);
    expect(renewed.caCertPem).toBe(first.caCertPem); // the CA lasts 10 years
    expect(new Date(new X509Certificate(renewed.serverCertPem).validTo).getTime()).toBeGreaterThan(later.getTime());
    const muchLater = ensureGatewayCertificates(dir, { gatewayHostName: 'two.example', now: new Date(Date.now() + 4000 * 86_400_000) });
    expect(muchLater.caCertPem).not.toBe(first.caCertPem);
  });
});
