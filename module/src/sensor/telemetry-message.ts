/**
 * A reading as an IoT Hub message (issue 4 §4): a JSON body with content type application/json and encoding
 * utf-8 (so edgeHub routes can read `$body`, PROTOCOLS.md §6), a fresh messageId (the scorer's results carry it
 * as their correlationId), and application properties `anomaly` ("true"/"false": the ground truth) and
 * `sequence`.
 */
import { randomUUID } from 'node:crypto';
import device from 'azure-iot-device';
import type { GeneratedReading } from './telemetry-generator.js';

export function telemetryMessage(generated: GeneratedReading, messageId: string = randomUUID()): device.Message {
  const message = new device.Message(JSON.stringify(generated.reading));
  message.messageId = messageId;
  message.contentType = 'application/json';
  message.contentEncoding = 'utf-8';
  message.properties.add('anomaly', generated.anomaly === null ? 'false' : 'true');
  if (generated.anomaly !== null) message.properties.add('anomalyKind', generated.anomaly);
  message.properties.add('sequence', String(generated.sequence));
  return message;
}
