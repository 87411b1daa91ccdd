/** Shared set-up of the broker tests: a workspace, certificates, identities and a running broker. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { ensureGatewayCertificates } from '../src/certificates/local-ca.js';
import type { GatewayCertificates } from '../src/certificates/local-ca.js';
import { IdentityStore } from '../src/identity/identity-store.js';
import { EdgeBroker } from '../src/broker/edge-broker.js';
import type { ClientMessage, EdgeBrokerOptions, Refusal } from '../src/broker/edge-broker.js';

export const HUB = 'ferry-test-hub.azure-devices.net';
export const DEVICE = 'edge-device-1';

export interface Edge {
  dir: string;
  certs: GatewayCertificates;
  store: IdentityStore;
  broker: EdgeBroker;
  messages: ClientMessage[];
  refusals: Refusal[];
  /** EdgeHubConnectionString for a module, the MQTT port inside GatewayHostName (PROTOCOLS.md §2). */
  connectionString(moduleId: string | undefined): string;
  close(): Promise<void>;
}

export async function startEdge(modules: string[], options: Partial<EdgeBrokerOptions> = {}): Promise<Edge> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-broker-'));
  const certs = ensureGatewayCertificates(join(dir, 'certs'), { gatewayHostName: 'localhost' });
  const store = IdentityStore.open(join(dir, 'identities.json'), { hubHostName: HUB, deviceId: DEVICE });
  for (const m of modules) store.ensureModule(m);
  const broker = await EdgeBroker.start({ identities: store, tls: certs, host: '127.0.0.1', mqttPort: 0, httpsPort: 0, ...options });
  const messages: ClientMessage[] = [];
  const refusals: Refusal[] = [];
  broker.on('message', (m) => messages.push(m));
  broker.on('refused', (r) => refusals.push(r));
  return {
    dir,
    certs,
    store,
    broker,
    messages,
    refusals,
    connectionString: (m) => store.connectionString(m, `localhost:${broker.mqttPort}`),
    async close() {
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves when `check` holds, polling; rejects after `ms`. */
export async function until(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A few MQTT 3.1.1 packets over TLS, for what the SDK will not send (mqtt-packet, aedes' own codec). */
export class RawMqtt {
  readonly socket: TLSSocket;
  readonly received: Packet[] = [];
  closed = false;
  #waiters: { cmd: string; resolve: (p: Packet) => void }[] = [];
  #nextId = 1;

  private constructor(socket: TLSSocket) {
    this.socket = socket;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => {
      const i = this.#waiters.findIndex((w) => w.cmd === p.cmd);
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(p);
      else this.received.push(p);
    });
    socket.on('data', (d: Buffer) => parser.parse(d));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static async connect(edge: Edge, clientId: string, username: string, password: string | undefined, clean = false): Promise<{ raw: RawMqtt; returnCode: number }> {
    const socket = tlsConnect({ host: '127.0.0.1', port: edge.broker.mqttPort, ca: edge.certs.caCertPem, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    const raw = new RawMqtt(socket);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean, clientId, keepalive: 60, username, ...(password === undefined ? {} : { password: Buffer.from(password) }) });
    const connack = await raw.next('connack');
    return { raw, returnCode: (connack as { returnCode: number }).returnCode };
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet));
  }

  /** The next packet of that kind (already received or coming). */
  next(cmd: string, ms = 5000): Promise<Packet> {
    const i = this.received.findIndex((p) => p.cmd === cmd);
    if (i >= 0) return Promise.resolve(this.received.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = { cmd, resolve };
      this.#waiters.push(w);
      setTimeout(() => {
        const at = this.#waiters.indexOf(w);
        if (at >= 0) {
          this.#waiters.splice(at, 1);
          reject(new Error(`no ${cmd} within ${ms} ms`));
        }
      }, ms).unref();
    });
  }

  async subscribe(topic: string, qos: 0 | 1 = 1): Promise<number[]> {
    const messageId = this.#nextId++;
    this.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] });
    const suback = (await this.next('suback')) as { granted: number[] };
    return suback.granted;
  }

  async publish(topic: string, payload: Buffer | string, qos: 0 | 1 | 2 = 1): Promise<void> {
    const messageId = this.#nextId++;
    this.send({ cmd: 'publish', topic, payload, qos, retain: false, dup: false, messageId });
    if (qos === 1) await this.next('puback');
  }

  /** True when the broker still answers a PINGREQ. */
  async alive(): Promise<boolean> {
    if (this.closed) return false;
    this.send({ cmd: 'pingreq' });
    try {
      await this.next('pingresp', 2000);
      return true;
    } catch {
      return false;
    }
  }

  end(): void {
    this.socket.destroy();
  }
}
