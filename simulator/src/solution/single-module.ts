/**
 * Single-module mode, compatible with iotedgehubdev (issue 3 §6): `ferry simulate -i input1,input2`.
 *
 * iotedgehubdev's `start -i` (edgemanager.py start_singlemodule) runs edgeHub with one module called `target`
 * (started by hand with `modulecred`'s lines) and a helper module called `input` whose HTTP API
 * (`POST /api/v1/messages`, port 3000 published as 53000) sends `{"inputName", "data"}` as an output named
 * after the input; a route per input takes `input`'s output `<i>` to `target`'s input `<i>`, and
 * `target`'s outputs go back to the helper, which prints them.
 *
 * Ferry builds the same on Simulation: a manifest with `target` and `input` (both `stopped`: the launcher
 * never starts them), the routes `FROM /messages/modules/input/outputs/<i> INTO
 * BrokeredEndpoint("/modules/target/inputs/<i>")`, and `FROM /messages/modules/target/outputs/* INTO
 * $upstream` so the module's messages reach the local IoT Hub (`onOutput`). A POST goes through the router
 * as an output of `input`: stored durably before the answer, delivered when `target` is connected and
 * subscribed (nothing is lost when the module starts later).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deploymentDocument, parseDeploymentManifest, type DeploymentManifest } from '@ferry/deployment-manifests';
import { isFerryErrorLike } from '../broker/coded.js';
import type { ClientMessage } from '../broker/edge-broker.js';
import { simulatorError } from '../errors.js';
import type { CloudMessage } from '../upstream/local-iot-hub.js';
import { injectedMessage, parseInjectRequest, readInjectBody } from './inject-request.js';
import { Simulation, type SimulationOptions } from './simulation.js';

/** The module iotedgehubdev's single-module mode simulates (edgemanager.py _generateRoutesEnvFromInputs). */
export const SINGLE_MODULE_ID = 'target';
/** The module whose outputs carry the injected messages (iotedgehubdev's testing-utility container `input`). */
export const INJECTOR_MODULE_ID = 'input';
/** iotedgehubdev's default `--port` of `start -i`. */
export const DEFAULT_SINGLE_MODULE_PORT = 53000;
export const MESSAGES_API_PATH = '/api/v1/messages';

/** Input names usable in a route's BrokeredEndpoint string and an MQTT topic level. */
const INPUT_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

export interface SingleModuleOptions extends Omit<SimulationOptions, 'manifest' | 'solution'> {
  /** The module's input names (at least one). */
  readonly inputs: readonly string[];
  /** Port of the messages API (default 53000; 0 picks a free one). */
  readonly port?: number;
  /** Interface of the messages API (default 127.0.0.1). */
  readonly apiHost?: string;
}

export interface InjectResult {
  readonly inputName: string;
  readonly messageId: string;
}

/** The manifest single-module mode runs: `target` with the given inputs, fed by `input`'s outputs. */
export function singleModuleManifest(inputs: readonly string[]): DeploymentManifest {
  const names = checkInputs(inputs);
  const routes: Record<string, string> = {
    output: `FROM /messages/modules/${SINGLE_MODULE_ID}/outputs/* INTO $upstream`,
  };
  names.forEach((input, i) => {
    routes[`r${i + 1}`] = `FROM /messages/modules/${INJECTOR_MODULE_ID}/outputs/${input} INTO BrokeredEndpoint("/modules/${SINGLE_MODULE_ID}/inputs/${input}")`;
  });
  const stopped = { status: 'stopped', restartPolicy: 'never' } as const;
  return parseDeploymentManifest(deploymentDocument({
    modules: { [SINGLE_MODULE_ID]: { ...stopped, image: 'ferry/target:local' }, [INJECTOR_MODULE_ID]: { ...stopped, image: 'ferry/input:local' } },
    routes,
  }), 'single-module manifest');
}

export class SingleModuleSimulation {
  readonly simulation: Simulation;
  readonly moduleId = SINGLE_MODULE_ID;
  readonly inputs: readonly string[];
  readonly #server: Server;
  #stopping: Promise<void> | undefined;

  private constructor(simulation: Simulation, inputs: readonly string[], server: Server) {
    this.simulation = simulation;
    this.inputs = inputs;
    this.#server = server;
  }

  /** Starts the simulation, then the messages API; FERRY_E_SIM_LISTEN_FAILED when its port is taken. */
  static async start(options: SingleModuleOptions): Promise<SingleModuleSimulation> {
    const { inputs, port, apiHost, ...rest } = options;
    const manifest = singleModuleManifest(inputs);
    const simulation = await Simulation.start({ ...rest, manifest });
    const late: { self?: SingleModuleSimulation } = {};
    const server = createServer((req, res) => {
      if (!late.self) return answer(res, 503, { message: 'Starting.' });
      late.self.#handle(req, res).catch((e: unknown) => answerError(res, e));
    });
    try {
      await listen(server, port ?? DEFAULT_SINGLE_MODULE_PORT, apiHost ?? '127.0.0.1');
    } catch (e) {
      await simulation.stop();
      throw e;
    }
    late.self = new SingleModuleSimulation(simulation, [...new Set(inputs)], server);
    return late.self;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** The messages API, e.g. http://127.0.0.1:53000/api/v1/messages. */
  get url(): string {
    const a = this.#server.address() as AddressInfo;
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}${MESSAGES_API_PATH}`;
  }

  /**
   * Sends a message to one of the module's inputs; resolves once it is stored (it reaches the module when
   * the module is connected and subscribed). FERRY_E_SIM_INJECT_INVALID, FERRY_E_SIM_INPUT_UNKNOWN,
   * FERRY_E_SIM_MESSAGE_TOO_LARGE.
   */
  async inject(body: unknown): Promise<InjectResult> {
    const request = parseInjectRequest(body);
    if (!this.inputs.includes(request.inputName)) {
      throw simulatorError('FERRY_E_SIM_INPUT_UNKNOWN', `The module has no input "${request.inputName}" (inputs: ${this.inputs.join(', ')}).`, { details: { inputName: request.inputName, inputs: [...this.inputs] } });
    }
    const deviceId = this.simulation.identities.deviceId;
    const { message: made, messageId } = injectedMessage(request, { deviceId, moduleId: INJECTOR_MODULE_ID }, { outputName: request.inputName });
    // As if the `input` module had published it on its output (PROTOCOLS.md §3), so the routes take it.
    const message: ClientMessage = {
      clientId: `${deviceId}/${INJECTOR_MODULE_ID}`,
      deviceId,
      moduleId: INJECTOR_MODULE_ID,
      kind: 'output',
      output: request.inputName,
      properties: made.properties,
      systemProperties: made.systemProperties,
      body: Buffer.from(made.body.buffer, made.body.byteOffset, made.body.byteLength),
      qos: 1,
    };
    await this.simulation.router.accept(message);
    return { inputName: request.inputName, messageId };
  }

  /** Every message the module sends (its outputs, routed to $upstream). Returns the unsubscribe. */
  onOutput(listener: (m: CloudMessage) => void): () => void {
    return this.simulation.onUpstream((m) => {
      if (m.moduleId === SINGLE_MODULE_ID) listener(m);
    });
  }

  /** The `EdgeHubConnectionString=` and `EdgeModuleCACertificateFile=` values for the module. */
  moduleCredentials(): ReturnType<Simulation['moduleCredentials']> {
    return this.simulation.moduleCredentials(SINGLE_MODULE_ID);
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#server.closeAllConnections();
      await new Promise<void>((resolve) => this.#server.close(() => resolve()));
      await this.simulation.stop();
    })();
    return this.#stopping;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== MESSAGES_API_PATH) return answer(res, 404, { message: `Not found: the API is POST ${MESSAGES_API_PATH}.`, code: 'FERRY_E_SIM_INJECT_INVALID' });
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return answer(res, 405, { message: `${req.method ?? ''} is not allowed; POST ${MESSAGES_API_PATH}.`, code: 'FERRY_E_SIM_INJECT_INVALID' });
    }
    const text = await readInjectBody(req);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw simulatorError('FERRY_E_SIM_INJECT_INVALID', 'The request body is not JSON.');
    }
    const result = await this.inject(body);
    answer(res, 200, result);
  }
}

function checkInputs(inputs: readonly string[]): string[] {
  const names = [...new Set(inputs)];
  if (names.length === 0) throw simulatorError('FERRY_E_SIM_INJECT_INVALID', 'Single-module mode needs at least one input name.');
  for (const name of names) {
    if (!INPUT_NAME.test(name)) throw simulatorError('FERRY_E_SIM_INJECT_INVALID', `"${name}" is not an input name (1-128 letters, digits, _ . -).`, { details: { inputName: name } });
  }
  return names;
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

function answerError(res: ServerResponse, e: unknown): void {
  if (isFerryErrorLike(e)) {
    const details = (e as { details?: unknown }).details;
    answer(res, e.status, { message: e.message, code: e.code, ...(details ? { details } : {}) });
  }
  else answer(res, 500, { message: (e as Error).message ?? String(e) });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (cause: Error): void => reject(simulatorError('FERRY_E_SIM_LISTEN_FAILED', `The messages API cannot listen on ${host}:${port}: ${cause.message}`, { cause, details: { port } }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
