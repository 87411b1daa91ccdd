/**
 * The router (issue 3 §2-3, §5): joins the broker, the route table of the manifest and the durable store.
 * - `accept` (wire it as the broker's `accept` hook): a telemetry or output message is evaluated against every
 *   route and written to the store, once, with one delivery per endpoint, before the client gets its PUBACK.
 *   A message no route takes is acknowledged and counted as unrouted.
 * - One pump per endpoint (`$upstream`, `/modules/<m>/inputs/<i>`) delivers its queue.
 * - `reload` swaps the routes at once; queues are kept by endpoint name, so nothing queued is lost. An endpoint
 *   no route uses any more keeps being delivered (a module that still connects gets its messages) until its
 *   queue is empty, by delivery or expiry; then it is removed from the store.
 */
import { DEFAULT_ROUTE_PRIORITY, type DeploymentManifest, type RouteMessage } from '@ferry/deployment-manifests';
import type { ClientConnection, ClientMessage, EdgeBroker } from '../broker/edge-broker.js';
import type { MessageStore } from '../store/message-store.js';
import { storeError } from '../store/errors.js';
import type { EndpointStats, Message } from '../store/store-types.js';
import type { UpstreamSink } from '../upstream/upstream-sink.js';
import { InputPump } from './input-pump.js';
import { RateMeter } from './rate-meter.js';
import { RouteTable, endpointName, endpointSink } from './route-table.js';
import { UpstreamPump } from './upstream-pump.js';

/**
 * Deliveries in flight per module input. A window that drains in one round trip keeps replay fast (measured:
 * 64 replayed ~3,500 msg/s to an SDK module, 256 ~16,000); the input pump also caps the bytes in flight.
 */
export const DEFAULT_INPUT_WINDOW = 256;

export interface RouterOptions {
  readonly broker: EdgeBroker;
  readonly store: MessageStore;
  readonly manifest: DeploymentManifest;
  /** Where `$upstream` goes: the LocalIotHub (or, later, a real IoT Hub adapter). */
  readonly hub: UpstreamSink;
  /** Clock, ms since the epoch (enqueue times, rates); give the store the same one. */
  readonly now?: () => number;
  /** Deliveries in flight per module input (default DEFAULT_INPUT_WINDOW). */
  readonly window?: number;
  /** How often pumps waiting for their endpoint retry, and retired endpoints are checked (default 1000 ms). */
  readonly retryMs?: number;
}

export interface RouteStats {
  readonly name: string;
  readonly route: string;
  readonly endpoint: string;
  readonly priority: number;
  readonly timeToLiveSecs: number;
  /** Messages this route took since the router started (kept across reloads by route name). */
  readonly matched: number;
  /** Messages per second over the last 10 s. */
  readonly perSecond: number;
}

export interface RouterEndpointStats extends EndpointStats {
  readonly inFlight: number;
  /** False for an endpoint no route uses any more (kept until its queue is empty). */
  readonly routed: boolean;
  /** Module inputs: whether the module is connected; `$upstream`: always true. */
  readonly online: boolean;
}

export interface RouterStats {
  readonly routes: readonly RouteStats[];
  readonly endpoints: readonly RouterEndpointStats[];
  /** Messages stored for at least one endpoint. */
  readonly accepted: number;
  readonly acceptedPerSecond: number;
  /** Messages no route took (acknowledged and dropped). */
  readonly unrouted: number;
}

/** A message the router stored (routed, or enqueued straight to an input), for `onAccepted` listeners. */
export interface AcceptedMessage {
  /** Where it came from: `/messages/events` (device telemetry), `/messages/modules/<m>/outputs/<o>`, or `enqueueInput`'s `source`. */
  readonly source: string;
  readonly message: Message;
  /** The endpoints it was queued for. */
  readonly endpoints: readonly string[];
}

type Pump = InputPump | UpstreamPump;

export class Router {
  readonly #broker: EdgeBroker;
  readonly #store: MessageStore;
  readonly #hub: UpstreamSink;
  readonly #now: () => number;
  readonly #window: number;
  #table: RouteTable;
  readonly #pumps = new Map<string, Pump>();
  readonly #meters = new Map<string, RateMeter>();
  readonly #accepted: RateMeter;
  #unrouted = 0;
  readonly #online = new Set<string>();
  readonly #timer: NodeJS.Timeout;
  readonly #listeners: { onConnect: (c: ClientConnection) => void; onDisconnect: (c: ClientConnection) => void; onSubscribe: (s: { clientId: string }) => void };
  #closed = false;
  /** onAccepted listeners; the hot path only checks the length. */
  #taps: ReadonlyArray<(m: AcceptedMessage) => void> = [];

  private constructor(options: RouterOptions) {
    this.#broker = options.broker;
    this.#store = options.store;
    this.#hub = options.hub;
    this.#now = options.now ?? Date.now;
    this.#window = options.window ?? DEFAULT_INPUT_WINDOW;
    this.#accepted = new RateMeter(this.#now);
    this.#table = new RouteTable(options.manifest);
    for (const clientId of this.#broker.connectedClients()) {
      const module = moduleOf(clientId);
      if (module !== undefined) this.#online.add(module);
    }
    this.#listeners = {
      onConnect: (c) => {
        if (c.moduleId === undefined) return;
        this.#online.add(c.moduleId);
        this.#wakeModule(c.moduleId);
      },
      onDisconnect: (c) => {
        // A newer connection of the same client may already be up (session takeover).
        if (c.moduleId !== undefined && !this.#broker.isConnected(c.clientId)) this.#online.delete(c.moduleId);
      },
      onSubscribe: (s) => {
        const module = moduleOf(s.clientId);
        if (module !== undefined) this.#wakeModule(module);
      },
    };
    this.#broker.on('client-connected', this.#listeners.onConnect);
    this.#broker.on('client-disconnected', this.#listeners.onDisconnect);
    this.#broker.on('subscribed', this.#listeners.onSubscribe);
    this.#timer = setInterval(() => this.#retry(), options.retryMs ?? 1000).unref();
    this.#apply(this.#table);
    // Queues left by an earlier run (or routes) are delivered too.
    for (const endpoint of this.#store.endpoints()) this.#pump(endpoint)?.kick();
  }

  /** Starts routing with the manifest's routes; wire `router.accept` as the broker's `accept` hook. */
  static start(options: RouterOptions): Router {
    return new Router(options);
  }

  /**
   * The broker's accept hook: routes a telemetry or output message and resolves once it is durable (the
   * client's PUBACK waits for it). Other client messages (twin, methods) are not routed.
   * Rejects (and so the client sends again) when the store cannot keep the message.
   */
  accept(message: ClientMessage): Promise<void> {
    if (this.#closed) return Promise.reject(storeError('FERRY_E_SIM_STORE_CLOSED', 'The router is closed (the simulator is stopping)'));
    if (message.kind !== 'telemetry' && message.kind !== 'output') return Promise.resolve();
    const routed: RouteMessage = { properties: message.properties, systemProperties: message.systemProperties, body: message.body };
    const table = this.#table;
    const plan = table.plan(routed);
    for (const i of plan.matched) this.#meter(table.routes[i]!.name).add();
    if (plan.deliveries.length === 0) {
      this.#unrouted++;
      return Promise.resolve();
    }
    this.#accepted.add();
    const stored = { properties: message.properties, systemProperties: message.systemProperties, body: message.body, enqueuedAt: this.#now() };
    return this.#store.append(stored, plan.deliveries).then(() => {
      for (const d of plan.deliveries) this.#pump(d.endpoint)?.kick();
      if (this.#taps.length !== 0) this.#tap(sourceOf(message), stored, plan.deliveries.map((d) => d.endpoint));
    });
  }

  /**
   * Queues a message straight for a module input (`/modules/<module>/inputs/<input>`), durably, as if a route
   * had sent it there (default priority 9, the store's default time to live); resolves once it is stored.
   * The caller gives the system properties the module should see (connectionDeviceId/connectionModuleId
   * become `$.cdid`/`$.cmid`, PROTOCOLS.md §3). Counted in `accepted`, not in any route.
   */
  enqueueInput(module: string, input: string, message: Omit<Message, 'enqueuedAt'>, options: { source?: string; priority?: number; ttlSecs?: number } = {}): Promise<void> {
    if (this.#closed) return Promise.reject(storeError('FERRY_E_SIM_STORE_CLOSED', 'The router is closed (the simulator is stopping)'));
    const endpoint = endpointName({ kind: 'module-input', module, input });
    if (endpointSink(endpoint)?.kind !== 'module-input') return Promise.reject(storeError('FERRY_E_SIM_STORE_INPUT_INVALID', `"${endpoint}" is not a module input endpoint`));
    const stored = { properties: message.properties, systemProperties: message.systemProperties, body: message.body, enqueuedAt: this.#now() };
    const delivery = { endpoint, priority: options.priority ?? DEFAULT_ROUTE_PRIORITY, ...(options.ttlSecs !== undefined ? { ttlSecs: options.ttlSecs } : {}) };
    return this.#store.append(stored, [delivery]).then(() => {
      this.#accepted.add();
      this.#pump(endpoint)?.kick();
      if (this.#taps.length !== 0) this.#tap(options.source ?? 'enqueueInput', stored, [endpoint]);
    });
  }

  /** Calls `listener` for every message stored from now on (after it is durable). Returns the unsubscribe. */
  onAccepted(listener: (m: AcceptedMessage) => void): () => void {
    this.#taps = [...this.#taps, listener];
    return () => {
      this.#taps = this.#taps.filter((l) => l !== listener);
    };
  }

  /** Swaps in the manifest's routes; messages already queued keep their endpoint, priority and expiry. */
  reload(manifest: DeploymentManifest): void {
    this.#assertOpen();
    const table = new RouteTable(manifest);
    this.#table = table;
    this.#apply(table);
  }

  /** The routes of the manifest in use. */
  get routes(): RouteTable['routes'] {
    return this.#table.routes;
  }

  stats(): RouterStats {
    this.#assertOpen();
    const table = this.#table;
    const routes = table.routes.map((r) => {
      const meter = this.#meter(r.name);
      return {
        name: r.name,
        route: r.text,
        endpoint: endpointName(r.compiled.sink),
        priority: r.priority,
        timeToLiveSecs: r.timeToLiveSecs ?? table.defaultTtlSecs,
        matched: meter.total,
        perSecond: meter.perSecond(),
      };
    });
    const endpoints = this.#store.stats().endpoints.map((e) => {
      const pump = this.#pumps.get(e.endpoint);
      return {
        ...e,
        inFlight: pump?.inFlight ?? 0,
        routed: table.endpoints.has(e.endpoint),
        online: pump instanceof InputPump ? this.#online.has(pump.module) : true,
      };
    });
    return { routes, endpoints, accepted: this.#accepted.total, acceptedPerSecond: this.#accepted.perSecond(), unrouted: this.#unrouted };
  }

  /** Stops routing and delivering (the store and broker stay open: their owner closes them). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#broker.off('client-connected', this.#listeners.onConnect);
    this.#broker.off('client-disconnected', this.#listeners.onDisconnect);
    this.#broker.off('subscribed', this.#listeners.onSubscribe);
    for (const pump of this.#pumps.values()) pump.close();
    this.#pumps.clear();
  }

  #tap(source: string, message: Message, endpoints: readonly string[]): void {
    const accepted: AcceptedMessage = { source, message, endpoints };
    for (const listener of this.#taps) {
      try {
        listener(accepted);
      } catch {
        // A listener's failure must not fail the client's publish (it is stored already).
      }
    }
  }

  #apply(table: RouteTable): void {
    this.#store.setDefaultTimeToLive(table.defaultTtlSecs);
    for (const endpoint of table.endpoints) this.#pump(endpoint);
  }

  #assertOpen(): void {
    if (this.#closed) throw storeError('FERRY_E_SIM_STORE_CLOSED', 'The router is closed (the simulator is stopping)');
  }

  #meter(name: string): RateMeter {
    let meter = this.#meters.get(name);
    if (!meter) {
      meter = new RateMeter(this.#now);
      this.#meters.set(name, meter);
    }
    return meter;
  }

  #pump(endpoint: string): Pump | undefined {
    let pump = this.#pumps.get(endpoint);
    if (pump || this.#closed) return pump;
    const sink = endpointSink(endpoint);
    if (!sink) return undefined;
    if (sink.kind === 'upstream') pump = new UpstreamPump(endpoint, this.#store, this.#hub);
    else {
      const module = sink.module;
      pump = new InputPump({ endpoint, module, input: sink.input, broker: this.#broker, store: this.#store, window: this.#window, online: () => this.#online.has(module) });
    }
    this.#pumps.set(endpoint, pump);
    return pump;
  }

  #wakeModule(module: string): void {
    for (const pump of this.#pumps.values()) if (pump instanceof InputPump && pump.module === module) pump.wake();
  }

  /** Periodic: retry pumps that wait, drop retired endpoints whose queue is empty. */
  #retry(): void {
    if (this.#closed) return;
    for (const endpoint of this.#store.endpoints()) {
      const pump = this.#pump(endpoint);
      if (this.#table.endpoints.has(endpoint) || (pump?.inFlight ?? 0) > 0) continue;
      if (this.#store.pending(endpoint) === 0) {
        pump?.close();
        this.#pumps.delete(endpoint);
        this.#store.removeEndpoint(endpoint);
      }
    }
    for (const pump of this.#pumps.values()) pump.wake();
  }
}

/** The route source path of a client message (PROTOCOLS.md §6). */
function sourceOf(m: ClientMessage): string {
  return m.kind === 'output' && m.moduleId !== undefined ? `/messages/modules/${m.moduleId}/outputs/${m.output ?? ''}` : '/messages/events';
}

function moduleOf(clientId: string): string | undefined {
  const slash = clientId.indexOf('/');
  return slash < 0 ? undefined : clientId.slice(slash + 1);
}
