/**
 * At-least-once input (issue 4 §2): an input message's PUBACK is sent only once its result (or error)
 * has been handed to edgeHub, so a module that dies mid-message gets it again (edgeHub redelivers
 * unacknowledged QoS 1 messages of a `clean=false` session, MQTT-4.4.0-1).
 *
 * MQTT.js 4.3.8 acknowledges a QoS 1 PUBLISH by itself: `_handlePublish` emits 'message', calls
 * `handleMessage(packet, cb)`, and the callback sends the PUBACK, then reads the next packet. Holding
 * that callback (the documented backpressure hook) would stop the client from reading anything, the
 * PUBACKs of our own result messages included: results could never be confirmed. Instead the PUBACK
 * packet itself is held: `_sendPacket` is wrapped so an input's PUBACK is parked and the packet loop
 * goes on; parked PUBACKs are written when their messages are done, in the order the PUBLISHes arrived
 * (MQTT-4.6.0-2), so a finished message waits for earlier ones still scoring.
 *
 * azure-iot-mqtt-base makes a new MQTT.js client for every connect (`mqttProvider.connect`), so the
 * hook wraps that provider: every client, also after a reconnect, is hooked before its first packet.
 * PUBACKs parked on a client that closed are dropped: the broker redelivers those messages.
 *
 * A message is matched to its PUBLISH by its payload Buffer, which the SDK hands on untouched
 * (`new Message(payload)`). A delivery the SDK does not pass on (it drops input topics without the
 * trailing `/`) is acknowledged once the SDK had its turn, or it would block every later PUBACK.
 */
import type { EventEmitter } from 'node:events';
import type { ModuleClient } from 'azure-iot-device';
import { quietPayload } from './quiet-payload.js';

/** What an input message's owner does with it. */
export interface InputAck {
  /** The result or error was handed to edgeHub: acknowledge (in arrival order). */
  done(): void;
  /** Never acknowledge on this connection: the broker delivers it again after a reconnect. */
  abandon(): void;
}

interface PubackPacket { cmd: string; messageId?: number }
type SendPacket = (packet: PubackPacket, cb?: (err?: unknown) => void, cbStorePut?: unknown) => void;
interface MqttJsClient extends EventEmitter {
  connected: boolean;
  _sendPacket: SendPacket;
}
interface PublishPacket { cmd: string; qos?: number; topic?: string | Buffer; payload?: unknown; messageId?: number }

type State = 'open' | 'done' | 'abandoned';

class Delivery implements InputAck {
  state: State = 'open';
  claimed = false;
  puback: PubackPacket | undefined;
  constructor(readonly messageId: number, readonly connection: ConnectionAcks) {}
  done(): void {
    if (this.state !== 'open') return;
    this.state = 'done';
    this.connection.flush();
  }
  abandon(): void {
    if (this.state === 'open') this.state = 'abandoned';
  }
}

interface ConnectionOwner {
  taking(): boolean;
  register(payload: Buffer, d: Delivery): void;
  closed(c: ConnectionAcks): void;
}

/** The deliveries of one MQTT.js client (one connection), in arrival order. */
class ConnectionAcks {
  readonly #queue: Delivery[] = [];
  /** Deliveries whose PUBACK MQTT.js has not tried to send yet, by packet id. */
  readonly #awaitingPuback = new Map<number, Delivery>();
  readonly #send: SendPacket;
  readonly #client: MqttJsClient;
  #closed = false;

  readonly #owner: ConnectionOwner;

  constructor(client: MqttJsClient, owner: ConnectionOwner) {
    this.#client = client;
    this.#owner = owner;
    this.#send = client._sendPacket.bind(client);
    client.on('packetreceive', (packet: PublishPacket) => this.#onPacket(packet));
    client.on('close', () => this.#close());
    client._sendPacket = (packet, cb, cbStorePut) => {
      const d = packet.cmd === 'puback' && packet.messageId !== undefined ? this.#awaitingPuback.get(packet.messageId) : undefined;
      if (!d) {
        this.#send(packet, cb, cbStorePut);
        return;
      }
      this.#awaitingPuback.delete(d.messageId);
      d.puback = packet;
      // The SDK hands the message on in a process.nextTick: by setImmediate it has been claimed, or never will be.
      setImmediate(() => {
        if (!d.claimed && d.state === 'open') {
          if (owner.taking()) d.done();
          else d.abandon();
        }
      });
      this.flush();
      // Let MQTT.js read the next packet now.
      cb?.();
    };
  }

  get held(): number {
    return this.#queue.length;
  }

  #onPacket(packet: PublishPacket): void {
    if (packet.cmd !== 'publish' || packet.qos !== 1 || packet.messageId === undefined) return;
    const topic = String(packet.topic ?? '');
    // devices/<d>/modules/<m>/inputs/<input>/<bag> (PROTOCOLS.md §3)
    if (!/^devices\/[^/]+\/modules\/[^/]+\/inputs\//.test(topic)) return;
    const d = new Delivery(packet.messageId, this);
    this.#queue.push(d);
    this.#awaitingPuback.set(packet.messageId, d);
    if (Buffer.isBuffer(packet.payload)) {
      quietPayload(packet.payload);
      this.#owner.register(packet.payload, d);
    }
  }

  /** Writes the PUBACKs at the head of the queue whose messages are done (MQTT-4.6.0-2: in arrival order). */
  flush(): void {
    if (this.#closed) return;
    while (this.#queue.length > 0) {
      const head = this.#queue[0] as Delivery;
      if (head.state !== 'done' || !head.puback) return;
      this.#queue.shift();
      if (this.#client.connected) this.#send(head.puback);
    }
  }

  #close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    this.#awaitingPuback.clear();
    this.#owner.closed(this);
  }
}

/** The PUBACK hook of one ModuleClient. */
export class InputAcks {
  readonly #byPayload = new WeakMap<object, Delivery>();
  readonly #connections = new Set<ConnectionAcks>();
  #taking = true;

  private constructor() {}

  /**
   * Hooks the MQTT.js clients the ModuleClient will make. Call before `open()`. Throws when the SDK
   * is not the azure-iot-device-mqtt transport this was written against (1.16.x).
   */
  static install(client: ModuleClient): InputAcks {
    const base = (client as unknown as { _transport?: { _mqtt?: { mqttProvider?: { connect?: unknown } } } })._transport?._mqtt;
    const provider = base?.mqttProvider;
    if (!base || !provider || typeof provider.connect !== 'function') {
      throw new Error('The ModuleClient has no azure-iot-device-mqtt transport with an mqttProvider: at-least-once input cannot be set up');
    }
    const acks = new InputAcks();
    const connect = provider.connect.bind(provider) as (uri: string, options: unknown) => MqttJsClient;
    base.mqttProvider = {
      ...provider,
      connect: (uri: string, options: unknown) => {
        const mqttClient = connect(uri, options);
        acks.#connections.add(new ConnectionAcks(mqttClient, {
          taking: () => acks.#taking,
          register: (payload, d) => acks.#byPayload.set(payload, d),
          closed: (c) => acks.#connections.delete(c),
        }));
        return mqttClient;
      },
    };
    return acks;
  }

  /** False once stopTaking() was called: deliveries nobody claims are then never acknowledged. */
  get taking(): boolean {
    return this.#taking;
  }

  /** Input deliveries not acknowledged yet, on live connections. */
  get held(): number {
    let n = 0;
    for (const c of this.#connections) n += c.held;
    return n;
  }

  /** The acknowledgement of an input message (by its body Buffer); undefined when it came another way. */
  claim(body: Buffer): InputAck | undefined {
    const d = this.#byPayload.get(body);
    if (!d) return undefined;
    this.#byPayload.delete(body);
    d.claimed = true;
    return d;
  }

  /** Shutting down: deliveries that arrive from now on and are not claimed stay unacknowledged. */
  stopTaking(): void {
    this.#taking = false;
  }
}
