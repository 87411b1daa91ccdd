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
  FERRY_E_SIM_INJECT_INVALID: { status: 400, hint: 'POST /api/v1/messages takes JSON `{"inputName": "<input>", "data": "<body>"}` (optional "properties" object, "messageId", "correlationId", "userId" strings), as iotedgehubdev does (the dashboard\'s POST /api/messages takes the same plus "moduleId", with Content-Type: application/json); input names given to `ferry simulate -i` are 1-128 letters, digits, _ . -.' },
  FERRY_E_SIM_INPUT_UNKNOWN: { status: 404, hint: 'Send to one of the inputs given to `ferry simulate -i <inputs>` (names are case-sensitive), or restart it with that input added; on the dashboard, to an input a route of the manifest sends to.' },
  FERRY_E_SIM_DASHBOARD_REQUEST_INVALID: { status: 400, hint: 'The dashboard answers GET /, GET /api/state and POST /api/messages (JSON) on a loopback address (127.0.0.1, localhost or [::1]), to its own page only; open the URL `ferry simulate` printed.' },
  // Running a solution (simulator/src/solution): the simulation and its control socket
  FERRY_E_SIM_NOT_RUNNING: { status: 503, hint: 'Start it with `ferry simulate -d <deployment.json> [--name <name>]`, or pass the --name of a running simulation (and the same --workspace).' },
  FERRY_E_SIM_ALREADY_RUNNING: { status: 409, hint: 'Stop the other simulation of that name first, or start this one under another --name (and other ports).' },
  FERRY_E_SIM_SOLUTION_INVALID: { status: 400, hint: 'A solution file is JSON `{"modules": {"<module>": {"command": ["program", "arg", ...], "cwd": "<dir>"}}}`; command is a non-empty array of strings, cwd (optional) is relative to the solution file.' },
  FERRY_E_SIM_CONTROL_REQUEST_INVALID: { status: 400, hint: 'The control socket answers GET /status, GET /logs/<module>, GET|PATCH /twins/<module>, POST /methods/<module>/<method>, GET /monitor and GET /modulecred/<module>, with JSON bodies; use the ferry commands (status, logs, twin, invoke, monitor).' },
  // Module launcher (simulator/src/launcher)
  FERRY_E_SIM_MODULE_SPEC_INVALID: { status: 400, hint: 'Each module needs an id matching ^[a-zA-Z0-9_-]+$ (once), a startupOrder from 0 to 4294967295, a restartPolicy of never, on-failure, on-unhealthy or always, a status of running or stopped, string env values, and a non-empty command or image.' },
  FERRY_E_SIM_MODULE_UNKNOWN: { status: 404, hint: '`ferry status` lists the modules the simulator runs.' },
  FERRY_E_SIM_MODULE_START_FAILED: { status: 500, hint: 'Check that the module\'s command exists and is executable (it is run without a shell, so give the program and its arguments separately) and that its working directory exists.' },
  FERRY_E_SIM_DOCKER_UNAVAILABLE: { status: 503, hint: 'Container modules need a reachable Docker engine (DOCKER_HOST=unix:///path or tcp://host:port, else /var/run/docker.sock); start one, or give the module a process entry (a command) in the solution file to run it without Docker.' },
  FERRY_E_SIM_IMAGE_MISSING: { status: 404, hint: 'The simulator runs offline and never pulls: build, load (`docker load`) or import the image into the engine first, or give the module a process entry in the solution file.' },
  FERRY_E_SIM_CONTAINER_FAILED: { status: 500, hint: 'The Docker engine refused the container (the message has its reason): check the module\'s createOptions (Env and Cmd are arrays of strings, Binds host paths are absolute and exist).' },
  FERRY_E_SIM_CONTAINER_OPTION_IGNORED: { status: 400, hint: 'Container modules run on the host network: a module listens on its own port on the host, so map each container port to the same host port (or drop the PortBindings and NetworkMode).' },
  FERRY_E_SIM_LAUNCHER_STATE: { status: 409, hint: 'A launcher starts one solution once; make a new launcher (or restart `ferry simulate`) to start another.' },
  // Twins and methods (simulator/src/twins, simulator/src/methods)
  FERRY_E_SIM_TWIN_PATCH_INVALID: { status: 400, hint: 'A twin patch is a JSON object; property names must not start with `$` nor hold `.`, spaces or control characters (at most 1 KB), strings are at most 4 KB, objects nest at most 10 levels; null deletes a property.' },
  FERRY_E_SIM_TWIN_TOO_LARGE: { status: 413, hint: 'The desired and reported sections of a twin are at most 32 KB each (their JSON); store less in the twin, or delete properties with null.' },
  FERRY_E_SIM_METHOD_REQUEST_INVALID: { status: 400, hint: 'A method call needs a method name without `/`, `#`, `+` or `?`, a JSON body `{"methodName", "payload", "responseTimeoutInSeconds", "connectTimeoutInSeconds"}` with timeouts of 0-300 s, and the header `x-ms-edge-moduleId: <device>/<module>`, as ModuleClient.invokeMethod sends.' },
  FERRY_E_SIM_METHOD_PAYLOAD_TOO_LARGE: { status: 413, hint: 'A direct method\'s request and response payloads are at most 128 KB of JSON each; send less.' },
  FERRY_E_SIM_METHOD_TARGET_OFFLINE: { status: 404, hint: 'The module is not connected or has not registered a method handler (onMethod) yet (IoT Hub\'s DeviceNotOnline); start it, or pass a connect timeout to wait for it.' },
  FERRY_E_SIM_METHOD_TIMEOUT: { status: 504, hint: 'The module did not answer within the response timeout (IoT Hub\'s GatewayTimeout); check that its handler calls response.send, or raise the timeout (at most 300 s).' },
  FERRY_E_SIM_IOTHUB_INVALID: { status: 400, hint: 'Give `--iothub` a device connection string `HostName=<hub>.azure-devices.net;DeviceId=<device>;SharedAccessKey=<key>` (az iot hub device-identity connection-string show), and `--iothub-ca` a readable PEM file.' },
});

export type SimulatorErrorCode = keyof typeof simulatorCatalogue;
