/**
 * Direct methods with the real azure-iot-device clients: `invoke` reaches a module's onMethod handler
 * over MQTT; timeouts, offline and unknown modules and oversized payloads give codes; module-to-module
 * `ModuleClient.invokeMethod` goes over HTTPS on the gateway port (the SDK's `http.agent` option points
 * it at the test port) with the caller's SAS token checked.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { randomBytes } from 'node:crypto';
import device from 'azure-iot-device';
import type { ModuleClient as ModuleClientType, DeviceMethodRequest, DeviceMethodResponse } from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { MethodService } from '../src/methods/method-service.js';
import { createSasToken } from '../src/identity/sas-token.js';
import { DEVICE, HUB, startEdge } from './broker-fixture.js';
import type { Edge } from './broker-fixture.js';

const { ModuleClient } = device;
const { Mqtt } = deviceMqtt;

let edge: Edge;
let methods: MethodService | undefined;
const clients: { close(): Promise<unknown> }[] = [];
const calls: { module: string; method: string; payload: unknown }[] = [];

beforeAll(async () => {
  edge = await startEdge(['responder', 'caller', 'late', 'offline'], {
    onHttpsRequest: (req, res) => {
      if (methods?.handleHttpsRequest(req, res)) return;
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not found"}');
    },
  });
  methods = MethodService.attach(edge.broker, { identities: edge.store });
});
afterAll(async () => {
  methods?.detach();
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
  await edge.close();
});
afterEach(() => {
  calls.length = 0;
});

function subscribedToMethods(clientId: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (s: { clientId: string; topics: string[] }): void => {
      if (s.clientId === clientId && s.topics.some((t) => t.startsWith('$iothub/methods/POST/'))) {
        edge.broker.off('subscribed', on);
        resolve();
      }
    };
    edge.broker.on('subscribed', on);
  });
}

/** A module answering `echo` (201 with what it got) and never answering `never`. */
async function startResponder(moduleId: string): Promise<ModuleClientType> {
  const client = ModuleClient.fromConnectionString(edge.connectionString(moduleId), Mqtt);
  clients.push(client);
  await client.setOptions({ ca: edge.certs.caCertPem });
  await client.open();
  const subscribed = subscribedToMethods(`${DEVICE}/${moduleId}`);
  // The SDK types both callback arguments as optional; it always passes them for a method call.
  const on = (name: string, fn: (req: DeviceMethodRequest, res: DeviceMethodResponse) => void): void =>
    client.onMethod(name, (req, res) => fn(req as DeviceMethodRequest, res as DeviceMethodResponse));
  on('echo', (req: DeviceMethodRequest, res: DeviceMethodResponse) => {
    calls.push({ module: moduleId, method: req.methodName, payload: req.payload });
    void res.send(201, { got: req.payload ?? null, from: moduleId });
  });
  on('measure', (req: DeviceMethodRequest, res: DeviceMethodResponse) => {
    void res.send(200, { length: JSON.stringify(req.payload).length });
  });
  on('double', (req: DeviceMethodRequest, res: DeviceMethodResponse) => {
    void res.send(200, [req.payload, req.payload]);
  });
  on('never', (req: DeviceMethodRequest) => {
    calls.push({ module: moduleId, method: req.methodName, payload: req.payload });
  });
  await subscribed;
  return client;
}

/** The SDK's HTTPS requests go to <GatewayHostName>:443; this agent sends them to the test port instead. */
function gatewayAgent(): Agent {
  const port = edge.broker.httpsPort!;
  return Object.assign(new Agent(), { createConnection: (opts: ConnectionOptions) => tlsConnect({ ...opts, host: '127.0.0.1', port, servername: 'localhost' }) });
}

async function rejection(p: Promise<unknown>): Promise<{ code?: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; status?: number };
  }
  throw new Error('expected a rejection');
}

describe('direct methods with azure-iot-device', () => {
  beforeAll(async () => {
    await startResponder('responder');
  });

  it('invoke calls the module\'s onMethod handler and returns its status and payload', async () => {
    const result = await methods!.invoke('responder', 'echo', { n: 1, s: 'é' }, { timeoutSecs: 5 });
    expect(result).toEqual({ status: 201, payload: { got: { n: 1, s: 'é' }, from: 'responder' } });
    expect(calls).toEqual([{ module: 'responder', method: 'echo', payload: { n: 1, s: 'é' } }]);
    // No payload is JSON null.
    expect(await methods!.invoke('responder', 'echo', undefined)).toEqual({ status: 201, payload: { got: null, from: 'responder' } });
  });

  it('times out with FERRY_E_SIM_METHOD_TIMEOUT (504) when the module never answers', async () => {
    const t0 = Date.now();
    const e = await rejection(methods!.invoke('responder', 'never', 1, { timeoutSecs: 0.4 }));
    expect(e).toMatchObject({ code: 'FERRY_E_SIM_METHOD_TIMEOUT', status: 504 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    expect(calls.map((c) => c.method)).toEqual(['never']);
  });

  it('refuses offline and unknown modules, oversized payloads and bad names with codes', async () => {
    expect(await rejection(methods!.invoke('offline', 'echo', null))).toMatchObject({ code: 'FERRY_E_SIM_METHOD_TARGET_OFFLINE', status: 404 });
    expect(await rejection(methods!.invoke('nobody', 'echo', null))).toMatchObject({ code: 'FERRY_E_SIM_IDENTITY_UNKNOWN', status: 404 });
    expect(await rejection(methods!.invoke('responder', 'echo', 'x'.repeat(128 * 1024)))).toMatchObject({ code: 'FERRY_E_SIM_METHOD_PAYLOAD_TOO_LARGE', status: 413 });
    expect(await rejection(methods!.invoke('responder', 'a/b', null))).toMatchObject({ code: 'FERRY_E_SIM_METHOD_REQUEST_INVALID', status: 400 });
    expect(await rejection(methods!.invoke('responder', 'echo', null, { timeoutSecs: 301 }))).toMatchObject({ code: 'FERRY_E_SIM_METHOD_REQUEST_INVALID' });
    expect(calls).toEqual([]);
    // Just under the limit goes through (the JSON string's quotes count); an answer over it is refused.
    const big = 'y'.repeat(128 * 1024 - 2);
    expect(await methods!.invoke('responder', 'measure', big, { timeoutSecs: 5 })).toEqual({ status: 200, payload: { length: 128 * 1024 } });
    expect(await rejection(methods!.invoke('responder', 'double', 'z'.repeat(70 * 1024), { timeoutSecs: 5 }))).toMatchObject({ code: 'FERRY_E_SIM_METHOD_PAYLOAD_TOO_LARGE', status: 413 });
  });

  it('waits up to the connect timeout for a module that connects late', async () => {
    const pending = methods!.invoke('late', 'echo', { hello: 'late' }, { timeoutSecs: 5, connectTimeoutSecs: 10 });
    await new Promise((r) => setTimeout(r, 200));
    await startResponder('late');
    expect(await pending).toEqual({ status: 201, payload: { got: { hello: 'late' }, from: 'late' } });
  });

  it('module A invokeMethod on module B goes over HTTPS with A\'s token and returns B\'s answer', async () => {
    const received: string[] = [];
    edge.broker.on('client-connected', (c) => received.push(c.clientId));
    // The caller connects nowhere over MQTT: invokeMethod is HTTPS only (PROTOCOLS.md §3).
    const caller = ModuleClient.fromConnectionString(edge.store.connectionString('caller', 'localhost'), Mqtt);
    await caller.setOptions({ ca: edge.certs.caCertPem, http: { agent: gatewayAgent() } } as never);
    const result = await caller.invokeMethod(DEVICE, 'responder', { methodName: 'echo', payload: { from: 'A' }, responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 0 });
    expect(result).toEqual({ status: 201, payload: { got: { from: 'A' }, from: 'responder' } });
    expect(calls).toEqual([{ module: 'responder', method: 'echo', payload: { from: 'A' } }]);
    // Errors come back as HTTP errors the SDK translates: a timeout is 504.
    const timeout = (await rejection(caller.invokeMethod(DEVICE, 'responder', { methodName: 'never', payload: null, responseTimeoutInSeconds: 0.3, connectTimeoutInSeconds: 0 }))) as { responseBody?: string; response?: { statusCode: number } };
    expect(timeout.response?.statusCode).toBe(504);
    expect(JSON.parse(timeout.responseBody!)).toMatchObject({ code: 'FERRY_E_SIM_METHOD_TIMEOUT' });
    const offline = (await rejection(caller.invokeMethod(DEVICE, 'offline', { methodName: 'echo', payload: null, responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 0 }))) as { responseBody?: string; response?: { statusCode: number } };
    expect(offline.response?.statusCode).toBe(404);
    expect(JSON.parse(offline.responseBody!)).toMatchObject({ code: 'FERRY_E_SIM_METHOD_TARGET_OFFLINE' });
    expect(received).not.toContain(`${DEVICE}/caller`);
  });

  it('refuses a caller whose token another key signed (401), and requests without the module header or token', async () => {
    const forged = edge.store.connectionString('caller', 'localhost').replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${randomBytes(32).toString('base64')}`);
    const caller = ModuleClient.fromConnectionString(forged, Mqtt);
    await caller.setOptions({ ca: edge.certs.caCertPem, http: { agent: gatewayAgent() } } as never);
    const e = (await rejection(caller.invokeMethod(DEVICE, 'responder', { methodName: 'echo', payload: 1, responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 0 }))) as { name?: string; responseBody?: string; response?: { statusCode: number } };
    expect(e.name).toBe('UnauthorizedError');
    expect(e.response?.statusCode).toBe(401);
    expect(JSON.parse(e.responseBody!)).toMatchObject({ code: 'FERRY_E_SIM_TOKEN_INVALID' });
    expect(calls).toEqual([]);

    const identity = edge.store.module('caller')!;
    const token = createSasToken({ hubHostName: HUB, deviceId: DEVICE, moduleId: 'caller' }, identity.primaryKey, Date.now() / 1000 + 600);
    const body = JSON.stringify({ methodName: 'echo', payload: 2, responseTimeoutInSeconds: 5 });
    const path = `/twins/${DEVICE}/modules/responder/methods`;
    expect(await post(path, body, { authorization: token })).toMatchObject({ status: 400, body: { code: 'FERRY_E_SIM_METHOD_REQUEST_INVALID' } });
    expect(await post(path, body, { 'x-ms-edge-moduleId': `${DEVICE}/caller` })).toMatchObject({ status: 401, body: { code: 'FERRY_E_SIM_TOKEN_INVALID' } });
    // Another module's token does not pass for the caller.
    const other = createSasToken({ hubHostName: HUB, deviceId: DEVICE, moduleId: 'responder' }, edge.store.module('responder')!.primaryKey, Date.now() / 1000 + 600);
    expect(await post(path, body, { 'x-ms-edge-moduleId': `${DEVICE}/caller`, authorization: other })).toMatchObject({ status: 401, body: { code: 'FERRY_E_SIM_TOKEN_INVALID' } });
    const expired = createSasToken({ hubHostName: HUB, deviceId: DEVICE, moduleId: 'caller' }, identity.primaryKey, Date.now() / 1000 - 5);
    expect(await post(path, body, { 'x-ms-edge-moduleId': `${DEVICE}/caller`, authorization: expired })).toMatchObject({ status: 401, body: { code: 'FERRY_E_SIM_TOKEN_EXPIRED' } });
    expect(calls).toEqual([]);
    // The same request with the right headers works, as JSON; a body that is not JSON is a 400.
    const ok = await post(path, body, { 'x-ms-edge-moduleId': `${DEVICE}/caller`, authorization: token });
    expect(ok).toMatchObject({ status: 200, body: { status: 201, payload: { got: 2, from: 'responder' } } });
    expect(ok.contentType).toMatch(/^application\/json/);
    expect(await post(path, '{"methodName":', { 'x-ms-edge-moduleId': `${DEVICE}/caller`, authorization: token })).toMatchObject({ status: 400, body: { code: 'FERRY_E_SIM_METHOD_REQUEST_INVALID' } });
    // The device's own methods path; the simulated device has no MQTT connection here.
    expect(await post(`/twins/${DEVICE}/methods`, body, { 'x-ms-edge-moduleId': `${DEVICE}/caller`, authorization: token })).toMatchObject({ status: 404, body: { code: 'FERRY_E_SIM_METHOD_TARGET_OFFLINE' } });
    // Other paths are left to the next handler.
    expect(await post('/twins/x', body, {})).toMatchObject({ status: 404, body: { message: 'not found' } });
  });
});

function post(path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: unknown; contentType: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: edge.broker.httpsPort, servername: 'localhost', ca: edge.certs.caCertPem, method: 'POST', path, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()), contentType: res.headers['content-type'] }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}


