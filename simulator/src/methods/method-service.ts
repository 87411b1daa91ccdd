import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { simulatorError } from '../errors.js';
import type { ClientConnection, ClientMessage, EdgeBroker } from '../broker/edge-broker.js';
import type { IdentityStore } from '../identity/identity-store.js';
import { handleMethodHttpsRequest } from './method-https.js';

/** IoT Hub's limit on a direct method's request and response payloads (JSON). */
export const MAX_METHOD_PAYLOAD_BYTES = 128 * 1024;
/** IoT Hub's defaults and bounds for `responseTimeoutInSeconds` and `connectTimeoutInSeconds`. */
const DEFAULT_RESPONSE_TIMEOUT_SECS = 30;
const MAX_TIMEOUT_SECS = 300;

export interface MethodServiceOptions {
  identities: IdentityStore;
  /** Clock for SAS token expiry on the HTTPS path, ms since the epoch. */
  now?: () => number;
  /** Payload limit in bytes of JSON (default 128 KB). */
  maxPayloadBytes?: number;
}

export interface InvokeOptions {
  /** How long to wait for the module's answer once the call reached it (default 30 s, at most 300). */
  timeoutSecs?: number;
  /** How long to wait for an offline module to connect and subscribe to methods (default 0: fail at once). */
  connectTimeoutSecs?: number;
}

/** A module's answer: the status and JSON payload it sent (`null` when it sent none). */
export interface MethodResult {
  readonly status: number;
  readonly payload: unknown;
}

interface PendingCall {
  readonly clientId: string;
  readonly resolve: (r: MethodResult) => void;
  readonly reject: (e: Error) => void;
  /** Set once the call reached the module; undefined while it is being published. */
  timer: NodeJS.Timeout | undefined;
}

/**
 * Direct methods (PROTOCOLS.md §3): calls go to a module on `$iothub/methods/POST/<method>/?$rid=<id>`
 * and its answer comes back on `$iothub/methods/res/<status>/?$rid=<id>`. Serves both `ferry invoke`
 * (`invoke`) and module-to-module `ModuleClient.invokeMethod` over HTTPS on the gateway port
 * (`handleHttpsRequest`, to plug into the broker's `onHttpsRequest`).
 */
export class MethodService {
  readonly #broker: EdgeBroker;
  readonly #options: MethodServiceOptions;
  readonly #maxBytes: number;
  readonly #pending = new Map<string, PendingCall>();
  /** Calls waiting for their target to come online (connect timeout): retried on connect/subscribe. */
  readonly #waiting = new Map<string, Set<() => void>>();
  #counter = 0;
  readonly #ridPrefix = randomBytes(4).toString('hex');
  #detached = false;
  readonly #onMessage = (m: ClientMessage): void => this.#onResponse(m);
  readonly #onConnected = (c: ClientConnection): void => this.#wake(c.clientId);
  readonly #onSubscribed = (s: { clientId: string; topics: string[] }): void => {
    if (s.topics.some((t) => t.startsWith('$iothub/methods/POST/'))) this.#wake(s.clientId);
  };

  private constructor(broker: EdgeBroker, options: MethodServiceOptions) {
    this.#broker = broker;
    this.#options = options;
    this.#maxBytes = options.maxPayloadBytes ?? MAX_METHOD_PAYLOAD_BYTES;
  }

  static attach(broker: EdgeBroker, options: MethodServiceOptions): MethodService {
    const service = new MethodService(broker, options);
    broker.on('message', service.#onMessage);
    broker.on('client-connected', service.#onConnected);
    broker.on('subscribed', service.#onSubscribed);
    return service;
  }

  /** The device id calls are addressed to. */
  get deviceId(): string {
    return this.#options.identities.deviceId;
  }

  /**
   * Calls `methodName` on a module (`moduleId` undefined: the device itself) and resolves with its
   * answer. Rejects with FERRY_E_SIM_IDENTITY_UNKNOWN (no such module), FERRY_E_SIM_METHOD_TARGET_OFFLINE
   * (404, not connected or no method handler), FERRY_E_SIM_METHOD_TIMEOUT (504),
   * FERRY_E_SIM_METHOD_PAYLOAD_TOO_LARGE (413, request or answer) or FERRY_E_SIM_METHOD_REQUEST_INVALID.
   */
  async invoke(moduleId: string | undefined, methodName: string, payload: unknown, options: InvokeOptions = {}): Promise<MethodResult> {
    if (this.#detached) throw simulatorError('FERRY_E_SIM_METHOD_TARGET_OFFLINE', 'The simulator is stopping: no more method calls.');
    assertMethodName(methodName);
    const timeoutSecs = timeout(options.timeoutSecs, DEFAULT_RESPONSE_TIMEOUT_SECS, 'timeoutSecs', false);
    const connectSecs = timeout(options.connectTimeoutSecs, 0, 'connectTimeoutSecs', true);
    const body = payload === undefined ? null : payload; // no payload is JSON null (PROTOCOLS.md §3)
    const text = JSON.stringify(body) as string | undefined;
    if (text === undefined) throw simulatorError('FERRY_E_SIM_METHOD_REQUEST_INVALID', 'The method payload is not a JSON value.');
    this.#assertSize(Buffer.byteLength(text), 'request');
    const identities = this.#options.identities;
    if (!identities.find(identities.deviceId, moduleId)) {
      throw simulatorError('FERRY_E_SIM_IDENTITY_UNKNOWN', `The simulator has no module "${moduleId}".`, { details: { moduleId } });
    }
    const clientId = moduleId === undefined ? identities.deviceId : `${identities.deviceId}/${moduleId}`;
    const rid = `${this.#ridPrefix}${(++this.#counter).toString(16)}`;
    // Listen for the answer before the call goes out: a quick module may answer before the publish resolves.
    let settle!: { resolve: (r: MethodResult) => void; reject: (e: unknown) => void };
    const answered = new Promise<MethodResult>((resolve, reject) => { settle = { resolve, reject }; });
    const entry = { clientId, resolve: settle.resolve, reject: settle.reject, timer: undefined as NodeJS.Timeout | undefined };
    this.#pending.set(rid, entry);
    try {
      // As JSON bytes: the broker would send a string payload as is, not as a JSON string.
      await this.#publish(clientId, methodName, rid, Buffer.from(text), connectSecs);
    } catch (e) {
      this.#pending.delete(rid);
      throw e;
    }
    // The response timeout counts from the moment the call reached the module (IoT Hub's responseTimeoutInSeconds).
    if (this.#pending.has(rid)) {
      entry.timer = setTimeout(() => {
        this.#pending.delete(rid);
        settle.reject(simulatorError('FERRY_E_SIM_METHOD_TIMEOUT', `${clientId} did not answer "${methodName}" within ${timeoutSecs} s.`, { details: { clientId, methodName, timeoutSecs } }));
      }, timeoutSecs * 1000);
    }
    return answered;
  }

  /**
   * Serves `POST /twins/<device>[/modules/<module>]/methods` (module-to-module invokeMethod,
   * PROTOCOLS.md §3) and returns true; returns false, answering nothing, for any other request so that
   * the caller can serve it.
   */
  handleHttpsRequest(req: IncomingMessage, res: ServerResponse): boolean {
    return handleMethodHttpsRequest(req, res, {
      identities: this.#options.identities,
      now: this.#options.now ?? Date.now,
      maxBodyBytes: this.#maxBytes + 64 * 1024,
      invoke: (moduleId, name, payload, options) => this.invoke(moduleId, name, payload, options),
    });
  }

  /** Stops listening to the broker; calls in flight fail with FERRY_E_SIM_METHOD_TARGET_OFFLINE. */
  detach(): void {
    this.#detached = true;
    this.#broker.off('message', this.#onMessage);
    this.#broker.off('client-connected', this.#onConnected);
    this.#broker.off('subscribed', this.#onSubscribed);
    for (const [rid, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(rid);
      p.reject(simulatorError('FERRY_E_SIM_METHOD_TARGET_OFFLINE', `The simulator stopped before ${p.clientId} answered.`));
    }
    for (const wakers of this.#waiting.values()) for (const wake of wakers) wake();
  }

  /** Publishes the call; waits up to `connectSecs` for an offline target to connect and subscribe. */
  async #publish(clientId: string, methodName: string, rid: string, body: Buffer, connectSecs: number): Promise<void> {
    const deadline = Date.now() + connectSecs * 1000;
    for (;;) {
      try {
        await this.#broker.invokeMethod(clientId, methodName, rid, body);
        return;
      } catch (e) {
        if ((e as { code?: unknown }).code !== 'FERRY_E_SIM_CLIENT_OFFLINE') throw e;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.#detached) {
        throw simulatorError('FERRY_E_SIM_METHOD_TARGET_OFFLINE', `${clientId} is not connected or has not subscribed to methods.`, { details: { clientId, methodName } });
      }
      await this.#nextChance(clientId, left);
    }
  }

  /** Resolves on the next connect or methods subscription of `clientId`, or after `ms`. */
  #nextChance(clientId: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.#waiting.get(clientId);
      if (!set) this.#waiting.set(clientId, (set = new Set()));
      const wakers = set;
      const done = (): void => {
        clearTimeout(timer);
        wakers.delete(done);
        if (wakers.size === 0 && this.#waiting.get(clientId) === wakers) this.#waiting.delete(clientId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      wakers.add(done);
    });
  }

  #wake(clientId: string): void {
    // The subscription is restored (clean=false) or granted by now: retry on the next tick.
    const wakers = this.#waiting.get(clientId);
    if (wakers) for (const wake of [...wakers]) setImmediate(wake);
  }

  #onResponse(m: ClientMessage): void {
    if (m.kind !== 'method-response' || m.rid === undefined) return;
    const call = this.#pending.get(m.rid);
    // Only the called client may answer its call.
    if (!call || call.clientId !== m.clientId) return;
    this.#pending.delete(m.rid);
    clearTimeout(call.timer);
    try {
      this.#assertSize(m.body.length, 'response');
      call.resolve({ status: m.status ?? 200, payload: parsePayload(m.body) });
    } catch (e) {
      call.reject(e as Error);
    }
  }

  #assertSize(bytes: number, what: 'request' | 'response'): void {
    if (bytes > this.#maxBytes) {
      throw simulatorError('FERRY_E_SIM_METHOD_PAYLOAD_TOO_LARGE', `The method ${what} payload is ${bytes} bytes, over the limit of ${this.#maxBytes}.`, { details: { bytes, limit: this.#maxBytes } });
    }
  }
}

/** The broker puts the name in a topic level: no `/`, `#`, `+`, `?` (MQTT-4.7.1, PROTOCOLS.md §3). */
export function assertMethodName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '' || name.length > 256 || /[/#+?]/.test(name) || name.includes('\0')) {
    throw simulatorError('FERRY_E_SIM_METHOD_REQUEST_INVALID', `${JSON.stringify(name)} is not a method name.`, { details: { methodName: name } });
  }
}

function timeout(value: unknown, fallback: number, what: string, zeroAllowed: boolean): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0) || value > MAX_TIMEOUT_SECS) {
    throw simulatorError('FERRY_E_SIM_METHOD_REQUEST_INVALID', `${what} must be a number of seconds ${zeroAllowed ? 'from 0' : 'above 0'} to ${MAX_TIMEOUT_SECS}.`, { details: { [what]: value } });
  }
  return value;
}

/** The module's answer as JSON; a body that is not JSON is returned as text, an empty one as null. */
function parsePayload(body: Buffer): unknown {
  if (body.length === 0) return null;
  const text = body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
