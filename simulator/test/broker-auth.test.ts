/** What the SDK never sends: bad CONNECTs, other identities' topics, QoS 2, oversized and malformed publishes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSasToken } from '../src/identity/sas-token.js';
import { DEVICE, HUB, RawMqtt, startEdge, until } from './broker-fixture.js';
import type { Edge } from './broker-fixture.js';

let edge: Edge;
const raws: RawMqtt[] = [];
beforeAll(async () => {
  edge = await startEdge(['a', 'b']);
});
afterAll(async () => {
  for (const r of raws) r.end();
  await edge.close();
});

const soon = (): number => Math.floor(Date.now() / 1000) + 3600;
const username = (clientId: string): string => `${HUB}/${clientId}/?api-version=2021-04-12&DeviceClientType=raw`;
function token(moduleId: string | undefined, key?: string, expiry = soon()): string {
  const id = moduleId === undefined ? edge.store.device() : edge.store.module(moduleId)!;
  return createSasToken({ hubHostName: HUB, deviceId: DEVICE, moduleId }, key ?? id.primaryKey, expiry);
}
async function connect(clientId: string, user: string, password: string | undefined, clean = false): Promise<{ raw: RawMqtt; returnCode: number }> {
  const r = await RawMqtt.connect(edge, clientId, user, password, clean);
  raws.push(r.raw);
  return r;
}

describe('CONNECT', () => {
  it('accepts a valid module token and refuses bad, expired, wrong-resource and unknown identities with the CONNACK code', async () => {
    const ok = await connect(`${DEVICE}/a`, username(`${DEVICE}/a`), token('a'));
    expect(ok.returnCode).toBe(0);
    ok.raw.end();

    const cases: [string, string, string | undefined, number, string][] = [
      [`${DEVICE}/a`, username(`${DEVICE}/a`), token('a', edge.store.module('b')!.primaryKey), 5, 'FERRY_E_SIM_TOKEN_INVALID'],
      [`${DEVICE}/a`, username(`${DEVICE}/a`), token('a', undefined, Math.floor(Date.now() / 1000) - 1), 5, 'FERRY_E_SIM_TOKEN_EXPIRED'],
      [`${DEVICE}/a`, username(`${DEVICE}/a`), token('b'), 5, 'FERRY_E_SIM_TOKEN_INVALID'],
      [`${DEVICE}/a`, username(`${DEVICE}/a`), token(undefined), 5, 'FERRY_E_SIM_TOKEN_INVALID'],
      [`${DEVICE}/ghost`, username(`${DEVICE}/ghost`), token('a'), 5, 'FERRY_E_SIM_IDENTITY_UNKNOWN'],
      [`${DEVICE}/a`, username(`${DEVICE}/b`), token('a'), 4, 'FERRY_E_SIM_CONNECT_REFUSED'],
      [`${DEVICE}/a`, `${HUB}/${DEVICE}/a`, token('a'), 4, 'FERRY_E_SIM_CONNECT_REFUSED'],
      [`${DEVICE}/a`, username(`${DEVICE}/a`), undefined, 4, 'FERRY_E_SIM_CONNECT_REFUSED'],
      [`${DEVICE}/a/x`, username(`${DEVICE}/a/x`), token('a'), 2, 'FERRY_E_SIM_CONNECT_REFUSED'],
      [`${DEVICE}/a`, username(`${DEVICE}/a`), 'SharedAccessSignature garbage', 5, 'FERRY_E_SIM_TOKEN_INVALID'],
    ];
    for (const [clientId, user, password, returnCode, code] of cases) {
      const before = edge.refusals.length;
      const r = await connect(clientId, user, password);
      expect(r.returnCode, code).toBe(returnCode);
      expect(edge.refusals.slice(before), code).toEqual([expect.objectContaining({ stage: 'connect', clientId, code, returnCode })]);
      await until(() => r.raw.closed, 2000, 'the refused connection to close');
    }
    expect(edge.broker.isConnected(`${DEVICE}/a`)).toBe(false);
  });
});

describe('a connected module', () => {
  it('may not subscribe to another module\'s topics (SUBACK 128) nor publish as it (dropped and reported), and stays connected', async () => {
    const victimId = `${DEVICE}/b`;
    const victim = await connect(victimId, username(victimId), token('b'));
    expect(await victim.raw.subscribe(`devices/${DEVICE}/modules/b/inputs/#`)).toEqual([1]);
    const { raw, returnCode } = await connect(`${DEVICE}/a`, username(`${DEVICE}/a`), token('a'));
    expect(returnCode).toBe(0);

    const before = edge.refusals.length;
    expect(await raw.subscribe(`devices/${DEVICE}/modules/b/inputs/#`)).toEqual([128]);
    expect(await raw.subscribe('#')).toEqual([128]);
    expect(await raw.subscribe(`devices/${DEVICE}/modules/+/inputs/#`)).toEqual([128]);
    expect(await raw.subscribe(`devices/${DEVICE}/modules/a/inputs/#`, 1)).toEqual([1]);
    expect(await raw.subscribe('$iothub/methods/POST/#', 0)).toEqual([0]);
    expect(edge.refusals.slice(before).map((r) => [r.stage, r.code])).toEqual([
      ['subscribe', 'FERRY_E_SIM_TOPIC_FORBIDDEN'], ['subscribe', 'FERRY_E_SIM_TOPIC_FORBIDDEN'], ['subscribe', 'FERRY_E_SIM_TOPIC_FORBIDDEN'],
    ]);

    const messagesBefore = edge.messages.length;
    await raw.publish(`devices/${DEVICE}/modules/b/messages/events/%24.on=o`, 'as b');
    await raw.publish(`devices/${DEVICE}/modules/b/inputs/in1/`, 'into b\'s input');
    await raw.publish('$iothub/methods/POST/reboot/?$rid=1', 'a method call to everyone');
    expect(edge.refusals.slice(before + 3).map((r) => [r.stage, r.code, r.topic])).toEqual([
      ['publish', 'FERRY_E_SIM_TOPIC_FORBIDDEN', `devices/${DEVICE}/modules/b/messages/events/%24.on=o`],
      ['publish', 'FERRY_E_SIM_TOPIC_FORBIDDEN', `devices/${DEVICE}/modules/b/inputs/in1/`],
      ['publish', 'FERRY_E_SIM_TOPIC_FORBIDDEN', '$iothub/methods/POST/reboot/?$rid=1'],
    ]);
    // Its own output still goes through, and nothing of the above reached the other module.
    await raw.publish(`devices/${DEVICE}/modules/a/messages/events/%24.on=o`, 'as a');
    await until(() => edge.messages.length > messagesBefore, 2000, 'a\'s own output');
    expect(edge.messages.slice(messagesBefore).map((m) => [m.clientId, m.kind, m.output, m.body.toString()])).toEqual([[`${DEVICE}/a`, 'output', 'o', 'as a']]);
    expect(await raw.alive()).toBe(true);
    expect(await victim.raw.alive()).toBe(true);
    expect(victim.raw.received.filter((p) => p.cmd === 'publish')).toEqual([]);

    // An over-limit (300 KiB) and a malformed message: refused with a code, the connection stays.
    await raw.publish(`devices/${DEVICE}/modules/a/messages/events/`, Buffer.alloc(300 * 1024));
    await raw.publish(`devices/${DEVICE}/modules/a/messages/events/bad=%zz`, 'x');
    expect(edge.refusals.slice(-2).map((r) => r.code)).toEqual(['FERRY_E_SIM_MESSAGE_TOO_LARGE', 'FERRY_E_SIM_MESSAGE_MALFORMED']);
    expect(await raw.alive()).toBe(true);

    // A QoS 1 delivery the broker publishes itself reaches the client and resolves on its PUBACK.
    let acked = false;
    const delivery = edge.broker.deliverInput('a', 'in1', { properties: { k: 'v' }, body: 'hello' }).then(() => (acked = true));
    const pub = (await raw.next('publish')) as { topic: string; qos: number; messageId: number; payload: Buffer };
    expect(pub).toMatchObject({ topic: `devices/${DEVICE}/modules/a/inputs/in1/k=v`, qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
    expect(acked).toBe(false); // not before the PUBACK
    raw.send({ cmd: 'puback', messageId: pub.messageId });
    await delivery;

    // QoS 2 closes the connection, as IoT Hub does.
    raw.send({ cmd: 'publish', topic: `devices/${DEVICE}/modules/a/messages/events/`, payload: Buffer.from('q2'), qos: 2, retain: false, dup: false, messageId: 999 });
    await until(() => raw.closed, 2000, 'the QoS 2 connection to close');
    expect(edge.refusals.at(-1)).toMatchObject({ code: 'FERRY_E_SIM_QOS_UNSUPPORTED' });
  });

  it('keeps a clean=false session\'s subscriptions and unacknowledged deliveries across a transport-level reconnect', async () => {
    const id = `${DEVICE}/b`;
    const first = await connect(id, username(id), token('b'), false);
    expect(await first.raw.subscribe(`devices/${DEVICE}/modules/b/inputs/#`)).toEqual([1]);
    const delivery = edge.broker.deliverInput('b', 'in1', { body: 'one' });
    await first.raw.next('publish'); // received, never acknowledged
    first.raw.end(); // the transport drops, no DISCONNECT
    await until(() => !edge.broker.isConnected(id), 2000, 'the drop');
    await expect(edge.broker.deliverInput('b', 'in1', { body: 'x' })).rejects.toMatchObject({ code: 'FERRY_E_SIM_CLIENT_OFFLINE' });

    // Reconnect with a fresh token and no SUBSCRIBE: the unacknowledged message comes again, new ones flow.
    const second = await connect(id, username(id), token('b', undefined, soon() + 60), false);
    expect(second.returnCode).toBe(0);
    const again = (await second.raw.next('publish')) as { payload: Buffer; messageId: number };
    expect(again.payload.toString()).toBe('one');
    second.raw.send({ cmd: 'puback', messageId: again.messageId });
    await delivery;
    const next = edge.broker.deliverInput('b', 'in2', { body: 'two' });
    const p2 = (await second.raw.next('publish')) as { topic: string; payload: Buffer; messageId: number };
    expect(p2.topic).toBe(`devices/${DEVICE}/modules/b/inputs/in2/`);
    second.raw.send({ cmd: 'puback', messageId: p2.messageId });
    await next;

    // A clean session starts without them.
    second.raw.end();
    await until(() => !edge.broker.isConnected(id), 2000, 'the drop');
    const clean = await connect(id, username(id), token('b'), true);
    expect(clean.returnCode).toBe(0);
    await expect(edge.broker.deliverInput('b', 'in1', { body: 'x' })).rejects.toMatchObject({ code: 'FERRY_E_SIM_CLIENT_OFFLINE' });
  });

  it('sends twin answers, desired patches and method calls to the one client they are for', async () => {
    const a = await connect(`${DEVICE}/a`, username(`${DEVICE}/a`), token('a'), true);
    const b = await connect(`${DEVICE}/b`, username(`${DEVICE}/b`), token('b'), true);
    for (const r of [a.raw, b.raw]) {
      expect(await r.subscribe('$iothub/twin/res/#', 0)).toEqual([0]);
      expect(await r.subscribe('$iothub/twin/PATCH/properties/desired/#', 0)).toEqual([0]);
    }
    expect(await a.raw.subscribe('$iothub/methods/POST/#', 0)).toEqual([0]);
    await a.raw.publish('$iothub/twin/GET/?$rid=42', '', 0);
    await until(() => edge.messages.some((m) => m.kind === 'twin-get' && m.rid === '42'), 2000, 'the twin GET');
    await edge.broker.respondTwin(`${DEVICE}/a`, 200, '42', { desired: { $version: 1 }, reported: { $version: 1 } });
    await edge.broker.pushDesired(`${DEVICE}/a`, 2, { threshold: 3 });
    await edge.broker.invokeMethod(`${DEVICE}/a`, 'reboot', '7', undefined);
    const got = [await a.raw.next('publish'), await a.raw.next('publish'), await a.raw.next('publish')] as { topic: string; payload: Buffer }[];
    expect(got.map((p) => [p.topic, JSON.parse(p.payload.toString())])).toEqual([
      ['$iothub/twin/res/200/?$rid=42', { desired: { $version: 1 }, reported: { $version: 1 } }],
      ['$iothub/twin/PATCH/properties/desired/?$version=2', { threshold: 3, $version: 2 }],
      ['$iothub/methods/POST/reboot/?$rid=7', null],
    ]);
    await a.raw.publish('$iothub/methods/res/200/?$rid=7', '{"ok":true}', 0);
    await until(() => edge.messages.some((m) => m.kind === 'method-response'), 2000, 'the method response');
    expect(edge.messages.find((m) => m.kind === 'method-response')).toMatchObject({ clientId: `${DEVICE}/a`, rid: '7', status: 200 });
    expect(await b.raw.alive()).toBe(true);
    expect(b.raw.received.filter((p) => p.cmd === 'publish')).toEqual([]);
    await expect(edge.broker.invokeMethod(`${DEVICE}/b`, 'reboot', '8', {})).rejects.toMatchObject({ code: 'FERRY_E_SIM_CLIENT_OFFLINE' });
  });
});

describe('token expiry and the accept hook', () => {
  it('closes a connection when its token expires', async () => {
    const id = `${DEVICE}/a`;
    const { raw, returnCode } = await connect(id, username(id), token('a', undefined, Math.floor(Date.now() / 1000) + 2));
    expect(returnCode).toBe(0);
    expect(await raw.alive()).toBe(true);
    await until(() => raw.closed, 4000, 'the expiry close');
    expect(edge.broker.isConnected(id)).toBe(false);
  });

  it('acknowledges a publish only after accept resolves, and closes the connection unacknowledged when it rejects', async () => {
    const accepted: string[] = [];
    let release: () => void = () => undefined;
    let fail = false;
    let calls = 0;
    const own = await startEdge(['m'], {
      accept: (m) => {
        calls += 1;
        if (fail) return Promise.reject(new Error('disk full'));
        return new Promise<void>((resolve) => {
          release = () => {
            accepted.push(m.body.toString());
            resolve();
          };
        });
      },
    });
    try {
      const id = `${DEVICE}/m`;
      const key = own.store.module('m')!.primaryKey;
      const { raw } = await RawMqtt.connect(own, id, username(id), createSasToken({ hubHostName: HUB, deviceId: DEVICE, moduleId: 'm' }, key, soon()));
      let acked = false;
      const pub = raw.publish(`devices/${DEVICE}/modules/m/messages/events/`, 'kept').then(() => (acked = true));
      await until(() => calls === 1, 2000, 'accept to be called');
      await new Promise((r) => setTimeout(r, 100));
      expect(acked).toBe(false);
      expect(own.messages).toHaveLength(0);
      release();
      await pub;
      expect(accepted).toEqual(['kept']);
      expect(own.messages.map((m) => m.body.toString())).toEqual(['kept']);
      fail = true;
      raw.send({ cmd: 'publish', topic: `devices/${DEVICE}/modules/m/messages/events/`, payload: Buffer.from('lost'), qos: 1, retain: false, dup: false, messageId: 77 });
      await until(() => raw.closed, 2000, 'the close');
      expect(raw.received.some((p) => p.cmd === 'puback')).toBe(false);
      raw.end();
    } finally {
      await own.close();
    }
  });
});
