/**
 * `$upstream` to a real IoT Hub (issue 3 §5, `ferry simulate --iothub <connection string>`): a thin adapter
 * behind UpstreamSink over the unmodified azure-iot-device `Client` with the `Mqtt` transport.
 *
 * - One device connection (`HostName=..;DeviceId=..;SharedAccessKey=..`, optionally `GatewayHostName=host:port`
 *   for a private hub or another edge gateway). The SDK's own retries are off (NoRetry): a failed send rejects at
 *   once and the router keeps the messages and retries them in order (store-and-forward stays Ferry's).
 * - Each message keeps its application properties and the system properties the SDK can set: messageId,
 *   correlationId, userId, contentType, contentEncoding (PROTOCOLS.md §1-2). IoT Hub knows the sender only from the
 *   connection, and a device connection cannot speak for a module: the sending module and its output travel as
 *   the application properties `connectionModuleId` and `outputName` (unless the message already has them).
 * - `send` publishes a batch at QoS 1 in order and resolves once IoT Hub acknowledged every message.
 */
import { readFileSync } from 'node:fs';
import common from 'azure-iot-common';
import device from 'azure-iot-device';
import type { Client as ClientType } from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { simulatorError } from '../errors.js';
import type { UpstreamMessage, UpstreamSink } from './upstream-sink.js';

const { Client, Message } = device;
const { Mqtt } = deviceMqtt;
const { NoRetry } = common;

/** System properties (route-language names) the SDK's Message carries, to its field names. */
const SYSTEM_FIELDS = ['messageId', 'correlationId', 'userId', 'contentType', 'contentEncoding'] as const;
/** System properties kept as application properties, since a device connection cannot set them. */
const ORIGIN_PROPERTIES = ['connectionModuleId', 'outputName'] as const;

export interface IotHubUpstreamOptions {
  /** A device connection string: `HostName=<hub>;DeviceId=<device>;SharedAccessKey=<key>[;GatewayHostName=<host[:port]>]`. */
  readonly connectionString: string;
  /** A PEM file of CA certificates to trust besides Node's (a private hub or gateway); NODE_EXTRA_CA_CERTS works too. */
  readonly caFile?: string;
}

export class IotHubUpstream implements UpstreamSink {
  readonly #client: ClientType;
  readonly #ready: Promise<void>;
  readonly hostName: string;
  readonly deviceId: string;
  #sent = 0;
  #failed = 0;
  #lastError: Error | undefined;
  #closed = false;

  private constructor(client: ClientType, ready: Promise<void>, hostName: string, deviceId: string) {
    this.#client = client;
    this.#ready = ready;
    this.hostName = hostName;
    this.deviceId = deviceId;
    client.on('error', (e: Error) => {
      this.#lastError = e;
    });
    client.on('disconnect', () => undefined);
  }

  /**
   * Makes the adapter (it connects on the first send). Throws FERRY_E_SIM_IOTHUB_INVALID for a connection
   * string that is not a device's with a shared access key, or a CA file that cannot be read.
   */
  static create(options: IotHubUpstreamOptions): IotHubUpstream {
    const fields = parseConnectionString(options.connectionString);
    const hostName = fields.get('HostName');
    const deviceId = fields.get('DeviceId');
    const missing = ['HostName', 'DeviceId', 'SharedAccessKey'].filter((k) => !fields.get(k));
    if (missing.length > 0 || fields.has('ModuleId') || hostName === undefined || deviceId === undefined) {
      const why = fields.has('ModuleId') ? 'it is a module connection string (ModuleId=...)' : `it lacks ${missing.join(', ')}`;
      throw simulatorError('FERRY_E_SIM_IOTHUB_INVALID', `The --iothub connection string cannot be used: ${why}.`, { details: { missing } });
    }
    let ca: string | undefined;
    if (options.caFile !== undefined) {
      try {
        ca = readFileSync(options.caFile, 'utf8');
      } catch (cause) {
        throw simulatorError('FERRY_E_SIM_IOTHUB_INVALID', `Cannot read the CA file ${options.caFile}.`, { cause, details: { caFile: options.caFile } });
      }
    }
    const client = Client.fromConnectionString(options.connectionString, Mqtt);
    // The router retries; the SDK's own retries would hold a batch for minutes.
    client.setRetryPolicy(new NoRetry());
    // internal_client.setOptions reads `ca` as a file path and falls back to the text itself (PEM here).
    const ready = ca === undefined ? Promise.resolve() : client.setOptions({ ca }).then(() => undefined);
    return new IotHubUpstream(client, ready, hostName, deviceId);
  }

  /** Messages IoT Hub acknowledged. */
  get sent(): number {
    return this.#sent;
  }

  /** Batches that failed (and that the router will send again). */
  get failed(): number {
    return this.#failed;
  }

  /** The last error the client reported, if any. */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  async send(messages: readonly UpstreamMessage[]): Promise<void> {
    if (this.#closed) throw simulatorError('FERRY_E_SIM_CLIENT_OFFLINE', 'The IoT Hub upstream is closed.');
    await this.#ready;
    // MQTT publishes go out in call order on one connection; each resolves on its PUBACK.
    const acks = messages.map((m) => this.#client.sendEvent(toSdkMessage(m)));
    try {
      await Promise.all(acks);
    } catch (e) {
      this.#failed++;
      this.#lastError = e as Error;
      // Let the other publishes settle (their errors are the same failure).
      await Promise.allSettled(acks);
      throw e;
    }
    this.#sent += messages.length;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.close().catch(() => undefined);
  }
}

function toSdkMessage(m: UpstreamMessage): InstanceType<typeof Message> {
  const message = new Message(Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength));
  const system = message as unknown as Record<(typeof SYSTEM_FIELDS)[number], string>;
  for (const field of SYSTEM_FIELDS) {
    const value = m.systemProperties[field];
    if (value !== undefined && value !== '') system[field] = value;
  }
  for (const [key, value] of Object.entries(m.properties)) message.properties.add(key, value);
  for (const key of ORIGIN_PROPERTIES) {
    const value = m.systemProperties[key];
    if (value !== undefined && value !== '' && m.properties[key] === undefined) message.properties.add(key, value);
  }
  return message;
}

/** `Key=value;Key=value` (a value may hold '='). */
function parseConnectionString(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return fields;
}
