import { describe, expect, it } from 'vitest';
import { decodePropertyBag, encodePropertyBag, messageSize } from '../src/broker/property-bag.js';
import { checkPublish, inputTopic, subscriptionAllowed } from '../src/broker/topics.js';

const mod = { deviceId: 'd1', moduleId: 'm1' };
const dev = { deviceId: 'd1', moduleId: undefined };

describe('property bags (PROTOCOLS.md §3)', () => {
  it('decodes system and application properties, percent-decoded', () => {
    const bag = decodePropertyBag('%24.on=out%201&%24.mid=id%2F1&%24.ct=application%2Fjson&%24.ce=utf-8&temp%20C=21.5&a%26b=c%3Dd&%24.cdid=x');
    expect(bag.systemProperties).toEqual({ outputName: 'out 1', messageId: 'id/1', contentType: 'application/json', contentEncoding: 'utf-8', connectionDeviceId: 'x' });
    expect(bag.properties).toEqual({ 'temp C': '21.5', 'a&b': 'c=d' });
  });

  it('round-trips through encode, and refuses bad encoding or nameless keys', () => {
    const props = { 'k&=/ ü': 'v&=/ ü?#', plain: '' };
    const encoded = encodePropertyBag({ properties: props, systemProperties: { messageId: 'm', connectionModuleId: 'src' } });
    expect(encoded).toMatch(/^%24\.mid=m&%24\.cmid=src&/);
    expect(encoded).not.toMatch(/[/ #?]/);
    expect(decodePropertyBag(encoded).properties).toEqual(props);
    expect(() => decodePropertyBag('a=%zz')).toThrow();
    expect(() => decodePropertyBag('=v')).toThrow();
  });

  it('counts body plus property names and values', () => {
    expect(messageSize(Buffer.alloc(10), { properties: { ab: 'cde' }, systemProperties: { messageId: 'x' } })).toBe(10 + 5 + 10);
  });
});

describe('topics a client may use', () => {
  it('parses its own outputs, telemetry, twin requests and method responses', () => {
    const out = checkPublish(mod, 'devices/d1/modules/m1/messages/events/%24.on=o1&k=v/');
    expect(out).toMatchObject({ ok: true, publish: { kind: 'output', output: 'o1', properties: { k: 'v' } } });
    expect(checkPublish(mod, 'devices/d1/modules/m1/messages/events/')).toMatchObject({ ok: true, publish: { kind: 'telemetry' } });
    expect(checkPublish(dev, 'devices/d1/messages/events/a=1')).toMatchObject({ ok: true, publish: { kind: 'telemetry', properties: { a: '1' } } });
    expect(checkPublish(mod, '$iothub/twin/GET/?$rid=7')).toMatchObject({ ok: true, publish: { kind: 'twin-get', rid: '7' } });
    expect(checkPublish(mod, '$iothub/twin/PATCH/properties/reported/?$rid=8&$version=2')).toMatchObject({ ok: true, publish: { kind: 'twin-patch', rid: '8' } });
    expect(checkPublish(mod, '$iothub/methods/res/200/?$rid=9')).toMatchObject({ ok: true, publish: { kind: 'method-response', rid: '9', status: 200 } });
  });

  it('forbids other identities\' topics and anything that is not a client publish', () => {
    for (const t of ['devices/d1/modules/m2/messages/events/', 'devices/d2/modules/m1/messages/events/', 'devices/d1/messages/events/', 'devices/d1/modules/m1/inputs/in1/',
      '$iothub/twin/PATCH/properties/desired/?$version=3', '$iothub/methods/POST/reboot/?$rid=1', 'anything', '$SYS/x']) {
      expect(checkPublish(mod, t), t).toMatchObject({ ok: false, code: 'FERRY_E_SIM_TOPIC_FORBIDDEN' });
    }
    expect(checkPublish(dev, 'devices/d1/modules/m1/messages/events/')).toMatchObject({ ok: false, code: 'FERRY_E_SIM_TOPIC_FORBIDDEN' });
    expect(checkPublish(mod, 'devices/d1/modules/m1/messages/events/a=%zz')).toMatchObject({ ok: false, code: 'FERRY_E_SIM_MESSAGE_MALFORMED' });
    expect(checkPublish(mod, '$iothub/twin/GET/')).toMatchObject({ ok: false, code: 'FERRY_E_SIM_MESSAGE_MALFORMED' });
  });

  it('allows subscriptions to its own inputs, twin and methods only', () => {
    for (const f of ['devices/d1/modules/m1/inputs/#', 'devices/d1/modules/m1/inputs/in1/#', '$iothub/twin/res/#', '$iothub/twin/PATCH/properties/desired/#', '$iothub/methods/POST/#']) {
      expect(subscriptionAllowed(mod, f), f).toBe(true);
    }
    for (const f of ['#', '+/#', 'devices/#', 'devices/d1/modules/+/inputs/#', 'devices/d1/modules/m2/inputs/#', 'devices/d1/modules/m1/messages/events/#', '$iothub/#', '$iothub/methods/#', 'devices/d1/messages/devicebound/#']) {
      expect(subscriptionAllowed(mod, f), f).toBe(false);
    }
    expect(subscriptionAllowed(dev, 'devices/d1/messages/devicebound/#')).toBe(true);
    expect(subscriptionAllowed(dev, 'devices/d1/modules/m1/inputs/#')).toBe(false);
  });

  it('writes input topics with the mandatory / after the input name', () => {
    expect(inputTopic('d1', 'm1', 'in1', { properties: {} })).toBe('devices/d1/modules/m1/inputs/in1/');
    expect(inputTopic('d1', 'm1', 'in1', { properties: { a: 'b c' } })).toBe('devices/d1/modules/m1/inputs/in1/a=b%20c');
  });
});
