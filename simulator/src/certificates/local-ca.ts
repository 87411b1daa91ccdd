import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { mkdirSync, readFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { simulatorError } from '../errors.js';
import { writeFileAtomic } from '../identity/atomic-file.js';

/** The PEM files of the simulator's local CA and of the gateway's server certificate. */
export interface GatewayCertificates {
  /** The CA certificate: what modules get as EdgeModuleCACertificateFile and from the trust bundle. */
  readonly caCertPath: string;
  readonly caCertPem: string;
  /** The server certificate followed by the CA certificate (the chain TLS sends). */
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
  /** The names the server certificate is valid for (DNS names and IP addresses). */
  readonly subjectAltNames: readonly string[];
  /** True when this call made new files (first run, expiry, or new names). */
  readonly created: boolean;
}

export interface CertificateOptions {
  /** The gateway host name (GatewayHostName); a port after `:` is ignored. */
  gatewayHostName: string;
  /** Validity of a new CA, days (default 3650). */
  caDays?: number;
  /** Validity of a new server certificate, days (default 365). */
  serverDays?: number;
  /** A certificate this close to expiry is made again (default 1 day). */
  renewBeforeMs?: number;
  now?: Date;
}

const CA_CERT = 'ca.pem';
const CA_KEY = 'ca-key.pem';
const SERVER_CERT = 'server.pem';
const SERVER_KEY = 'server-key.pem';
const DAY_MS = 86_400_000;

/** `DNS:localhost`, `IP:127.0.0.1`, `IP:::1` and the gateway host name (PROTOCOLS.md §2). */
export function gatewaySubjectAltNames(gatewayHostName: string): string[] {
  const host = stripPort(gatewayHostName);
  const names = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'];
  const own = isIP(host) ? `IP:${host}` : `DNS:${host.toLowerCase()}`;
  if (host && !names.includes(own)) names.push(own);
  return names;
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']') > 0 ? host.indexOf(']') : undefined);
  const colons = host.split(':').length - 1;
  return colons === 1 ? host.slice(0, host.indexOf(':')) : host;
}

/**
 * The local CA and the server certificate under `dir`, made on first run and reused afterwards;
 * made again when a certificate is missing, unreadable, expired (or about to), not signed by the CA,
 * or when the server certificate's names differ from what the gateway host name needs. Key files are
 * mode 0600.
 */
export function ensureGatewayCertificates(dir: string, options: CertificateOptions): GatewayCertificates {
  const now = options.now ?? new Date();
  const renewBefore = options.renewBeforeMs ?? DAY_MS;
  const wanted = gatewaySubjectAltNames(options.gatewayHostName);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `Cannot make the certificates folder ${dir}.`, { cause: e });
  }
  const paths = { caCert: join(dir, CA_CERT), caKey: join(dir, CA_KEY), serverCert: join(dir, SERVER_CERT), serverKey: join(dir, SERVER_KEY) };

  let created = false;
  let ca = readPair(paths.caCert, paths.caKey);
  if (!ca || !usable(ca.cert, now, renewBefore) || !ca.cert.verify(ca.cert)) {
    ca = makeCa(now, options.caDays ?? 3650, options.gatewayHostName);
    write(paths.caKey, forge.pki.privateKeyToPem(ca.key), 0o600);
    write(paths.caCert, forge.pki.certificateToPem(ca.cert), 0o644);
    created = true;
  }
  let server = created ? undefined : readPair(paths.serverCert, paths.serverKey);
  if (!server || !usable(server.cert, now, renewBefore) || !signedBy(ca.cert, server.cert) || !sameNames(altNames(server.cert), wanted)) {
    server = makeServer(ca, now, options.serverDays ?? 365, options.gatewayHostName, wanted);
    write(paths.serverKey, forge.pki.privateKeyToPem(server.key), 0o600);
    write(paths.serverCert, forge.pki.certificateToPem(server.cert), 0o644);
    created = true;
  }
  for (const key of [paths.caKey, paths.serverKey]) {
    try {
      chmodSync(key, 0o600);
    } catch (e) {
      throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `Cannot restrict the permissions of ${key}.`, { cause: e });
    }
  }
  const caCertPem = forge.pki.certificateToPem(ca.cert);
  return {
    caCertPath: paths.caCert,
    caCertPem,
    serverCertPem: forge.pki.certificateToPem(server.cert) + caCertPem,
    serverKeyPem: forge.pki.privateKeyToPem(server.key),
    subjectAltNames: altNames(server.cert),
    created,
  };
}

interface Pair {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

function write(path: string, pem: string, mode: number): void {
  try {
    writeFileAtomic(path, pem, mode);
  } catch (e) {
    throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `Cannot write ${path}.`, { cause: e });
  }
}

function readPair(certPath: string, keyPath: string): Pair | undefined {
  try {
    const cert = forge.pki.certificateFromPem(readFileSync(certPath, 'utf8'));
    const key = forge.pki.privateKeyFromPem(readFileSync(keyPath, 'utf8'));
    const pub = cert.publicKey as forge.pki.rsa.PublicKey;
    // The key must belong to the certificate.
    if (pub.n.compareTo(key.n) !== 0) return undefined;
    return { cert, key };
  } catch {
    return undefined; // missing or unreadable: made again
  }
}

function usable(cert: forge.pki.Certificate, now: Date, renewBefore: number): boolean {
  return cert.validity.notBefore.getTime() <= now.getTime() && cert.validity.notAfter.getTime() - renewBefore > now.getTime();
}

function signedBy(ca: forge.pki.Certificate, cert: forge.pki.Certificate): boolean {
  try {
    return ca.verify(cert);
  } catch {
    return false;
  }
}

function altNames(cert: forge.pki.Certificate): string[] {
  const ext = cert.getExtension('subjectAltName') as { altNames?: { type: number; value?: string; ip?: string }[] } | undefined;
  const names: string[] = [];
  for (const n of ext?.altNames ?? []) {
    if (n.type === 2 && n.value !== undefined) names.push(`DNS:${n.value}`);
    if (n.type === 7 && n.ip !== undefined) names.push(`IP:${normalizeIp(n.ip)}`);
  }
  return names;
}

function normalizeIp(ip: string): string {
  // forge renders IPv6 uncompressed; compare in Node's canonical form.
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  const norm = (l: readonly string[]): string => [...l].map((n) => n.toLowerCase()).sort().join(',');
  return norm(a) === norm(b);
}

function rsaPair(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey } {
  // Node's key generation is native and fast; node-forge makes the certificates.
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return { publicKey: forge.pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey, privateKey: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey };
}

function serial(): string {
  // Positive (top bit clear), 16 random bytes.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

function makeCa(now: Date, days: number, gatewayHostName: string): Pair {
  const keys = rsaPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60_000);
  cert.validity.notAfter = new Date(now.getTime() + days * DAY_MS);
  const subject = [{ name: 'commonName', value: `Ferry simulator CA for ${stripPort(gatewayHostName)}` }, { name: 'organizationName', value: 'Ferry simulator' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert, key: keys.privateKey };
}

function makeServer(ca: Pair, now: Date, days: number, gatewayHostName: string, names: readonly string[]): Pair {
  const keys = rsaPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60_000);
  const notAfter = Math.min(now.getTime() + days * DAY_MS, ca.cert.validity.notAfter.getTime());
  cert.validity.notAfter = new Date(notAfter);
  cert.setSubject([{ name: 'commonName', value: stripPort(gatewayHostName) || 'localhost' }, { name: 'organizationName', value: 'Ferry simulator' }]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: names.map((n) => (n.startsWith('IP:') ? { type: 7, ip: n.slice(3) } : { type: 2, value: n.slice(4) })),
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.key, forge.md.sha256.create());
  return { cert, key: keys.privateKey };
}
