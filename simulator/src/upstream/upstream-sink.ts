/** Where `$upstream` delivers (issue 3 §5): the local IoT Hub, later a real one through the SDK, behind one interface. */

/** A device-to-cloud message as the router hands it upstream. */
export interface UpstreamMessage {
  /** Application properties. */
  readonly properties: Readonly<Record<string, string>>;
  /** System properties by their route-language names, with `connectionDeviceId` and `connectionModuleId` of the sender. */
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  /** When edgeHub accepted the message, ms since the epoch. */
  readonly enqueuedAt: number;
}

/**
 * An upstream endpoint. `send` resolves once the upstream has taken every message of the batch (then the
 * router acknowledges them in the store) and rejects when it could not (the router retries them later, in order).
 */
export interface UpstreamSink {
  send(messages: readonly UpstreamMessage[]): Promise<void>;
}
