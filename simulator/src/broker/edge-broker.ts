import { EventEmitter } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:tls';
import type { Server as TlsServer } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes } from 'aedes';
import type { AedesOptions, AedesPublishPacket, Client, PublishPacket } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { simulatorError } from '../errors.js';
import type { IdentityStore } from '../identity/identity-store.js';
import { checkConnect } from './client-auth.js';
import { messageSize } from './property-bag.js';
import { SessionStore } from './session-store.js';
import { checkPublish, desiredPatchTopic, inputTopic, methodRequestTopic, subscriptionAllowed, twinResponseTopic } from './topics.js';
import type { ClientIdentity, ClientMessageKind } from './topics.js';

/** IoT Hub's message limit: body plus every property name and value (PROTOCOLS.md §5). */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** The WebSocket path of MQTT over WebSockets (azure-iot-device-mqtt mqtt_ws.ts). */
export const WEBSOCKET_PATH = '/$iothub/websocket';

/** A message a client published and the broker accepted (topic parsed, PROTOCOLS.md §3). */
export interface ClientMessage {
  readonly clientId: string;
  readonly deviceId: string;
  readonly moduleId: string | undefined;
  readonly kind: ClientMessageKind;
  /** Module outputs: the output name (`$.on`). */
  readonly output?: string;
  /** Twin requests and method responses: `$rid`. */
  readonly rid?: string;
  /** Method responses: the status the module answered. */
  readonly status?: number;
  /** Application properties, percent-decoded. */
  readonly properties: Readonly<Record<string, string>>;
  /**
   * System properties by their route-language names (`messageId`, `correlationId`, `contentType`,
   * `contentEncoding`, `outputName`, ...), plus `connectionDeviceId` and `connectionModuleId` of the sender.
   */
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly qos: 0 | 1;
}

/** A message for a module input (edgeHub -> module). */
export interface OutboundMessage {
  readonly properties?: Readonly<Record<string, string>>;
  /** Route-language names; `connectionDeviceId`/`connectionModuleId` become `$.cdid`/`$.cmid`. */
  readonly systemProperties?: Readonly<Record<string, string>>;
  readonly body: Buffer | string;
}

/** Something the broker refused: logged as an event, never thrown. */
export interface Refusal {
  readonly stage: 'connect' | 'publish' | 'subscribe';
  readonly clientId: string;
  /** A FERRY_E_SIM_* code. */
  readonly code: string;
  readonly reason: string;
  readonly topic?: string;
  /** The CONNACK return code, for stage `connect`. */
  readonly returnCode?: number;
}

export interface ClientConnection {
  readonly clientId: string;
  readonly deviceId: string;
  readonly moduleId: string | undefined;
  readonly transport: 'mqtt' | 'wss';
}

export interface EdgeBrokerEvents {
  message: [message: ClientMessage];
  refused: [refusal: Refusal];
  'client-connected': [client: ClientConnection];
  'client-disconnected': [client: ClientConnection];
  /** A SUBSCRIBE was granted (not sent again when a session with clean=false reconnects). */
  subscribed: [subscription: { clientId: string; topics: string[] }];
}

export interface EdgeBrokerOptions {
  identities: IdentityStore;
  /** The server certificate chain and key (ensureGatewayCertificates). */
  tls: { readonly serverCertPem: string; readonly serverKeyPem: string };
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** MQTT over TLS (default 8883; 0 picks a free port). */
  mqttPort?: number;
  /** The gateway's HTTPS port with MQTT over WebSockets (default 443; 0 picks a free port; null: none). */
  httpsPort?: number | null;
  /**
   * Called in arrival order for each accepted client message, before its PUBACK; the PUBACK waits for the
   * returned promise. A rejection closes the client's connection unacknowledged, so the SDK sends again.
   */
  accept?: (message: ClientMessage) => Promise<void> | void;
  /** Other requests on the gateway's HTTPS port (module-to-module methods come later); default 404. */
  onHttpsRequest?: (req: IncomingMessage, res: ServerResponse) => void;
  maxMessageBytes?: number;
  /**
   * A file keeping the subscriptions of clean=false sessions across broker restarts (session-store.ts);
   * absent: they live in memory only.
   */
  sessionFile?: string;
  /** Clock for token expiry, ms since the epoch. */
  now?: () => number;
}

type AuthenticateHandler = NonNullable<AedesOptions['authenticate']>;
type AuthorizeSubscribeHandler = NonNullable<AedesOptions['authorizeSubscribe']>;

/** The broker's own deliveries carry these ids; nothing else is ever forwarded to a client. */
const QOS1_ORIGIN = 'ferry-simulator-qos1';
const QOS0_ORIGIN = 'ferry-simulator-qos0';
const MAX_TIMER_MS = 2 ** 31 - 1;

interface PendingDelivery {
  readonly clientId: string;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

/**
 * The edgeHub-compatible broker: aedes behind MQTT over TLS and MQTT over WebSockets, with IoT Hub's
 * authentication (SAS tokens) and authorization (a client publishes and subscribes only as itself).
 * Client publishes are never relayed to other clients: they surface as `message` events (and `accept`);
 * clients receive only what deliverInput, respondTwin, pushDesired and invokeMethod send them.
 */
export class EdgeBroker extends EventEmitter<EdgeBrokerEvents> {
  readonly #aedes: Aedes;
  readonly #store: IdentityStore;
  readonly #options: EdgeBrokerOptions;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #identities = new WeakMap<Client, ClientIdentity>();
  readonly #expiry = new WeakMap<Client, number>();
  readonly #timers = new Map<Client, NodeJS.Timeout>();
  readonly #live = new Map<string, Client>();
  readonly #pending = new Map<number, PendingDelivery>();
  /** Clean sessions keep no outgoing store, so aedes acks them without the packet: FIFO per connection. */
  readonly #cleanInflight = new Map<Client, number[]>();
  readonly #sockets = new Set<Socket | Duplex>();
  #counter1 = 0;
  #counter0 = 0;
  #tlsServer: TlsServer | undefined;
  #httpsServer: HttpsServer | undefined;
  #wss: WebSocketServer | undefined;
  #closed = false;
  #sessions: SessionStore | undefined;

  private constructor(options: EdgeBrokerOptions) {
    super();
    this.#store = options.identities;
    this.#options = options;
    this.#maxBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.#now = options.now ?? Date.now;
    this.#aedes = new Aedes({
      authenticate: (c, u, p, d) => this.#authenticate(c, u, p, d),
      authorizePublish: (c, p, cb) => this.#authorizePublish(c, p, cb),
      authorizeSubscribe: (c, s, cb) => this.#authorizeSubscribe(c, s, cb),
      authorizeForward: (c, p) => this.#authorizeForward(c, p),
      // Client ids `<device>/<module>` may be up to 257 characters.
      maxClientsIdLength: 300,
      heartbeatInterval: 3_600_000,
      drainTimeout: 30_000,
      connectTimeout: 30_000,
    });
  }

  /** Makes the broker and listens; throws FERRY_E_SIM_LISTEN_FAILED when a port is taken. */
  static async start(options: EdgeBrokerOptions): Promise<EdgeBroker> {
    const broker = new EdgeBroker(options);
    await broker.#aedes.listen();
    if (options.sessionFile !== undefined) await broker.#restoreSessions(options.sessionFile);
    broker.#wire();
    try {
      await broker.#listen();
    } catch (e) {
      await broker.close();
      throw e;
    }
    return broker;
  }

  /** The port MQTT over TLS listens on. */
  get mqttPort(): number {
    return (this.#tlsServer?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** The gateway HTTPS port (MQTT over WebSockets), or undefined when there is none. */
  get httpsPort(): number | undefined {
    return (this.#httpsServer?.address() as AddressInfo | null)?.port;
  }

  /** Client ids (`<device>/<module>` or `<device>`) connected now. */
  connectedClients(): string[] {
    return [...this.#live.keys()].sort();
  }

  isConnected(clientId: string): boolean {
    return this.#live.has(clientId);
  }

  /**
   * Publishes a message to a module input at QoS 1 on `devices/<d>/modules/<m>/inputs/<input>/<bag>`
   * (PROTOCOLS.md §3). Resolves when the module PUBACKs it, also when that happens after a reconnect
   * (a session with clean=false gets unacknowledged messages again, MQTT-4.4.0-1). Rejects with
   * FERRY_E_SIM_CLIENT_OFFLINE when the module is not connected or has not subscribed to its inputs,
   * or when its session is dropped (clean=true) before the PUBACK.
   */
  deliverInput(moduleId: string, input: string, message: OutboundMessage): Promise<void> {
    const clientId = `${this.#store.deviceId}/${moduleId}`;
    if (input === '' || /[/#+]/.test(input)) {
      return Promise.reject(simulatorError('FERRY_E_SIM_MESSAGE_MALFORMED', `"${input}" is not an input name.`));
    }
    const client = this.#subscribedClient(clientId, `devices/${this.#store.deviceId}/modules/${moduleId}/inputs/`);
    if (!client) return Promise.reject(offline(clientId, 'its inputs'));
    const topic = inputTopic(this.#store.deviceId, moduleId, input, message);
    const payload = typeof message.body === 'string' ? Buffer.from(message.body) : message.body;
    const counter = ++this.#counter1;
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(counter, { clientId, resolve, reject });
      if (client.clean) this.#cleanInflight.get(client)?.push(counter);
      const packet = { cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false, brokerId: QOS1_ORIGIN, brokerCounter: counter } as PublishPacket;
      // A write error closes the connection; the clientDisconnect/clientReady handlers settle the promise.
      client.publish(packet, () => undefined);
    });
  }

  /** Answers a twin request on `$iothub/twin/res/<status>/?$rid=<rid>` (QoS 0) to that client only. */
  respondTwin(clientId: string, status: number, rid: string, body: unknown): Promise<void> {
    return this.#send0(clientId, undefined, twinResponseTopic(status, rid), body);
  }

  /** Pushes a desired-properties patch (`$version` added when absent) to a client that subscribed to them. */
  pushDesired(clientId: string, version: number, patch: Record<string, unknown>): Promise<void> {
    const body = Object.hasOwn(patch, '$version') ? patch : { ...patch, $version: version };
    return this.#send0(clientId, '$iothub/twin/PATCH/properties/desired/', desiredPatchTopic(version), body);
  }

  /** Calls a direct method on a client that subscribed to methods; the answer comes as a `method-response` message. */
  invokeMethod(clientId: string, method: string, rid: string, payload: unknown): Promise<void> {
    if (method === '' || /[/#+?]/.test(method)) {
      return Promise.reject(simulatorError('FERRY_E_SIM_MESSAGE_MALFORMED', `"${method}" is not a method name.`));
    }
    // A call without payload carries JSON null (PROTOCOLS.md §3).
    return this.#send0(clientId, '$iothub/methods/POST/', methodRequestTopic(method, rid), payload === undefined ? null : payload);
  }

  /** Disconnects every client and stops listening. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    const closing: Promise<unknown>[] = [];
    if (this.#tlsServer?.listening) closing.push(new Promise((r) => this.#tlsServer!.close(r)));
    if (this.#httpsServer?.listening) closing.push(new Promise((r) => this.#httpsServer!.close(r)));
    this.#wss?.close();
    await new Promise<void>((r) => this.#aedes.close(() => r()));
    for (const s of this.#sockets) s.destroy();
    this.#httpsServer?.closeAllConnections();
    await Promise.all(closing);
    for (const p of this.#pending.values()) p.reject(offline(p.clientId, 'the broker closed'));
    this.#pending.clear();
  }

  #send0(clientId: string, needs: string | undefined, topic: string, body: unknown): Promise<void> {
    const client = needs === undefined ? this.#live.get(clientId) : this.#subscribedClient(clientId, needs);
    if (!client) return Promise.reject(offline(clientId, needs === undefined ? 'the broker' : needs));
    const payload = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const packet = { cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false, brokerId: QOS0_ORIGIN, brokerCounter: ++this.#counter0 } as PublishPacket;
    return new Promise<void>((resolve) => client.publish(packet, () => resolve()));
  }

  #subscribedClient(clientId: string, prefix: string): Client | undefined {
    const client = this.#live.get(clientId);
    if (!client) return undefined;
    const subs = (client as Client & { subscriptions?: Record<string, unknown> }).subscriptions ?? {};
    return Object.keys(subs).some((f) => f.startsWith(prefix)) ? client : undefined;
  }

  /** Loads the stored clean=false sessions into aedes' persistence, which restores them at CONNECT. */
  async #restoreSessions(file: string): Promise<void> {
    this.#sessions = SessionStore.open(file);
    const persistence = (this.#aedes as unknown as { persistence: { addSubscriptions(client: { id: string }, subs: readonly { topic: string; qos: number }[]): Promise<unknown> } }).persistence;
    for (const s of this.#sessions.sessions()) await persistence.addSubscriptions({ id: s.clientId }, s.subscriptions);
  }

  #wire(): void {
    const aedes = this.#aedes;
    aedes.on('clientReady', (client) => {
      const id = this.#identities.get(client);
      if (!id) return;
      if (client.clean) {
        // MQTT-3.1.2-6: a clean session drops what the previous session of this client id had in flight.
        for (const [n, p] of this.#pending) {
          if (p.clientId === client.id) {
            this.#pending.delete(n);
            p.reject(offline(client.id, 'a clean session replaced it'));
          }
        }
        this.#cleanInflight.set(client, []);
        this.#sessions?.drop(client.id);
      }
      this.#live.set(client.id, client);
      const expiresAt = this.#expiry.get(client);
      if (expiresAt !== undefined) {
        // IoT Hub closes a connection whose token expires; the SDK renews before that.
        const ms = expiresAt * 1000 - this.#now();
        if (ms < MAX_TIMER_MS) this.#timers.set(client, setTimeout(() => client.close(), Math.max(ms, 0)).unref());
      }
      this.emit('client-connected', this.#connection(client, id));
    });
    aedes.on('clientDisconnect', (client) => {
      const id = this.#identities.get(client);
      const timer = this.#timers.get(client);
      if (timer) clearTimeout(timer);
      this.#timers.delete(client);
      const inflight = this.#cleanInflight.get(client);
      this.#cleanInflight.delete(client);
      for (const n of inflight ?? []) {
        const p = this.#pending.get(n);
        this.#pending.delete(n);
        p?.reject(offline(client.id, 'it disconnected before acknowledging'));
      }
      if (this.#live.get(client.id) === client) this.#live.delete(client.id);
      if (id) this.emit('client-disconnected', this.#connection(client, id));
    });
    aedes.on('ack', (acked, client) => {
      // Clean sessions have no outgoing store: aedes then acks without the packet.
      const packet = acked as (PublishPacket & { brokerId?: string; brokerCounter?: number }) | undefined;
      let counter: number | undefined;
      if (packet && packet.brokerId === QOS1_ORIGIN) counter = packet.brokerCounter;
      else if (!packet) counter = this.#cleanInflight.get(client)?.shift();
      if (counter === undefined) return;
      const p = this.#pending.get(counter);
      this.#pending.delete(counter);
      p?.resolve();
    });
    aedes.on('unsubscribe', (topics, client) => {
      if (!client.clean) this.#sessions?.unsubscribe(client.id, topics);
    });
    aedes.on('subscribe', (subs, client) => {
      const topics = subs.filter((sub) => (sub.qos as number) !== 128).map((sub) => sub.topic);
      if (topics.length > 0) this.emit('subscribed', { clientId: client.id, topics });
    });
    // Errors of single connections (bad packets, resets) end that connection only.
    aedes.on('clientError', () => undefined);
    aedes.on('connectionError', () => undefined);
  }

  #connection(client: Client, id: ClientIdentity): ClientConnection {
    return { clientId: client.id, deviceId: id.deviceId, moduleId: id.moduleId, transport: client.req ? 'wss' : 'mqtt' };
  }

  #refuse(refusal: Refusal): void {
    this.emit('refused', refusal);
  }

  #authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: Parameters<AuthenticateHandler>[3]): void {
    const result = checkConnect(this.#store, client.id, username, password, this.#now() / 1000);
    if (!result.ok) {
      this.#refuse({ stage: 'connect', clientId: client.id, code: result.code, reason: result.reason, returnCode: result.returnCode });
      done(Object.assign(new Error(result.reason), { returnCode: result.returnCode }) as Parameters<typeof done>[0], null);
      return;
    }
    this.#identities.set(client, result.identity);
    this.#expiry.set(client, result.expiresAt);
    done(null, true);
  }

  #authorizeSubscribe(client: Client, sub: Parameters<AuthorizeSubscribeHandler>[1], callback: Parameters<AuthorizeSubscribeHandler>[2]): void {
    const id = this.#identities.get(client);
    if (!id || !subscriptionAllowed(id, sub.topic)) {
      this.#refuse({ stage: 'subscribe', clientId: client.id, code: 'FERRY_E_SIM_TOPIC_FORBIDDEN', reason: `${client.id} may not subscribe to "${sub.topic}"`, topic: sub.topic });
      callback(null, null); // SUBACK 128 (MQTT-3.9.3), the connection stays
      return;
    }
    // IoT Hub grants at most QoS 1.
    const qos = sub.qos > 1 ? 1 : (sub.qos as 0 | 1);
    // Kept before the SUBACK, so a session restored after a crash has every subscription it was granted.
    if (!client.clean) this.#sessions?.subscribe(client.id, { topic: sub.topic, qos });
    callback(null, { ...sub, qos });
  }

  #authorizeForward(_client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    return packet.brokerId === QOS1_ORIGIN || packet.brokerId === QOS0_ORIGIN ? packet : null;
  }

  #authorizePublish(client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void {
    const id = client ? this.#identities.get(client) : undefined;
    if (!client || !id) {
      callback(new Error('not authenticated'));
      return;
    }
    const topic = packet.topic;
    // Accepted or not, a client publish is never stored as retained nor relayed (see authorizeForward).
    packet.retain = false;
    const drop = (code: string, reason: string): void => {
      this.#refuse({ stage: 'publish', clientId: client.id, code, reason, topic });
      // MQTT 3.1.1 has no negative PUBACK: acknowledge and drop, so the client stays connected.
      packet.topic = '$ferry/dropped';
      packet.payload = Buffer.alloc(0);
      callback(null);
    };
    if (packet.qos > 1) {
      // IoT Hub closes the connection on QoS 2.
      this.#refuse({ stage: 'publish', clientId: client.id, code: 'FERRY_E_SIM_QOS_UNSUPPORTED', reason: `${client.id} published at QoS 2 on "${topic}"`, topic });
      callback(new Error('QoS 2 is not supported'));
      return;
    }
    const check = checkPublish(id, topic);
    if (!check.ok) return drop(check.code, check.reason);
    const body = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const size = messageSize(body, check.publish);
    if (size > this.#maxBytes) {
      return drop('FERRY_E_SIM_MESSAGE_TOO_LARGE', `${client.id} sent ${size} bytes on "${topic.slice(0, 200)}", over the limit of ${this.#maxBytes}`);
    }
    const p = check.publish;
    const message: ClientMessage = {
      clientId: client.id,
      deviceId: id.deviceId,
      moduleId: id.moduleId,
      kind: p.kind,
      ...(p.output === undefined ? {} : { output: p.output }),
      ...(p.rid === undefined ? {} : { rid: p.rid }),
      ...(p.status === undefined ? {} : { status: p.status }),
      properties: p.properties,
      systemProperties: { ...p.systemProperties, connectionDeviceId: id.deviceId, ...(id.moduleId === undefined ? {} : { connectionModuleId: id.moduleId }) },
      body,
      qos: packet.qos === 0 ? 0 : 1,
    };
    const accept = this.#options.accept;
    if (!accept) {
      this.emit('message', message);
      callback(null);
      return;
    }
    let pending: Promise<void> | void;
    try {
      pending = accept(message);
    } catch (e) {
      callback(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    Promise.resolve(pending).then(
      () => {
        this.emit('message', message);
        callback(null);
      },
      (e: unknown) => callback(e instanceof Error ? e : new Error(String(e))),
    );
  }

  async #listen(): Promise<void> {
    const { tls, host = '127.0.0.1' } = this.#options;
    const track = (s: Socket | Duplex): void => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    };
    this.#tlsServer = createTlsServer({ cert: tls.serverCertPem, key: tls.serverKeyPem, minVersion: 'TLSv1.2' }, (socket) => {
      track(socket);
      // A PUBACK is one small packet the client waits for: Nagle would hold it back behind the last one.
      socket.setNoDelay(true);
      this.#aedes.handle(socket);
    });
    this.#tlsServer.on('tlsClientError', () => undefined);
    await listen(this.#tlsServer, this.#options.mqttPort ?? 8883, host, 'MQTT');

    if (this.#options.httpsPort === null) return;
    const onRequest = this.#options.onHttpsRequest ?? notFound;
    this.#httpsServer = createHttpsServer({ cert: tls.serverCertPem, key: tls.serverKeyPem, minVersion: 'TLSv1.2' }, onRequest);
    this.#httpsServer.on('tlsClientError', () => undefined);
    // MQTT over WebSockets: the `mqtt` subprotocol on /$iothub/websocket (mqtt_ws.ts).
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024, handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false) });
    this.#httpsServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== WEBSOCKET_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.#wss!.handleUpgrade(req, socket, head, (ws) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', () => undefined);
        track(stream);
        this.#aedes.handle(stream, req);
      });
    });
    await listen(this.#httpsServer, this.#options.httpsPort ?? 443, host, 'HTTPS');
  }
}

function offline(clientId: string, what: string): Error {
  return simulatorError('FERRY_E_SIM_CLIENT_OFFLINE', `${clientId} is not connected or not subscribed (${what}).`, { details: { clientId } });
}

function notFound(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Not found.' }));
}

function listen(server: TlsServer | HttpsServer, port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(simulatorError('FERRY_E_SIM_LISTEN_FAILED', `Cannot listen for ${what} on ${host}:${port}.`, { cause: e, details: { host, port } }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

