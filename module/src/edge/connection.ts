/**
 * Connecting to edgeHub (issue 4 §1): `ModuleClient.fromEnvironment(Mqtt)` with either environment
 * path (PROTOCOLS.md §1: EdgeHubConnectionString + EdgeModuleCACertificateFile, or the IOTEDGE_*
 * workload API). The SDK never retries a failed *first* connect (PROTOCOLS.md §2), so a module started
 * before edgeHub listens retries here, with a fresh client each time and exponential backoff with jitter.
 * Each client gets its PUBACK hook (input-ack.ts), TCP_NODELAY (no-delay.ts) and its listeners before
 * `open()`, so no delivery that arrives right after CONNACK (a `clean=false` session's backlog) finds
 * nobody listening and no small packet waits on Nagle's algorithm.
 */
// CommonJS packages: their exports are reachable through the default import only.
import device from 'azure-iot-device';
import type { ModuleClient } from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import type { Logger } from 'pino';
import { edgeError } from './errors.js';
import { InputAcks } from './input-ack.js';
import { noDelayOnConnect } from './no-delay.js';

export interface ConnectOptions {
  logger: Logger;
  /** Aborting stops the retries (rejects with the abort reason). */
  signal?: AbortSignal;
  /** Attaches listeners to a new client before it opens (called again for each attempt's client). */
  prepare?(client: ModuleClient, acks: InputAcks): void;
  /** First retry delay (default 200 ms), doubled per attempt up to maxDelayMs (default 10 s). */
  firstDelayMs?: number;
  maxDelayMs?: number;
  env?: Readonly<Record<string, string | undefined>>;
}

export interface ModuleConnection {
  client: ModuleClient;
  acks: InputAcks;
  /** Attempts it took (1 when edgeHub was up). */
  attempts: number;
}

/**
 * Opens a ModuleClient, retrying until edgeHub accepts it. Throws FERRY_E_EDGE_ENV_INVALID when the
 * environment names neither path (nothing to retry).
 */
export async function connectModuleClient(o: ConnectOptions): Promise<ModuleConnection> {
  const env = o.env ?? process.env;
  if (!env['EdgeHubConnectionString'] && !env['IOTEDGE_WORKLOADURI']) {
    throw edgeError('FERRY_E_EDGE_ENV_INVALID', 'Neither EdgeHubConnectionString nor IOTEDGE_WORKLOADURI is set: the module does not know where edgeHub is');
  }
  const first = o.firstDelayMs ?? 200;
  const max = o.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    o.signal?.throwIfAborted();
    let client: ModuleClient | undefined;
    try {
      client = await device.ModuleClient.fromEnvironment(deviceMqtt.Mqtt);
      const acks = InputAcks.install(client);
      noDelayOnConnect(client);
      // Errors of features enabled by listeners surface here; the connect result is what counts.
      client.on('error', (err: Error) => o.logger.debug({ err }, 'module client error'));
      o.prepare?.(client, acks);
      await client.open();
      return { client, acks, attempts: attempt };
    } catch (err) {
      if (client) {
        client.removeAllListeners('inputMessage');
        await client.close().catch(() => undefined);
      }
      const delay = Math.min(max, first * 2 ** Math.min(attempt - 1, 16)) * (0.5 + Math.random() / 2);
      const wrapped = edgeError('FERRY_E_EDGE_CONNECT_FAILED', `Connecting to edgeHub failed (attempt ${attempt}): ${(err as Error)?.message ?? String(err)}`, { cause: err, details: { attempt } });
      o.logger.warn({ code: wrapped.code, attempt, retryInMs: Math.round(delay), err: (err as Error)?.message }, 'edgeHub not reachable; retrying');
      await sleep(delay, o.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
