/**
 * The router with the real azure-iot-device ModuleClient over the real broker and a real SQLite store:
 * module to module, conditions, upstream, fan-out, priorities under backlog, TTL expiry, offline modules,
 * route reloads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '@ferry/deployment-manifests';
import { DEVICE, until } from './broker-fixture.js';
import { Message, connectModule, manifest, startRoutedEdge } from './router-fixture.js';
import type { RoutedEdge, TestModule } from './router-fixture.js';

const MODULES = ['sensor', 'scorer', 'archiver'];
let r: RoutedEdge;
let sensor: TestModule;

beforeAll(async () => {
  r = await startRoutedEdge(MODULES, {});
  sensor = await connectModule(r, 'sensor', false);
});
afterAll(async () => {
  await sensor?.close().catch(() => undefined);
  await r?.close();
});

function msg(body: string, properties: Record<string, string> = {}, json = false): InstanceType<typeof Message> {
  const m = new Message(body);
  for (const [k, v] of Object.entries(properties)) m.properties.add(k, v);
  if (json) {
    m.contentType = 'application/json';
    m.contentEncoding = 'utf-8';
  }
  return m;
}

const endpointStats = (name: string) => r.router.stats().endpoints.find((e) => e.endpoint === name);

describe('routing with the real SDK', () => {
  it('routes a module output to another module\'s input, keeping properties and adding $.cdid/$.cmid; counts unrouted', async () => {
    r.router.reload(manifest(MODULES, { toScorer: { route: 'FROM /messages/modules/sensor/outputs/temperature INTO BrokeredEndpoint("/modules/scorer/inputs/readings")', priority: 1 } }));
    const scorer = await connectModule(r, 'scorer', true);
    try {
      const m = msg('{"t":21.5}', { site: 'plant 7&x' }, true);
      m.messageId = 'm-1';
      m.correlationId = 'c-1';
      await sensor.client.sendOutputEvent('temperature', m);
      await until(() => scorer.received.length === 1, 5000, 'the routed input');
      const got = scorer.received[0]!;
      expect(got.input).toBe('readings');
      expect(got.body).toBe('{"t":21.5}');
      expect(got.message.messageId).toBe('m-1');
      expect(got.message.correlationId).toBe('c-1');
      expect(got.message.contentType).toBe('application/json');
      expect(got.message.properties.getValue('site')).toBe('plant 7&x');
      expect(got.message.properties.getValue('$.cdid')).toBe(DEVICE);
      expect(got.message.properties.getValue('$.cmid')).toBe('sensor');

      // No route takes another output: the SDK still gets its PUBACK; the message is counted, not stored.
      const before = r.router.stats().unrouted;
      await sensor.client.sendOutputEvent('humidity', msg('55'));
      expect(r.router.stats().unrouted).toBe(before + 1);
      const stats = r.router.stats();
      expect(stats.routes).toMatchObject([{ name: 'toScorer', matched: 1, priority: 1, timeToLiveSecs: 7200, endpoint: '/modules/scorer/inputs/readings' }]);
      await until(() => endpointStats('/modules/scorer/inputs/readings')?.delivered === 1, 2000, 'the ack');
      expect(endpointStats('/modules/scorer/inputs/readings')).toMatchObject({ pending: 0, delivered: 1, online: true, routed: true });
    } finally {
      await scorer.close();
    }
  });

  it('filters with a WHERE on an application property and on $body, and delivers to $upstream', async () => {
    r.router.reload(manifest(MODULES, {
      hot: { route: "FROM /messages/modules/sensor/outputs/* WHERE as_number(temp) > 30 AND severity = 'high' INTO $upstream", priority: 0 },
      bodyRule: { route: 'FROM /messages/modules/sensor/outputs/* WHERE $body.reading.level >= 3 INTO $upstream', priority: 2 },
    }));
    const seen: string[] = [];
    r.hub.on('message', (m) => seen.push(m.body.toString()));
    const sends = [
      msg('a', { temp: '35', severity: 'high' }), // hot
      msg('b', { temp: '25', severity: 'high' }), // too cold
      msg('c', { temp: '35', SEVERITY: 'high' }), // names ignore case: hot
      msg('d', { temp: 'warm', severity: 'high' }), // as_number undefined: not routed
      msg('{"reading":{"level":4}}', {}, true), // body rule
      msg('{"reading":{"level":1}}', {}, true), // body too low
      msg('{"reading":{"level":4}}'), // no JSON content type: $body undefined
    ];
    for (const m of sends) await sensor.client.sendOutputEvent('out', m);
    await until(() => seen.length === 3, 5000, 'upstream messages');
    await new Promise((res) => setTimeout(res, 100));
    expect(seen).toEqual(['a', 'c', '{"reading":{"level":4}}']);
    const recent = r.hub.recent({ moduleId: 'sensor', limit: 3 });
    expect(recent.map((m) => m.body.toString())).toEqual(seen);
    expect(recent[0]).toMatchObject({ deviceId: DEVICE, moduleId: 'sensor', properties: { temp: '35', severity: 'high' } });
    expect(recent[0]!.systemProperties).toMatchObject({ outputName: 'out', connectionModuleId: 'sensor' });
    expect(r.router.stats().routes.map((x) => [x.name, x.matched])).toEqual([['hot', 2], ['bodyRule', 1]]);
    await until(() => endpointStats('$upstream')?.pending === 0, 2000, 'upstream acks');
  });

  it('fans one message out to two endpoints, stored once, delivered once to each', async () => {
    r.router.reload(manifest(MODULES, {
      a: 'FROM /messages/modules/sensor/outputs/fan INTO BrokeredEndpoint("/modules/scorer/inputs/fan")',
      b: 'FROM /messages/modules/sensor/* INTO BrokeredEndpoint("/modules/archiver/inputs/fan")',
      c: { route: 'FROM /messages/* INTO BrokeredEndpoint("/modules/archiver/inputs/fan")', priority: 3 }, // same endpoint again
    }));
    const before = r.store.stats().messages;
    await sensor.client.sendOutputEvent('fan', msg('one'));
    // Both modules are offline: the message waits, one row for three matching routes and two endpoints.
    expect(r.store.stats().messages).toBe(before + 1);
    expect(endpointStats('/modules/scorer/inputs/fan')?.pending).toBe(1);
    expect(endpointStats('/modules/archiver/inputs/fan')?.pending).toBe(1);
    const scorer = await connectModule(r, 'scorer', true);
    const archiver = await connectModule(r, 'archiver', true);
    try {
      await until(() => scorer.received.length === 1 && archiver.received.length === 1, 5000, 'both deliveries');
      await new Promise((res) => setTimeout(res, 200));
      expect(scorer.received.map((x) => x.body)).toEqual(['one']);
      expect(archiver.received.map((x) => x.body)).toEqual(['one']);
      await until(() => r.store.stats().messages === before, 2000, 'the row released');
    } finally {
      await scorer.close();
      await archiver.close();
    }
  });

  it('under backlog delivers higher priority first, each priority in order', async () => {
    r.router.reload(manifest(MODULES, {
      alerts: { route: 'FROM /messages/modules/sensor/outputs/alerts INTO BrokeredEndpoint("/modules/scorer/inputs/prio")', priority: 0 },
      bulk: { route: 'FROM /messages/modules/sensor/outputs/bulk INTO BrokeredEndpoint("/modules/scorer/inputs/prio")', priority: 5 },
      legacy: 'FROM /messages/modules/sensor/outputs/legacy INTO BrokeredEndpoint("/modules/scorer/inputs/prio")',
    }));
    const sent: { output: string; body: string }[] = [];
    for (let i = 0; i < 30; i++) {
      const output = ['legacy', 'bulk', 'alerts'][i % 3]!;
      sent.push({ output, body: `${output}-${i}` });
      await sensor.client.sendOutputEvent(output, msg(`${output}-${i}`));
    }
    expect(endpointStats('/modules/scorer/inputs/prio')?.pending).toBe(30);
    const scorer = await connectModule(r, 'scorer', true);
    try {
      await until(() => scorer.received.length === 30, 5000, 'the backlog');
      const order = ['alerts', 'bulk', 'legacy'];
      const expected = order.flatMap((o) => sent.filter((s) => s.output === o).map((s) => s.body));
      expect(scorer.received.map((x) => x.body)).toEqual(expected);
    } finally {
      await scorer.close();
    }
  });

  it('drops and counts messages whose time to live passed while the module was away', async () => {
    r.router.reload(manifest(MODULES, { short: { route: 'FROM /messages/modules/sensor/outputs/ttl INTO BrokeredEndpoint("/modules/scorer/inputs/ttl")', timeToLiveSecs: 5 } }));
    for (let i = 0; i < 10; i++) await sensor.client.sendOutputEvent('ttl', msg(`old-${i}`));
    r.advance(6000);
    for (let i = 0; i < 3; i++) await sensor.client.sendOutputEvent('ttl', msg(`new-${i}`));
    const scorer = await connectModule(r, 'scorer', true);
    try {
      await until(() => scorer.received.length === 3, 5000, 'the fresh messages');
      await new Promise((res) => setTimeout(res, 200));
      expect(scorer.received.map((x) => x.body)).toEqual(['new-0', 'new-1', 'new-2']);
      expect(endpointStats('/modules/scorer/inputs/ttl')).toMatchObject({ expired: 10, pending: 0 });
    } finally {
      await scorer.close();
    }
  });

  it('a module that goes away and comes back gets everything, in order', async () => {
    r.router.reload(manifest(MODULES, { all: 'FROM /messages/modules/sensor/outputs/seq INTO BrokeredEndpoint("/modules/archiver/inputs/seq")' }));
    const n = 600;
    let archiver = await connectModule(r, 'archiver', true);
    const bodies: string[] = [];
    const send = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += 50) await Promise.all(Array.from({ length: Math.min(50, to - i) }, (_, j) => sensor.client.sendOutputEvent('seq', msg(`s${i + j}`))));
    };
    await send(0, 200);
    await until(() => archiver.received.length >= 100, 5000, 'the first part');
    bodies.push(...archiver.received.map((x) => x.body));
    await archiver.close();
    await send(200, n); // while the module is away
    expect(endpointStats('/modules/archiver/inputs/seq')?.online).toBe(false);
    const first = bodies.length;
    archiver = await connectModule(r, 'archiver', true);
    try {
      await until(() => new Set([...bodies, ...archiver.received.map((x) => x.body)]).size === n, 10_000, 'everything');
      const all = [...bodies, ...archiver.received.map((x) => x.body)];
      // At least once, and in order: dropping repeats leaves exactly s0..s(n-1).
      const firstSeen = all.filter((b, i) => all.indexOf(b) === i);
      expect(firstSeen).toEqual(Array.from({ length: n }, (_, i) => `s${i}`));
      process.stderr.write(`[router] offline/online: ${first} before, ${archiver.received.length} after, ${all.length - n} repeated\n`);
      await until(() => endpointStats('/modules/archiver/inputs/seq')?.pending === 0, 3000, 'all acknowledged');
    } finally {
      await archiver.close();
    }
  });

  it('a route reload keeps queued messages; an endpoint no longer routed drains, then goes', async () => {
    r.router.reload(manifest(MODULES, { old: 'FROM /messages/modules/sensor/outputs/reload INTO BrokeredEndpoint("/modules/scorer/inputs/old")' }));
    for (let i = 0; i < 20; i++) await sensor.client.sendOutputEvent('reload', msg(`q${i}`));
    r.router.reload(manifest(MODULES, { renamed: 'FROM /messages/modules/sensor/outputs/reload INTO BrokeredEndpoint("/modules/scorer/inputs/new")' }));
    await sensor.client.sendOutputEvent('reload', msg('after'));
    expect(endpointStats('/modules/scorer/inputs/old')).toMatchObject({ pending: 20, routed: false });
    expect(endpointStats('/modules/scorer/inputs/new')).toMatchObject({ pending: 1, routed: true });
    const scorer = await connectModule(r, 'scorer', true);
    try {
      await until(() => scorer.received.length === 21, 5000, 'old and new');
      expect(scorer.received.filter((x) => x.input === 'old').map((x) => x.body)).toEqual(Array.from({ length: 20 }, (_, i) => `q${i}`));
      expect(scorer.received.filter((x) => x.input === 'new').map((x) => x.body)).toEqual(['after']);
      await until(() => !r.store.endpoints().includes('/modules/scorer/inputs/old'), 3000, 'the drained endpoint removed');
      expect(r.store.endpoints()).toContain('/modules/scorer/inputs/new');
    } finally {
      await scorer.close();
    }
  });

  it('a manifest routing to an unknown module is refused with its pointer; the routes in use stay', () => {
    const before = r.router.routes;
    let error: unknown;
    try {
      r.router.reload(manifest(MODULES, { toGhost: { route: 'FROM /messages/* INTO BrokeredEndpoint("/modules/ghost/inputs/in")', priority: 0 } }));
    } catch (e) {
      error = e;
    }
    expect(isFerryError(error) && error.code).toBe('FERRY_E_MANIFEST_INVALID');
    expect((error as { details: { pointer: string } }).details.pointer).toBe('/modulesContent/$edgeHub/properties.desired/routes/toGhost/route');
    expect(r.router.routes).toBe(before);
  });
});
