/** The client side of a simulation's control socket (JSON over HTTP on a unix socket), used by the CLI. */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { FerryError } from '@ferry/deployment-manifests';
import { simulatorCatalogue, simulatorError } from '../errors.js';
import { controlSocketPath } from './simulation-paths.js';

export class ControlClient {
  readonly #socketPath: string;
  readonly #name: string;

  constructor(socketPath: string, name = socketPath) {
    this.#socketPath = socketPath;
    this.#name = name;
  }

  /** The client of the simulation `name` under `workspace`. */
  static forSimulation(workspace: string, name: string): ControlClient {
    return new ControlClient(controlSocketPath(workspace, name), name);
  }

  get socketPath(): string {
    return this.#socketPath;
  }

  /** One JSON request; resolves to the JSON answer, rethrows the simulation's coded errors; FERRY_E_SIM_NOT_RUNNING when nobody answers. */
  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.#open(method, path, body);
    const text = await readAll(res);
    const doc = parseJson(text);
    if ((res.statusCode ?? 500) >= 400) throw remoteError(res.statusCode ?? 500, doc, text);
    return doc as T;
  }

  /**
   * A streaming request (NDJSON answer): calls `onItem` for each line until the simulation ends the
   * stream or `signal` aborts (then resolves).
   */
  async stream(path: string, onItem: (item: unknown) => void, signal?: AbortSignal): Promise<void> {
    const res = await this.#open('GET', path, undefined, signal);
    if ((res.statusCode ?? 500) >= 400) {
      const text = await readAll(res);
      throw remoteError(res.statusCode ?? 500, parseJson(text), text);
    }
    let rest = '';
    await new Promise<void>((resolve, reject) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        rest += chunk;
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          const line = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          if (line.trim() !== '') onItem(JSON.parse(line));
        }
      });
      res.on('end', resolve);
      res.on('close', resolve);
      res.on('error', (e) => (signal?.aborted ? resolve() : reject(e)));
    });
  }

  #open(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        socketPath: this.#socketPath,
        method,
        path,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        ...(signal ? { signal } : {}),
      }, resolve);
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ENOTSOCK') {
          reject(simulatorError('FERRY_E_SIM_NOT_RUNNING', `No simulation "${this.#name}" is running (nothing answers on ${this.#socketPath}).`, { cause: e, details: { name: this.#name, socket: this.#socketPath } }));
        } else reject(e);
      });
      req.end(payload);
    });
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The simulation's `{"error": {code, message, details}}` as a FerryError with the same code and message. */
function remoteError(status: number, doc: unknown, text: string): FerryError {
  const error = (doc as { error?: { code?: unknown; message?: unknown; details?: Record<string, unknown> } } | undefined)?.error;
  if (error && typeof error.code === 'string' && error.code.startsWith('FERRY_E_') && typeof error.message === 'string') {
    const known = (simulatorCatalogue as Record<string, { status: number } | undefined>)[error.code];
    return new FerryError(error.code as `FERRY_E_${string}`, error.message, { status: known?.status ?? status, hint: '' }, error.details ? { details: error.details } : {});
  }
  return simulatorError('FERRY_E_SIM_CONTROL_REQUEST_INVALID', `The simulation answered ${status}: ${text.slice(0, 200)}`);
}
