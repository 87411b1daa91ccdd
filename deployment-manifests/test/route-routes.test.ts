/** Routes: SELECT/FROM/WHERE/INTO, source matching as edgeHub does it, sinks, positioned errors. */
import { describe, expect, it } from 'vitest';
import { compileRoute, isRouteText } from '../src/routes/route.js';
import { parseRouteMessage, parseRouteMessageText, type RouteMessage } from '../src/routes/message.js';
import { isFerryError } from '../src/errors.js';

const telemetry = parseRouteMessage({ systemProperties: { connectionDeviceId: 'dev' } });
const output = (module: string, out?: string): RouteMessage =>
  parseRouteMessage({ systemProperties: { connectionDeviceId: 'dev', connectionModuleId: module, ...(out ? { outputName: out } : {}) } });

describe('sources', () => {
  const cases: Array<[string, RouteMessage, boolean]> = [
    ['/messages/*', telemetry, true], ['/messages/*', output('m1', 'o1'), true], ['/messages', output('m1', 'o1'), true], ['/*', telemetry, true],
    ['/messages/modules/*', telemetry, false], ['/messages/modules/*', output('m1', 'o1'), true],
    ['/messages/modules/m1/*', output('m1', 'o1'), true], ['/messages/modules/m1', output('m1', 'o1'), true], ['/messages/modules/m1/*', output('m2', 'o1'), false],
    ['/messages/modules/m1/*', output('m10', 'o1'), false], ['/messages/modules/m1/*', telemetry, false], ['/messages/modules/m1/*', output('m1'), true],
    ['/messages/modules/m1/outputs/o1', output('m1', 'o1'), true], ['/messages/modules/m1/outputs/o1', output('m1', 'o2'), false],
    ['/messages/modules/m1/outputs/o1', output('m1', 'o10'), false], ['/messages/modules/m1/outputs/*', output('m1', 'o2'), true],
    ['/messages/modules/m1/outputs/o1', output('m1'), false], ['/MESSAGES/Modules/M1/outputs/O1', output('m1', 'o1'), true],
['/messages/modules/m1/outputs/o1*', output('m1', 'o1'), true],
    ['/messages/modules/my-module.v2/outputs/out_1', output('my-module.v2', 'out_1'), true],
    ['/twinChangeNotifications', telemetry, false], ['/twinChangeNotifications', output('m1', 'o1'), false],
  ];
  for (const [source, message, expected] of cases) {
    it(`${source} ${expected ? 'takes' : 'does not take'} ${JSON.stringify(message.systemProperties)}`, () => {
      const route = compileRoute(`FROM ${source} INTO $upstream`);
      expect(route.matchesSource(message)).toBe(expected);
      expect(route.evaluate(message)).toBe(expected ? 'true' : 'false');
    });
  }
  it('normalizes the source as edgeHub does', () => {
    expect(compileRoute('FROM /messages/* INTO $upstream').source).toBe('/messages/');
    expect(compileRoute('FROM /messages/modules/m1/outputs/* INTO $upstream').source).toBe('/messages/modules/m1/outputs/');
    expect(compileRoute('FROM / messages / * INTO $upstream').source).toBe('/messages/');
  });
  it('source and condition together', () => {
    const route = compileRoute("FROM /messages/modules/m1/* WHERE $outputName = 'o1' INTO $upstream");
    expect(route.evaluate(output('m1', 'o1'))).toBe('true');
    expect(route.evaluate(output('m1', 'o2'))).toBe('false');
    expect(route.evaluate(output('m1'))).toBe('undefined');
    expect(route.evaluate(output('m2', 'o1'))).toBe('false');
    expect(route.condition.evaluate(output('m2', 'o1'))).toBe('true');
  });
});

describe('route syntax and sinks', () => {
  const ok: Array<[string, unknown, string]> = [
    ['FROM /messages/* INTO $upstream', { kind: 'upstream' }, '$upstream'],
    ['select * from /messages/* into $UPSTREAM', { kind: 'upstream' }, '$upstream'],
    ['SELECT * FROM /messages/* WHERE true INTO $upstream', { kind: 'upstream' }, '$upstream'],
    ['FROM /messages/* INTO BrokeredEndpoint("/modules/filter/inputs/input1")', { kind: 'module-input', module: 'filter', input: 'input1' }, 'BrokeredEndpoint("/modules/filter/inputs/input1")'],
    ["FROM /messages/* INTO brokeredendpoint('/modules/filter/inputs/input1')", { kind: 'module-input', module: 'filter', input: 'input1' }, 'BrokeredEndpoint("/modules/filter/inputs/input1")'],
    ['FROM /messages/*\n  WHERE a = \'b\'\n  INTO BrokeredEndpoint ( "/modules/m-1.x/inputs/in_2" )', { kind: 'module-input', module: 'm-1.x', input: 'in_2' }, 'BrokeredEndpoint("/modules/m-1.x/inputs/in_2")'],
  ];
  for (const [text, sink, endpoint] of ok) {
    it(`compiles ${JSON.stringify(text)}`, () => {
      const route = compileRoute(text);
      expect(route.sink).toEqual(sink);
      expect(route.endpoint).toBe(endpoint);
    });
  }
  it('a route without WHERE takes every message of its source', () => {
    expect(compileRoute('FROM /messages/* INTO $upstream').evaluate(telemetry)).toBe('true');
  });
  it('tells routes from conditions', () => {
    expect(isRouteText('FROM /messages/* INTO $upstream')).toBe(true);
    expect(isRouteText('  select * FROM /x INTO $upstream')).toBe(true);
    expect(isRouteText("key1 = 'from'")).toBe(false);
  });

  const bad: Array<[string, number, number, string]> = [
    ['', 1, 1, ''], ['FROM INTO $upstream', 1, 6, 'INTO'], ['SELECT FROM /messages INTO $upstream', 1, 8, 'FROM'], ['/messages/* INTO $upstream', 1, 1, '/'],
    ['FROM /messages/* $upstream', 1, 18, '$upstream'], ['FROM /messages/* INTO', 1, 22, ''], ['FROM /messages/* WHERE INTO $upstream', 1, 24, 'INTO'],
    ['FROM /messages/* INTO $downstream', 1, 23, '$downstream'], ['FROM /messages/* INTO $upstream extra', 1, 33, 'extra'],
    ['FROM /messages/* INTO Endpoint("/modules/m/inputs/i")', 1, 23, 'Endpoint'], ['FROM /messages/* INTO BrokeredEndpoint(/modules/m/inputs/i)', 1, 40, '/'],
    ['FROM /messages/* INTO BrokeredEndpoint("/modules/m/outputs/i")', 1, 40, '"/modules/m/outputs/i"'],
    ['FROM /messages/* INTO BrokeredEndpoint("modules/m/inputs/i")', 1, 40, '"modules/m/inputs/i"'],
    ['FROM /messages/* INTO BrokeredEndpoint("/modules/m/inputs/")', 1, 40, '"/modules/m/inputs/"'],
    ['FROM /messages/* INTO BrokeredEndpoint("/modules/m/inputs/i"', 1, 61, ''],
    ['FROM /messages/modules/m1/ INTO $upstream', 1, 28, 'INTO'],
    ["FROM /messages/* WHERE key1 > 3 INTO $upstream", 1, 29, '>'], ["FROM /messages/*\nWHERE\n  key1 = 3\nINTO $upstream", 3, 8, '='],
    ['FROM /messages/modules/from/* INTO $upstream', 1, 24, 'from'], ['FROM /messages/* WHERE (a = \'b\' INTO $upstream', 1, 24, '('],
  ];
  for (const [text, line, column, found] of bad) {
    it(`refuses ${JSON.stringify(text)} at ${line}:${column}`, () => {
      try {
        compileRoute(text);
        expect.unreachable();
      } catch (e) {
        expect(isFerryError(e) && e.code).toBe('FERRY_E_ROUTE_INVALID');
        expect((e as { details: unknown }).details).toMatchObject({ line, column, found });
        expect((e as { status: number }).status).toBe(400);
      }
    });
  }
});

describe('message files', () => {
  it('reads properties, system properties and a JSON or string body', () => {
    const m = parseRouteMessageText('{"properties": {"a": "1"}, "systemProperties": {"contentType": "application/json"}, "body": {"x": [1]}}');
    expect(m.properties).toEqual({ a: '1' });
    expect(new TextDecoder().decode(m.body)).toBe('{"x":[1]}');
    expect(new TextDecoder().decode(parseRouteMessage({ body: 'héllo' }).body)).toBe('héllo');
    expect(parseRouteMessage({}).body.length).toBe(0);
    expect([...parseRouteMessage({ systemProperties: { contentEncoding: 'utf-16' }, body: 'A' }).body]).toEqual([65, 0]);
  });
  const bad: Array<[string, string]> = [
    ['not json', ''], ['[]', ''], ['{"props": {}}', '/props'], ['{"properties": {"a": 1}}', '/properties/a'], ['{"properties": {"a": null}}', '/properties/a'],
    ['{"systemProperties": []}', '/systemProperties'], ['"text"', ''],
  ];
  for (const [text, pointer] of bad) {
    it(`refuses ${text}`, () => {
      try {
        parseRouteMessageText(text, 'm.json');
        expect.unreachable();
      } catch (e) {
        expect(isFerryError(e) && e.code).toBe('FERRY_E_ROUTE_MESSAGE_INVALID');
        expect((e as { details: { pointer: string } }).details.pointer).toBe(pointer);
      }
    });
  }
});
