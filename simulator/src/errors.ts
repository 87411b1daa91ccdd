/**
 * The simulator's coded errors (see module/src/errors.ts for the pattern; the machinery lives in
 * @ferry/deployment-manifests, the only Ferry package the simulator may import).
 * Keep docs/errors.md ("Simulator: ..." sections) in step: a test compares them.
 */
import { defineCatalogue } from '@ferry/deployment-manifests';

export const { catalogue: simulatorCatalogue, error: simulatorError } = defineCatalogue({
  // Broker and identities (simulator/src/broker, identity, certificates, workload)
  FERRY_E_SIM_IDENTITY_UNKNOWN: { status: 404, hint: 'The simulator has no identity for this device or module; modules get one when the simulator starts them (or with `ferry simulate modulecred -m <module>`).' },
  FERRY_E_SIM_IDENTITY_INVALID: { status: 400, hint: 'Device and module ids are 1 to 128 characters: letters, digits and - . % _ * ? ! ( ) , : = @ $ \' (IoT Hub\'s rule).' },
  FERRY_E_SIM_CONNECT_REFUSED: { status: 400, hint: 'Connect with client id `<device>/<module>` (or `<device>`) and username `<hub>/<device>[/<module>]/?api-version=...`, as the azure-iot-device SDK does.' },
  FERRY_E_SIM_TOKEN_INVALID: { status: 401, hint: 'Use the connection string the simulator printed for this module (its SharedAccessKey signs the token); a token must be `SharedAccessSignature sr=<hub>/devices/<device>[/modules/<module>]&sig=..&se=..`.' },
  FERRY_E_SIM_TOKEN_EXPIRED: { status: 401, hint: 'The SAS token\'s `se` is in the past; the SDK renews tokens itself, so check the clock or make a new token.' },
  FERRY_E_SIM_TOPIC_FORBIDDEN: { status: 403, hint: 'A client may publish only its own events, twin requests and method responses, and subscribe only to its own inputs, twin responses, desired patches and methods.' },
  FERRY_E_SIM_QOS_UNSUPPORTED: { status: 400, hint: 'IoT Hub and edgeHub take QoS 0 and 1 only; publish at QoS 1.' },
  FERRY_E_SIM_MESSAGE_MALFORMED: { status: 400, hint: 'The topic or its property bag is malformed (bad percent-encoding or a key without a name); send messages through the SDK or encode each key and value with encodeURIComponent.' },
  FERRY_E_SIM_MESSAGE_TOO_LARGE: { status: 413, hint: 'A message is at most 256 KiB, body plus all property names and values; send smaller messages.' },
  FERRY_E_SIM_CLIENT_OFFLINE: { status: 503, hint: 'The module is not connected (or has not subscribed to that topic yet); deliver again when it is.' },
  FERRY_E_SIM_LISTEN_FAILED: { status: 500, hint: 'Another process (or another simulator) uses the port or socket; pick other ports or stop the other process.' },
  FERRY_E_SIM_WORKSPACE_IO: { status: 500, hint: 'Check that the simulator workspace folder is writable and the disk is not full; the message names the file.' },
  FERRY_E_SIM_WORKLOAD_REQUEST_INVALID: { status: 400, hint: 'POST /modules/{module}/genid/{generationId}/sign takes JSON `{"keyId":"primary","algo":"HMACSHA256","data":"<base64>"}`; GET /trust-bundle takes no body.' },
  FERRY_E_SIM_WORKLOAD_ROUTE_NOT_FOUND: { status: 404, hint: 'The workload API answers GET /trust-bundle and POST /modules/{module}/genid/{generationId}/sign (with ?api-version=2018-06-28).' },
});

export type SimulatorErrorCode = keyof typeof simulatorCatalogue;
