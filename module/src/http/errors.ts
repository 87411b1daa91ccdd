/**
 * Codes of the local scoring service's HTTP layer (routes, auth, body limits, lifecycle, service keys).
 * Scoring errors (validation, queue, timeouts, entry scripts) come from the runtime's own catalogue and
 * pass through unchanged; a draining server answers with the runtime's FERRY_E_SHUTTING_DOWN too. Keep docs/errors.md ("Scoring service (HTTP)") in step: a test compares them.
 */
import { defineCatalogue } from '../errors.js';

export const { catalogue: httpCatalogue, error: httpError } = defineCatalogue({
  FERRY_E_NOT_READY: { status: 503, hint: 'The models are still loading; retry after the Retry-After delay, or poll GET /healthz until it answers 200.' },
  FERRY_E_RUNTIME_FAILED: { status: 503, hint: 'The scoring runtime failed to start; read the server log for the cause, fix it and restart `ferry serve`.' },
  FERRY_E_ROUTE_NOT_FOUND: { status: 404, hint: 'The service answers GET /, POST|GET /score, GET /swagger.json, GET /healthz and GET /metrics.' },
  FERRY_E_METHOD_NOT_ALLOWED: { status: 405, hint: 'Use one of the methods in the Allow header.' },
  FERRY_E_UNSUPPORTED_MEDIA_TYPE: { status: 415, hint: 'Send JSON with `Content-Type: application/json`, or raw bytes with `Content-Type: application/octet-stream` to a single-input model.' },
  FERRY_E_BODY_TOO_LARGE: { status: 413, hint: 'Send a smaller body, split the batch into several requests, or start the service with a larger body limit.' },
  FERRY_E_KEY_MISSING: { status: 401, hint: 'Send `Authorization: Bearer <key>` with the primary or secondary key (`ferry keys show <config>`).' },
  FERRY_E_KEY_INVALID: { status: 401, hint: 'The key is not the service\'s primary or secondary key; it may have been regenerated. Get the current keys with `ferry keys show <config>`.' },
  FERRY_E_REQUEST_ID_TOO_LONG: { status: 431, hint: 'Send an x-request-id of at most 100 characters.' },
  FERRY_E_SHAPE_HEADER_INVALID: { status: 400, hint: 'Give the shape of a raw body as comma-separated non-negative integers, for example `X-Ferry-Shape: 1,3,48,192`.' },
  FERRY_E_SWAGGER_VERSION_UNKNOWN: { status: 404, hint: 'Ask for GET /swagger.json?version=2 (Swagger 2, the default) or ?version=3 (OpenAPI 3).' },
  FERRY_E_INTERNAL: { status: 500, hint: 'This is a bug in Ferry: the server log has the details; please report it.' },
  FERRY_E_LISTEN_FAILED: { status: 500, hint: 'Choose another port with --port (0 picks a free one) or host with --host, or stop the process that holds it.' },
  FERRY_E_SERVICE_NAME_INVALID: { status: 400, hint: 'Name services like models: start with a letter or digit, then letters, digits, `-`, `.` or `_` (at most 255 characters).' },
  FERRY_E_KEYS_FILE_INVALID: { status: 500, hint: 'The service keys file (path in the message) is unreadable or damaged; delete it to get a new key pair on the next `ferry serve` or `ferry keys show`.' },
});

export type HttpErrorCode = keyof typeof httpCatalogue;
