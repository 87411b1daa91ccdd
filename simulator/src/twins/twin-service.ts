import { EventEmitter } from 'node:events';
import { isFerryErrorLike } from '../broker/coded.js';
import type { ClientConnection, ClientMessage, EdgeBroker } from '../broker/edge-broker.js';
import { diffPatch } from './twin-document.js';
import type { TwinSection } from './twin-document.js';
import type { TwinProperties, TwinStore } from './twin-store.js';

/** A twin request the service refused (answered with an error body; the client stays connected). */
export interface TwinRefusal {
  readonly clientId: string;
  readonly moduleId: string | undefined;
  readonly kind: 'twin-get' | 'twin-patch';
  readonly code: string;
  readonly reason: string;
}

export interface TwinServiceEvents {
  /** A reported patch was stored. */
  reported: [change: { moduleId: string | undefined; version: number; patch: TwinSection }];
  /** The desired section changed (patchDesired or seed). */
  desired: [change: { moduleId: string | undefined; version: number; patch: TwinSection }];
  refused: [refusal: TwinRefusal];
}

/** What a connection last got of its desired section (GET answer or pushed patch). */
interface Snapshot {
  readonly version: number;
  readonly desired: TwinSection;
}

const DESIRED_TOPIC = '$iothub/twin/PATCH/properties/desired/';

/**
 * Twins over MQTT (PROTOCOLS.md §3): answers `$iothub/twin/GET` with 200 and the twin, stores
 * `$iothub/twin/PATCH/properties/reported` and answers 204, and pushes desired changes on
 * `$iothub/twin/PATCH/properties/desired/?$version=n`. Refused requests are answered with their status
 * and a body carrying `errorCode` (the SDK turns it into an Error); the connection stays.
 *
 * A module that was away when desired properties changed gets, when it connects again or subscribes to
 * desired updates, one patch from what it last saw to the current section (as edgeHub syncs twins on
 * reconnect: the SDK re-subscribes but does not GET again).
 */
export class TwinService extends EventEmitter<TwinServiceEvents> {
  readonly #broker: EdgeBroker;
  readonly #store: TwinStore;
  readonly #seen = new Map<string, Snapshot>();
  /** Twin (module id, or '' for the device) -> the client id it connects as, learnt from connections. */
  readonly #clients = new Map<string, string>();
  readonly #onMessage = (m: ClientMessage): void => this.#handle(m);
  readonly #onConnected = (c: ClientConnection): void => {
    this.#clients.set(twinKey(c.moduleId), c.clientId);
    void this.#catchUp(c.moduleId);
  };
  readonly #onSubscribed = (s: { clientId: string; topics: string[] }): void => {
    if (!s.topics.some((t) => t.startsWith(DESIRED_TOPIC))) return;
    const moduleId = moduleOf(s.clientId);
    this.#clients.set(twinKey(moduleId), s.clientId);
    void this.#catchUp(moduleId);
  };

  private constructor(broker: EdgeBroker, store: TwinStore) {
    super();
    this.#broker = broker;
    this.#store = store;
  }

  /** Starts answering the broker's twin requests from `store`. */
  static attach(broker: EdgeBroker, store: TwinStore): TwinService {
    const service = new TwinService(broker, store);
    for (const clientId of broker.connectedClients()) service.#clients.set(twinKey(moduleOf(clientId)), clientId);
    broker.on('message', service.#onMessage);
    broker.on('client-connected', service.#onConnected);
    broker.on('subscribed', service.#onSubscribed);
    return service;
  }

  /** Stops answering (the store stays open). */
  detach(): void {
    this.#broker.off('message', this.#onMessage);
    this.#broker.off('client-connected', this.#onConnected);
    this.#broker.off('subscribed', this.#onSubscribed);
  }

  get(moduleId: string | undefined): TwinProperties {
    return this.#store.get(moduleId);
  }

  /**
   * Replaces a module's desired section from a deployment (`<module>.properties.desired`) and pushes the
   * difference to the module when connected. Returns the desired `$version`.
   */
  async seed(moduleId: string | undefined, desired: Record<string, unknown>): Promise<number> {
    const change = this.#store.seed(moduleId, desired);
    if (change.patch !== undefined) await this.#desiredChanged(moduleId, change.version, change.patch);
    return change.version;
  }

  /**
   * Applies a merge patch to a module's desired section and pushes it to the module when it is
   * connected and subscribed (else it gets it when it comes back). Returns the new desired `$version`;
   * throws FERRY_E_SIM_TWIN_PATCH_INVALID or FERRY_E_SIM_TWIN_TOO_LARGE.
   */
  async patchDesired(moduleId: string | undefined, patch: unknown): Promise<number> {
    const change = this.#store.patchDesired(moduleId, patch);
    await this.#desiredChanged(moduleId, change.version, change.patch ?? {});
    return change.version;
  }

  async #desiredChanged(moduleId: string | undefined, version: number, patch: TwinSection): Promise<void> {
    this.emit('desired', { moduleId, version, patch });
    await this.#catchUp(moduleId, patch);
  }

  /** Pushes what the client has not seen yet: `patch` when it saw the previous version, else a diff. */
  async #catchUp(moduleId: string | undefined, patch?: TwinSection): Promise<void> {
    const clientId = this.#clients.get(twinKey(moduleId));
    if (clientId === undefined) return; // never connected: it GETs the twin when it does
    const seen = this.#seen.get(clientId);
    const twin = this.#store.get(moduleId);
    const { $version: version, ...desired } = twin.desired;
    if (seen !== undefined && seen.version >= version) return;
    let body: TwinSection;
    if (seen !== undefined && (patch === undefined || seen.version !== version - 1)) body = diffPatch(seen.desired, desired);
    else if (patch !== undefined) body = patch;
    else return; // never saw the twin: the SDK GETs it first
    try {
      // PROTOCOLS.md §3: the body carries `$version` too.
      await this.#broker.pushDesired(clientId, version, { ...body, $version: version });
      this.#seen.set(clientId, { version, desired });
    } catch {
      // Not connected or not subscribed: caught up on the next connect or subscription.
    }
  }

  #handle(m: ClientMessage): void {
    if ((m.kind !== 'twin-get' && m.kind !== 'twin-patch') || m.rid === undefined) return;
    const rid = m.rid;
    const kind = m.kind;
    this.#clients.set(twinKey(m.moduleId), m.clientId);
    try {
      if (kind === 'twin-get') {
        const twin = this.#store.get(m.moduleId);
        const { $version: version, ...desired } = twin.desired;
        this.#seen.set(m.clientId, { version, desired });
        this.#answer(m.clientId, 200, rid, twin);
      } else {
        const patch = parseJson(m.body);
        const version = this.#store.patchReported(m.moduleId, patch);
        this.emit('reported', { moduleId: m.moduleId, version, patch: patch as TwinSection });
        // IoT Hub answers 204 with an empty body (its topic adds `&$version=n`; the SDK reads neither).
        this.#answer(m.clientId, 204, rid, '');
      }
    } catch (e) {
      const coded = isFerryErrorLike(e);
      // Not a coded error: a bug (the store wraps its I/O errors), reported as FERRY_E_INTERNAL.
      const code = coded ? e.code : 'FERRY_E_INTERNAL';
      const status = coded ? e.status : 500;
      const reason = coded ? e.reason : String(e);
      this.emit('refused', { clientId: m.clientId, moduleId: m.moduleId, kind, code, reason });
      // A body with `errorCode` is an error for the SDK, and `message` its message (mqtt_twin_client.ts):
      // it leads with the code, the only part the module sees.
      this.#answer(m.clientId, status, rid, { errorCode: code, code, status, message: `${code}: ${coded ? e.message : reason}` });
    }
  }

  #answer(clientId: string, status: number, rid: string, body: unknown): void {
    // A client gone before its answer: nothing waits for it any more.
    this.#broker.respondTwin(clientId, status, rid, body).catch(() => undefined);
  }
}

function twinKey(moduleId: string | undefined): string {
  return moduleId === undefined ? '' : `m:${moduleId}`;
}

/** `<device>/<module>` -> module; `<device>` -> undefined (PROTOCOLS.md §2). */
function moduleOf(clientId: string): string | undefined {
  const slash = clientId.indexOf('/');
  return slash < 0 ? undefined : clientId.slice(slash + 1);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    // Validation names the problem: a patch must be a JSON object.
    return undefined;
  }
}
