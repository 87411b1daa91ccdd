/**
 * azure-iot-device-mqtt 1.16 logs every incoming message with `debug(JSON.stringify(payload.toString()))`
 * (mqtt.js `_dispatchMqttMessage`), and the arguments are built even when debug output is off: for a 110 KB
 * raw tensor that is a UTF-8 decode plus a JSON escape of the whole body, ~1.2 ms of the main thread per
 * message. While `DEBUG` does not ask for the SDK's output, an input payload answers an argument-less
 * `toString()` with a short description instead; `toString('utf8')`, byte access and everything else the
 * module does with it are unchanged.
 */
const sdkDebugOn = /azure-iot|(^|,)\*($|,)/.test(process.env['DEBUG'] ?? '');

function describe(this: Buffer, ...args: unknown[]): string {
  if (args.length === 0) return `<${this.length} bytes>`;
  return (Buffer.prototype.toString as (...a: unknown[]) => string).apply(this, args);
}

/** Makes the SDK's eager debug string of this payload cheap (nothing changes when its debug output is on). */
export function quietPayload(payload: Buffer): void {
  if (sdkDebugOn) return;
  Object.defineProperty(payload, 'toString', { value: describe, enumerable: false, configurable: true, writable: true });
}
