/**
 * The edge module's catalogue (module/src/edge). Keep docs/errors.md ("Edge module") in step:
 * test/integration/error-catalogue.test.ts compares them.
 */
import { defineCatalogue } from '../errors.js';

export const { catalogue: edgeCatalogue, error: edgeError } = defineCatalogue({
  // Module config, connection and messages (issue 4 §1, §2, §7)
  FERRY_E_EDGE_CONFIG_INVALID: { status: 400, hint: 'Fix the field at details.pointer in the module config (FERRY_MODULE_CONFIG); the edge section takes inputs, output, errorOutput, carryProperties, features, batchWindowMs, maxBatchSize, maxInFlight, http, logLevel and reportIntervalMs.' },
  FERRY_E_EDGE_ENV_INVALID: { status: 400, hint: 'Set the variable named in the message: FERRY_MODULE_CONFIG is the module config path; FERRY_LOG_LEVEL one of fatal, error, warn, info, debug, trace, silent.' },
  FERRY_E_EDGE_CONNECT_FAILED: { status: 503, hint: 'edgeHub did not accept the connection; the module keeps retrying with backoff. Check EdgeHubConnectionString and EdgeModuleCACertificateFile, or the IOTEDGE_* workload variables, and that edgeHub runs.' },
  FERRY_E_EDGE_CONTENT_TYPE_UNSUPPORTED: { status: 415, hint: 'Send JSON (contentType application/json, encoding utf-8) or raw tensor bytes (application/octet-stream).' },
  FERRY_E_EDGE_BODY_UNDECODABLE: { status: 400, hint: 'The body does not match its content type and encoding: JSON bodies must be non-empty UTF-8 (or UTF-16/32 when contentEncoding says so) text.' },
  FERRY_E_EDGE_FEATURE_INVALID: { status: 400, hint: 'The value at details.pointer in the message body must be a finite number: it is one of the edge.features of the module config.' },
  FERRY_E_EDGE_RESULT_TOO_LARGE: { status: 413, hint: 'The result is larger than an edgeHub message may be (256 KiB with its properties); send fewer rows per message.' },
  FERRY_E_EDGE_SHAPE_INVALID: { status: 400, hint: 'The ferry-shape application property is a list of positive integers, such as "1,3,48,192" or "[1,3,48,192]".' },
  // Twin and direct methods (issue 4 §3)
  FERRY_E_EDGE_DESIRED_INVALID: { status: 400, hint: 'Fix the desired property named in the message: model is "name:version" or {"url": "https://...", "sha256": "<64 hex digits>"}, settings an object, batching {maxBatchSize: 1..1024, batchWindowMs: 0..1000}, logLevel one of fatal, error, warn, info, debug, trace, silent.' },
  FERRY_E_EDGE_MODEL_SUPERSEDED: { status: 409, hint: 'A newer model change arrived before this one finished loading; the newer one is applied instead. Nothing to do.' },
  FERRY_E_EDGE_METHOD_PAYLOAD_INVALID: { status: 400, hint: 'Send the payload the method expects: score takes the scoring request object ({"data": ...}), setLogLevel {"level": "<level>"}.' },
  FERRY_E_EDGE_LOG_LEVEL_INVALID: { status: 400, hint: 'Use one of the log levels fatal, error, warn, info, debug, trace or silent.' },
  FERRY_E_EDGE_METHOD_FAILED: { status: 500, hint: 'The method failed unexpectedly; see the module log for the stack.' },
});
