/**
 * The scorer module (issue 4): the model slot, the edgeHub connection, the message pipeline, the twin,
 * direct methods and the optional HTTP endpoint, wired together.
 *
 * Message pipeline (§2): an input is decoded (message-codec.ts), scored on the current model, and its
 * result (or error) sent with `sendOutputEvent`; only when edgeHub has accepted that (its PUBACK came
 * back) is the input acknowledged (input-ack.ts). At most `maxInFlight` inputs score at once; the rest
 * wait unacknowledged, so edgeHub's delivery window, not this process's memory, absorbs a burst.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import device from 'azure-iot-device';
import type { Message, ModuleClient } from 'azure-iot-device';
import type { Logger } from 'pino';
import { DeviceModelStore } from '../device-models/index.js';
import { isFerryError } from '../errors.js';
import { ServiceKeys, startScoringServer } from '../http/index.js';
import type { ScoringServer } from '../http/index.js';
import { connectModuleClient } from './connection.js';
import { edgeError } from './errors.js';
import type { ModuleConnection } from './connection.js';
import { moduleRuntimeConfig } from './edge-config.js';
import type { EdgeConfig, ModuleConfig } from './edge-config.js';
import { registerEdgeMethods } from './edge-methods.js';
import type { InputAck, InputAcks } from './input-ack.js';
import { decodeInput, errorMessage, resultMessage } from './message-codec.js';
import type { InboundMessage, OutboundMessage } from './message-codec.js';
import { ModelSlot } from './model-slot.js';
import { ModuleStats } from './module-stats.js';
import { TwinControl } from './twin-control.js';

export interface EdgeModuleOptions {
  config: ModuleConfig;
  /** Models built into the image (FERRY_MODELS_DIR). */
  modelsDir: string;
  /** Models fetched by the twin (FERRY_MODEL_CACHE); also holds the HTTP endpoint's keys. */
  cacheDir: string;
  logger: Logger;
  /** Default: sets `logger.level`. */
  setLogLevel?(level: string): void;
  /** Connection retry delays (tests shorten them). */
  connect?: { firstDelayMs?: number; maxDelayMs?: number };
}

/** edgeHub's message limit is 256 KiB, body and properties (PROTOCOLS.md §5); room left for the properties. */
const MAX_RESULT_BYTES = 256 * 1024 - 8 * 1024;

interface Job {
  readonly input: string;
  readonly message: InboundMessage;
  readonly ack: InputAck | undefined;
}

export class EdgeModule {
  readonly slot: ModelSlot;
  readonly stats = new ModuleStats();
  readonly #edge: EdgeConfig;
  readonly #logger: Logger;
  readonly #inputs: ReadonlySet<string>;
  readonly #queue: Job[] = [];
  #active = 0;
  #idle: (() => void) | undefined;
  #connection: ModuleConnection | undefined;
  #twin: TwinControl | undefined;
  #http: ScoringServer | undefined;
  #stopping: Promise<void> | undefined;
  #reconnecting = false;
  readonly #abort = new AbortController();

  private constructor(slot: ModelSlot, o: EdgeModuleOptions) {
    this.slot = slot;
    this.#edge = o.config.edge;
    this.#logger = o.logger;
    this.#inputs = new Set(o.config.edge.inputs);
  }

  /**
   * Loads the model, starts the HTTP endpoint (when configured), connects to edgeHub (retrying until it
   * is up), then attaches the twin and the direct methods. Rejects when the model cannot be loaded.
   */
  static async start(o: EdgeModuleOptions): Promise<EdgeModule> {
    const setLogLevel = o.setLogLevel ?? ((level: string) => void (o.logger.level = level));
    const store = DeviceModelStore.open(o.modelsDir);
    const slot = await ModelSlot.create({ config: moduleRuntimeConfig(o.config.inference, o.config.edge), resolver: store, cacheDir: o.cacheDir, logger: o.logger });
    const module = new EdgeModule(slot, o);
    try {
      const http = o.config.edge.http;
      if (http) {
        const keys = http.auth === 'key' ? ServiceKeys.open(join(o.cacheDir, 'http'), o.config.inference.name) : undefined;
        module.#http = await startScoringServer(slot.asRuntime(), {
          host: http.host, port: http.port, auth: http.auth, ...(keys ? { keys } : {}),
          onEvent: (e) => {
            if (e.type === 'request') o.logger.debug({ method: e.method, path: e.path, status: e.status, ms: e.ms, requestId: e.requestId, code: e.code }, 'http request');
          },
        });
        o.logger.info({ url: module.#http.url }, 'http endpoint listening');
      }
      module.#connection = await connectModuleClient({
        logger: o.logger,
        signal: module.#abort.signal,
        ...o.connect,
        prepare: (client, acks) => {
          client.on('inputMessage', (input: string, msg: Message) => module.#onInput(acks, input, msg));
          client.on('disconnect', () => module.#reconnect(client));
        },
      });
      const { client, attempts } = module.#connection;
      o.logger.info({ attempts, inputs: o.config.edge.inputs, output: o.config.edge.output }, 'connected to edgeHub');
      module.#twin = await TwinControl.attach(client, { slot, stats: module.stats, logger: o.logger, setLogLevel, reportIntervalMs: o.config.edge.reportIntervalMs });
      registerEdgeMethods(client, { slot, stats: module.stats, setLogLevel, reload: () => slot.reload() });
      return module;
    } catch (e) {
      await module.stop().catch(() => undefined);
      throw e;
    }
  }

  /** The HTTP endpoint's URL, when one is configured. */
  get httpUrl(): string | undefined {
    return this.#http?.url;
  }

  /** Inputs taken and not finished (scoring, sending, or waiting for a free slot). */
  get inFlight(): number {
    return this.#active + this.#queue.length;
  }

  /**
   * SIGTERM (§1): takes no more messages (later deliveries stay unacknowledged, so edgeHub redelivers
   * them), finishes the ones taken, then closes the twin, the HTTP endpoint, the model and the
   * connection. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#connection?.acks.stopTaking();
      this.#abort.abort(new Error('The edge module is stopping'));
      if (this.inFlight > 0) {
        this.#logger.info({ inFlight: this.inFlight }, 'stopping: finishing messages in flight');
        await new Promise<void>((resolve) => (this.#idle = resolve));
      }
      await this.#twin?.close().catch(() => undefined);
      // Closing the endpoint closes its runtime view, which closes the slot.
      await this.#http?.close({ graceMs: 5000 }).catch(() => undefined);
      await this.slot.close().catch(() => undefined);
      const client = this.#connection?.client;
      if (client) {
        client.removeAllListeners('disconnect');
        await client.close().catch(() => undefined);
      }
      this.#logger.info(this.stats.snapshot(), 'stopped');
    })();
    return this.#stopping;
  }

  #onInput(acks: InputAcks, input: string, msg: Message): void {
    const ack = acks.claim(msg.data as Buffer);
    if (this.#stopping) {
      ack?.abandon();
      return;
    }
    if (!this.#inputs.has(input)) {
      this.#logger.warn({ input, messageId: msg.messageId || undefined }, 'message on an input the module does not score; acknowledged and dropped');
      ack?.done();
      return;
    }
    this.stats.received();
    this.#queue.push({ input, message: inbound(msg), ack });
    this.#pump();
  }

  #pump(): void {
    while (this.#active < this.#edge.maxInFlight && this.#queue.length > 0) {
      const job = this.#queue.shift() as Job;
      this.#active++;
      void this.#process(job).finally(() => {
        this.#active--;
        this.#pump();
        if (this.inFlight === 0 && this.#idle) this.#idle();
      });
    }
  }

  async #process(job: Job): Promise<void> {
    const m = job.message;
    const log = this.#logger.child({ messageId: m.messageId, correlationId: m.correlationId, input: job.input });
    let out: OutboundMessage;
    let output: string;
    let ok = false;
    try {
      const req = decodeInput(m, this.#edge);
      const t0 = performance.now();
      const { result, model } = await this.slot.score(req);
      const scoreMs = performance.now() - t0;
      this.stats.scored(scoreMs);
      out = resultMessage(m, { body: result.body, modelName: model.name, modelVersion: model.version, scoreMs, carry: this.#edge.carryProperties });
      if (out.body.length > MAX_RESULT_BYTES) {
        throw edgeError('FERRY_E_EDGE_RESULT_TOO_LARGE', `The result is ${out.body.length} bytes; edgeHub takes at most 256 KiB per message`, { details: { bytes: out.body.length } });
      }
      output = this.#edge.output;
      ok = true;
      log.debug({ model: model.id, scoreMs }, 'scored');
    } catch (e) {
      this.stats.failed();
      out = errorMessage(m, e, this.#edge.carryProperties);
      output = this.#edge.errorOutput;
      log.warn({ code: isFerryError(e) ? e.code : undefined, err: isFerryError(e) ? e.reason : e }, 'message not scored; error sent');
    }
    if (await this.#send(output, out, log)) {
      if (ok) this.stats.sent();
      job.ack?.done();
    } else {
      job.ack?.abandon();
    }
  }

  /** Hands a message to edgeHub, retrying until it is accepted; false if the connection went away for good. */
  async #send(output: string, out: OutboundMessage, log: Logger): Promise<boolean> {
    const msg = new device.Message(out.body);
    msg.messageId = randomUUID();
    if (out.correlationId !== undefined) msg.correlationId = out.correlationId;
    msg.contentType = out.contentType;
    msg.contentEncoding = out.contentEncoding;
    for (const [k, v] of Object.entries(out.properties)) msg.properties.add(k, v);
    const client = this.#connection?.client;
    if (!client) return false;
    for (let attempt = 1; ; attempt++) {
      try {
        await client.sendOutputEvent(output, msg);
        return true;
      } catch (err) {
        // The SDK retried for its operation timeout already; keep the input until edgeHub takes the answer.
        if (attempt >= 20) {
          log.error({ err: (err as Error).message, output }, 'sending the result failed; the input stays unacknowledged');
          return false;
        }
        log.warn({ err: (err as Error).message, output, attempt }, 'sending the result failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  }

  /** The SDK gave up reconnecting (it emits 'disconnect' then): reopen the same client with backoff. */
  #reconnect(client: ModuleClient): void {
    if (this.#reconnecting || this.#stopping) return;
    this.#reconnecting = true;
    this.#logger.warn('disconnected from edgeHub; reconnecting');
    void (async () => {
      for (let attempt = 1; !this.#stopping; attempt++) {
        try {
          await client.open();
          this.#logger.info({ attempt }, 'reconnected to edgeHub');
          break;
        } catch (err) {
          const delay = Math.min(10_000, 200 * 2 ** Math.min(attempt, 16)) * (0.5 + Math.random() / 2);
          this.#logger.warn({ code: 'FERRY_E_EDGE_CONNECT_FAILED', attempt, retryInMs: Math.round(delay), err: (err as Error).message }, 'reconnecting to edgeHub failed; retrying');
          await new Promise((r) => setTimeout(r, delay));
        }
      }
      this.#reconnecting = false;
    })();
  }
}

function inbound(msg: Message): InboundMessage {
  const properties: Record<string, string> = {};
  const bag = msg.properties;
  for (let i = 0; i < bag.count(); i++) {
    const item = bag.getItem(i);
    if (item) properties[item.key] = String(item.value);
  }
  return {
    data: Buffer.isBuffer(msg.data) ? msg.data : Buffer.from(String(msg.data ?? '')),
    messageId: msg.messageId || undefined,
    correlationId: msg.correlationId || undefined,
    contentType: msg.contentType || undefined,
    contentEncoding: msg.contentEncoding || undefined,
    properties,
  };
}
