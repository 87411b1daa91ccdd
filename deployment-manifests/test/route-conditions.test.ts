/**
 * The condition language, table-driven: three-valued logic, every operator and built-in, property
 * case rules, $name vs {$name}, $body by content type and encoding, literals and compile errors with
 * positions. Expected values follow iotedge Routing.Core's semantics (query/*.cs and its tests).
 */
import { describe, expect, it } from 'vitest';
import { compileCondition } from '../src/routes/route.js';
import { parseRouteMessage, type RouteMessage } from '../src/routes/message.js';
import { isFerryError } from '../src/errors.js';

const BODY = {
  message: {
    Weather: {
      Temperature: 50, Freezing: -50.4, Precise: 50.4, Conflict: 50, NullValue: null, Time: '2017-03-09T00:00:00.000Z',
      Prev: [20, 30, 40], IsEnabled: true, IsDisabled: false,
      Location: { Street: 'One Microsoft Way', City: 'Redmond', State: 'WA' },
      History: [{ Month: 'Feb', Temperature: 40 }, { Month: 'Jan', Temperature: 30 }],
      NumText: '42',
    },
  },
};

const M: RouteMessage = parseRouteMessage({
  properties: { key1: 'value1', key2: '3', key3: 'VALUE3', $sys4: 'value4', City: 'Redmond', $State: 'WA', '$body.message.Weather.Conflict': '100', empty: '' },
  systemProperties: {
    sys1: 'sysvalue1', sys2: '4', sys4: 'sysvalue4', State: 'CA', connectionDeviceId: 'dev1', connectionModuleId: 'mod1',
    messageId: 'mid-7', correlationId: 'cid-9', outputName: 'out1', creationTime: '2024-01-01T00:00:00Z',
    contentType: 'application/json', contentEncoding: 'UTF-8',
  },
  body: BODY,
});

type Case = [string, 'true' | 'false' | 'undefined'];
const run = (cases: Case[], message: RouteMessage = M) => {
  for (const [condition, expected] of cases) {
    it(`${condition} -> ${expected}`, () => expect(compileCondition(condition).evaluate(message)).toBe(expected));
  }
};

describe('literals and three-valued logic', () => run([
  ['true', 'true'], ['false', 'false'], ['undefined', 'undefined'], ['null', 'false'], ['not null', 'true'],
  ['', 'undefined'], ['  ', 'undefined'], ['3', 'undefined'], ["'a string'", 'undefined'], ['"a string"', 'undefined'],
  ['not true', 'false'], ['not false', 'true'], ['NOT (true and false)', 'true'], ['not not true', 'true'],
  ['true AND true', 'true'], ['true and false', 'false'], ['false And true', 'false'], ['false and false', 'false'],
  ['true OR true', 'true'], ['true or false', 'true'], ['false oR true', 'true'], ['false or false', 'false'],
  ['undefined or false', 'undefined'], ['undefined or true', 'true'], ['true or undefined', 'true'], ['false or undefined', 'undefined'],
  ['undefined or undefined', 'undefined'], ['true and undefined', 'undefined'], ['false and undefined', 'false'],
  ['undefined and false', 'false'], ['undefined and true', 'undefined'], ['undefined and undefined', 'undefined'],
  ['undefined < undefined', 'undefined'], ['undefined = undefined', 'undefined'],
  ["true or none = 'x'", 'true'], ["false or none = 'x'", 'undefined'], ["none = 'x' or true", 'true'], ["none = 'x' or false", 'undefined'],
  ["true and none = 'x'", 'undefined'], ["false and none = 'x'", 'false'], ["none = 'x' and false", 'false'], ["not (none = 'x')", 'undefined'],
  ['null and null', 'false'], ['(null and null) = null', 'true'], ['(null and false) = null', 'true'], ['(null and true) = null', 'true'],
  ['null or true', 'true'], ['null or false', 'false'], ['true or null', 'true'], ['(null or null) = null', 'true'], ['null = null', 'true'],
  ['null <> null', 'false'], ['null <= null', 'true'], ['null < null', 'false'],
  ['true = true', 'true'], ['true = false', 'false'], ['true != false', 'true'], ['true <> true', 'false'], ['false < true', 'true'], ['true >= false', 'true'],
  ['(is_defined(none) = true) = false', 'true'],
  // precedence: NOT and unary minus bind tightest; AND before OR; comparison before AND; ?? lowest
  ['not false and false', 'false'], ['true or true and false', 'true'], ['(true or true) and false', 'false'],
  ['1 + 2 * 3 = 7', 'true'], ['(1 + 2) * 3 = 9', 'true'], ['10 - 4 - 3 = 3', 'true'], ['2 * 3 % 4 = 2', 'true'], ['-2 * 3 = -6', 'true'],
  ['- (3 + 4) = -7', 'true'], ['-(3 + 4) = -7', 'true'], ['1 < 2 = true', 'true'],
]));

describe('numbers', () => run([
  ['3 = 3', 'true'], ['3 = 4', 'false'], ['3 != 4', 'true'], ['3 <> 3', 'false'], ['4 < 7', 'true'], ['7 < 7', 'false'], ['7 <= 7', 'true'],
  ['8 > 7', 'true'], ['7 >= 7', 'true'], ['3 + 4 = 7', 'true'], ['3 - 4 = -1', 'true'], ['3 * 4 = 12', 'true'], ['3 / 4 = 0.75', 'true'], ['4 % 3 = 1', 'true'],
  ['-7 % 3 = -1', 'true'], ['-1 < 0', 'true'], ['1.5 = 1.50', 'true'], ['.5 = 0.5', 'true'], ['-.5 = -0.5', 'true'], ['1e3 = 1000', 'true'], ['1.5E-1 = 0.15', 'true'],
  ['0x10 = 16', 'true'], ['0XfF = 255', 'true'], ['0x7FFFFFFFFFFFFFFF > 9e18', 'true'], ['0xFFFFFFFFFFFFFFFF = -1', 'true'], ['is_defined(0x10000000000000000)', 'false'],
  ['3 / 0 > 1e308', 'true'], ['is_defined(3 / 0)', 'true'], ['is_defined(0 / 0)', 'false'], ['is_defined(3 % 0)', 'false'], ['is_defined(10e1000)', 'true'],
  ['10e1000 = 1/0', 'true'], ['0 = -0', 'true'], ['e5', 'undefined'], ['is_defined(e5)', 'false'],
  ['is_defined(3 + as_number(none))', 'false'], ['3 < as_number(none)', 'undefined'], ['(3 + as_number(key2)) = 6', 'true'], ['(3 % as_number(key2)) = 0', 'true'],
]));

describe('strings', () => run([
  ["'3' = '3'", 'true'], ['"3" = "4"', 'false'], ["'a' < 'b'", 'true'], ["'a' < 'a'", 'false'], ["'b' > 'a'", 'true'], ["'a' >= 'a'", 'true'],
  ["'B' < 'a'", 'true'], ["'abc' < 'abd'", 'true'], ["'' < 'a'", 'true'], ["'a' = 'A'", 'false'],
  ["'it\\'s' = \"it's\"", 'true'], ['"say \\"hi\\"" = \'say "hi"\'', 'true'], ["'back\\\\slash' = 'back' || '\\\\' || 'slash'", 'true'],
  ["'\\u0041\\u00e9' = 'Aé'", 'true'], ["length('\\u0041') = 1", 'true'], ["'\\\\u0041' = '\\\\A'", 'true'],
  ["'a' || 'b' || 'c' = 'abc'", 'true'], ["'a' || key1 || 'd' = 'avalue1d'", 'true'], ["is_defined('a' || none)", 'false'],
  ["'a' /* a comment */ = 'a'", 'true'], ["'a' = 'a' /* trailing */", 'true'],
]));

describe('properties: case rules, $name and {$name}', () => run([
  ["key1 = 'value1'", 'true'], ["KEY1 = 'value1'", 'true'], ["Key1 = 'VALUE1'", 'false'], ["key2 = '3'", 'true'], ["key1 = 'value2'", 'false'],
  ["none = 'value1'", 'undefined'], ["none <> 'x'", 'undefined'], ['is_defined(none)', 'false'], ['is_defined(key1)', 'true'], ["empty = ''", 'true'],
  ["$sys4 = 'value4'", 'true'], ["$SYS4 = 'value4'", 'true'], ["{$sys4} = 'sysvalue4'", 'true'], ["{ $sys4 } = 'sysvalue4'", 'true'],
  ["$sys1 = 'sysvalue1'", 'true'], ["{$sys1} = 'sysvalue1'", 'true'], ["$SYS1 = 'sysvalue1'", 'true'], ["sys1 = 'sysvalue1'", 'undefined'],
  ["$State = 'WA'", 'true'], ["{$State} = 'CA'", 'true'], ['is_defined($none)', 'false'], ['is_defined({$none})', 'false'],
  ["$connectionDeviceId = 'dev1'", 'true'], ["$connectionModuleId = 'mod1'", 'true'], ["$messageId = 'mid-7'", 'true'], ["$correlationId = 'cid-9'", 'true'],
  ["$outputName = 'out1'", 'true'], ["$contentType = 'application/json'", 'true'], ["$contentEncoding = 'UTF-8'", 'true'],
  ["$creationTime > '2023'", 'true'], ["{$connectionModuleId} = 'mod1'", 'true'], ['is_defined($inputName)', 'false'],
  ['as_number($sys2) = 4', 'true'], ["$sys2 = '4'", 'true'], ['as_number(key2) = 3', 'true'], ['as_number(key1) = 3', 'undefined'],
  ['is_defined($a[0])', 'false'],
]));

describe('$body queries', () => {
  run([
    ['$body.message.Weather.Temperature = 50', 'true'], ['50 >= $body.message.Weather.Temperature', 'true'], ['$BODY.message.Weather.Temperature >= 50', 'true'],
    ['$body.message.Weather.Temperature <> 500', 'true'], ['$body.message.Weather.Temperature = 40 + 10', 'true'],
    ['$body.message.Weather.Temperature >= $body.message.Weather.Prev[0] + $body.message.Weather.Prev[1]', 'true'],
    ['$body.message.Weather.Prev[1] * $body.message.Weather.Prev[2] = 1200', 'true'], ['$body.message.Weather.Prev[1] / $body.message.Weather.Prev[0] = 1.5', 'true'],
    ['$body.message.Weather.History[0].Temperature - 10 = $body.message.Weather.History[1].Temperature', 'true'],
    ["$body.message.Weather.History[0].Month = 'Feb'", 'true'], ['$body.message.Weather.Temperature < 50', 'false'],
    // no implicit conversion: a number never equals a string
    ["$body.message.Weather.Temperature = '50'", 'false'], ["$body.message.Weather.Temperature <> '100'", 'true'],
    ['$body.message.Weather.Location.City = City', 'true'], ['$body.message.Weather.Location.State = $State', 'true'],
    ['$body.message.Weather.IsEnabled', 'true'], ['$body.message.Weather.IsEnabled = true', 'true'], ['NOT $body.message.Weather.IsDisabled', 'true'],
    ['$body.message.Weather.IsEnabled AND $body.message.Weather.IsEnabled', 'true'], ['$body.message.Weather.IsDisabled OR NOT($body.message.Weather.IsDisabled)', 'true'],
    ['$body.message.Weather.IsDisabled AND false', 'false'], ['$body.missing AND false', 'undefined'],
    ['$body.message.Weather.NullValue = null', 'true'], ['$body.message.Temperature = null', 'true'], ['$body.message.Weather.InvalidKey = null', 'true'],
    ['NOT ($body.message.Weather.InvalidKey != null)', 'true'], ['$body.message.Weather.Temperature != null', 'true'],
    // an object (or array, or a date string that Json.NET reads as a date) is undefined
    ['$body.message.Weather <> null', 'undefined'], ['$body.message.Weather.Prev = null', 'undefined'], ["$body.message.Weather.Time <> '100'", 'undefined'],
    ['$body.message.Weather.History[0].Temperature.InvalidKey = null', 'true'], ['$body.message.Weather.Prev[9] = null', 'true'],
    ['$body.message.Weather.Location[0] = null', 'true'], ['$body.message.Weather.Temperature[0] = null', 'true'],
    ['$body', 'undefined'], ['$City <> $body.message.Weather.InvalidKey', 'undefined'],
    // an application property named like the query wins; {$body...} forces the body
    ["$body.message.Weather.Conflict = '100'", 'true'], ['as_number($body.message.Weather.Conflict) = 100', 'true'], ['{$body.message.Weather.Conflict} = 50', 'true'],
    ['$body.message.Weather.Location.City + 1 = 1', 'undefined'], ['- $body.message.Weather.Temperature = -50', 'true'], ['$body.message.Weather.Temperature % 7 = 1', 'true'],
    // values of different types order by type (bool < number < string < null), as QueryValue.CompareTo does
    ["$body.message.Weather.NumText > 40", 'true'], ['$body.message.Weather.NullValue > 40', 'true'], ['as_number($body.message.Weather.NumText) > 40', 'true'],
    ["$body.message.Weather.Location.City < 'S'", 'true'], ['$body.message.Weather.IsEnabled > 1', 'false'],
    ["($body.message.Weather.Nope ?? 'x') = null", 'true'], ["($body.nope.nope ?? 5) = 5", 'false'],
    ['abs($body.message.Weather.Freezing) = 50.4', 'true'], ['ceiling(as_number($body.message.Weather.Precise)) = 51', 'true'],
    ["concat($body.message.Weather.Location.Street, ', ', $body.message.Weather.Location.City) = 'One Microsoft Way, Redmond'", 'true'],
    ["contains($body.message.Weather.Location.Street, 'Microsoft')", 'true'], ["ends_with($body.message.Weather.Location.Street, 'Way')", 'true'],
    ["index_of($body.message.Weather.Location.Street, 'Way') > 6", 'true'], ['is_defined($body.message.Weather.Location.Street)', 'true'],
    ['is_null($body.message.Weather.NullValue)', 'true'], ['is_null($body.message.Weather.Temperature)', 'false'], ['is_null($body.message.Weather)', 'undefined'],
    ['is_string($body.message.Weather.Location.Street)', 'true'], ['is_string($body.message.Weather.Temperature)', 'false'],
    ['is_number($body.message.Weather.Temperature)', 'true'], ['is_bool($body.message.Weather.IsEnabled)', 'true'], ['is_bool($body.message.Weather.Temperature)', 'false'],
    ['is_bool($body.message.Weather)', 'undefined'], ['is_defined($body.message.Weather)', 'false'], ['is_defined($body.message.Nope)', 'true'],
    ['length($body.message.Weather.Location.State) = 2', 'true'], ["lower($body.message.Weather.Location.State) = 'wa'", 'true'],
    ['power($body.message.Weather.Temperature, 2) = 2500', 'true'], ['sign($body.message.Weather.Freezing) = -1', 'true'], ['square($body.message.Weather.Temperature) = 2500', 'true'],
    ["substring($body.message.Weather.Location.Street, 4, length('Microsoft')) = 'Microsoft'", 'true'], ["upper($body.message.Weather.Location.Street) = 'ONE MICROSOFT WAY'", 'true'],
    ['length($body.message.Weather.Temperature) = 2', 'undefined'], ['abs($body.message.Weather.Location.City) = 1', 'undefined'],
  ]);

  const msg = (systemProperties: Record<string, string>, body: unknown): RouteMessage => parseRouteMessage({ systemProperties, body });
  const json = { contentType: 'application/json', contentEncoding: 'utf-8' };
  const byType: Array<[string, Record<string, string>, unknown, 'true' | 'false' | 'undefined']> = [
    ['utf-8 JSON', json, { a: 1 }, 'true'],
    ['type and encoding in other case', { contenttype: 'Application/JSON', CONTENTENCODING: 'UTF-8' }, { a: 1 }, 'true'],
    ['utf-16 (little-endian)', { ...json, contentEncoding: 'utf-16' }, '{"a": 1}', 'true'],
    ['utf-32 (little-endian)', { ...json, contentEncoding: 'utf-32' }, '{"a": 1}', 'true'],
    ['no content type', { contentEncoding: 'utf-8' }, { a: 1 }, 'undefined'],
    ['no content encoding', { contentType: 'application/json' }, { a: 1 }, 'undefined'],
    ['text/plain', { ...json, contentType: 'text/plain' }, { a: 1 }, 'undefined'],
    ['a charset parameter is another type', { ...json, contentType: 'application/json; charset=utf-8' }, { a: 1 }, 'undefined'],
    ['ascii encoding', { ...json, contentEncoding: 'ascii' }, { a: 1 }, 'undefined'],
    ['not JSON', json, '{"a": 1', 'undefined'],
    ['a JSON array body', json, [1], 'undefined'],
    ['a byte order mark', json, '\ufeff{"a": 1}', 'true'],
  ];
  for (const [name, sys, body, expected] of byType) {
    it(`$body.a = 1 with ${name} -> ${expected}`, () => expect(compileCondition('$body.a = 1').evaluate(msg(sys, body))).toBe(expected));
  }
  it('utf-16 bytes read as utf-8 do not parse', () => {
    const m = msg({ ...json, contentEncoding: 'utf-16' }, '{"a": 1}');
    expect(compileCondition('$body.a = 1').evaluate({ ...m, systemProperties: json })).toBe('undefined');
  });
  it('Json.NET dates: only valid ISO dates are undefined', () => {
    const c = compileCondition("is_string($body.d)");
    expect(c.evaluate(msg(json, { d: '2017-03-09' }))).toBe('false');
    expect(c.evaluate(msg(json, { d: '2017-13-09' }))).toBe('true');
    expect(c.evaluate(msg(json, { d: '2017-03-09T10:00:00+01:00' }))).toBe('false');
    expect(c.evaluate(msg(json, { d: 'March 9' }))).toBe('true');
  });
});

describe('functions', () => run([
  ['abs(-12) = 12', 'true'], ['ABS(as_number(key2)) = 3', 'true'], ['is_defined(abs(as_number(key1)))', 'false'], ['is_defined(abs(3 / 0))', 'true'], ['is_defined(abs(3 % 0))', 'false'],
  ['exp(0) = 1', 'true'], ['abs(exp(1) - 2.718281) < 1e-6', 'true'], ['exp(4000) = 3/0', 'true'], ['is_defined(exp(3 % 0))', 'false'],
  ['power(2, 3) = 8', 'true'], ['POWER(10, 4000) = 3/0', 'true'], ['power(1, 1/0) = 1', 'true'], ['power(-1, 1/0) = 1', 'true'], ['is_defined(power(-8, 1/3))', 'false'], ['is_defined(power(2, 3 % 0))', 'false'],
  ['square(3) = 9', 'true'], ['is_defined(square(3 / 0))', 'true'],
  ['ceiling(2.1) = 3', 'true'], ['ceiling(-2.1) = -2', 'true'], ['floor(2.9) = 2', 'true'], ['floor(-2.1) = -3', 'true'], ['is_defined(floor(3 % 0))', 'false'],
  ['sign(0) = 0', 'true'], ['sign(2.1) = 1', 'true'], ['sign(-2) = -1', 'true'], ['sign(3 / 0) = 1', 'true'], ['sign(-3 / 0) = -1', 'true'],
  ['sqrt(4) = 2', 'true'], ['sqrt(-4) = -2', 'undefined'], ['is_defined(sqrt(-1))', 'false'], ['is_defined(sqrt(3 / 0))', 'true'],
  ["as_number('3') = 3", 'true'], ["AS_NUMBER('10e10') = 10e10", 'true'], ["AS_NUMBER('10e1000') = 1/0", 'true'], ["as_number('10000000000000000000000000') = 1e25", 'true'],
  ["as_number(' 42 ') = 42", 'true'], ["as_number('1,000.5') = 1000.5", 'true'], ["as_number('-3') = -3", 'true'], ["as_number('3-') = -3", 'true'], ["as_number('(3)') = -3", 'true'],
  ["as_number('0x10') = 16", 'undefined'], ["as_number('apple') = 3", 'undefined'], ["as_number('') = 0", 'undefined'], ["as_number('.') = 0", 'undefined'],
  ['as_number(as_number(4)) * 3 = 12', 'true'], ['as_number(none) = 3', 'undefined'],
  ['is_bool(12.34)', 'false'], ["is_bool('x')", 'false'], ['is_bool(true)', 'true'], ['IS_BOOL(false)', 'true'], ['is_bool(none)', 'false'], ['is_bool(none = \'a\')', 'undefined'], ['is_bool(null)', 'false'],
  ['is_defined(undefined)', 'false'], ['is_defined(null)', 'true'], ['is_defined(key1)', 'true'], ['is_defined(key4)', 'false'], ['is_defined(undefined and true)', 'false'], ["is_defined(as_number('apple'))", 'false'],
  ['is_null(12.34)', 'false'], ["is_null('x')", 'false'], ['is_null(true)', 'false'], ['is_null(null)', 'true'], ['IS_NULL(null)', 'true'], ['is_null(none)', 'false'], ['is_null(3 / 0)', 'false'], ['is_null(undefined)', 'false'],
  ['is_number(12.34)', 'true'], ["is_number('1')", 'false'], ['is_number(true)', 'false'], ['is_number(3 / 0)', 'false'], ['is_number(as_number(key2))', 'true'], ['is_number(as_number(key1))', 'false'], ['is_number(null)', 'false'],
  ['is_string(12.34)', 'false'], ["is_string('x')", 'true'], ['is_string(key1)', 'true'], ['is_string(none)', 'false'], ["is_string('a' || 'b')", 'true'], ['is_string(null)', 'false'],
  ["concat('a', 'b', 'c', 'd') = 'abcd'", 'true'], ["CONCAT('a', key1, 'd') = 'avalue1d'", 'true'], ["is_defined(concat('a', none, 'd'))", 'false'], ["concat('a', 'b') = concat('a', 'b')", 'true'],
  ["length('HELLO') = 5", 'true'], ["LENGTH('') = 0", 'true'], ['length(key3) = 6', 'true'], ['is_defined(length(none))', 'false'], ["length('😀') = 2", 'true'],
  ["lower('HeLLo') = 'hello'", 'true'], ["upper(key1) = 'VALUE1'", 'true'], ['is_defined(lower(none))', 'false'], ['is_defined(upper(none))', 'false'],
  ["substring('abc', 1) = 'bc'", 'true'], ["substring('abc', 2) = 'c'", 'true'], ["SUBSTRING('abc', 3) = ''", 'true'], ["SUBSTRING('abc', 4) = 'c'", 'undefined'],
  ["substring('abc', -1) = ''", 'undefined'], ["substring('abc', 1 % 0) = ''", 'undefined'], ["substring(none, 1) = 'a'", 'undefined'], ["substring('abc', 1.7) = 'bc'", 'true'],
  ["substring('abc', 1, 1) = 'b'", 'true'], ["substring('abc', 1, 0) = ''", 'true'], ["substring('abc', -1, 0) = ''", 'undefined'], ["substring('abc', 1, -2) = ''", 'undefined'],
  ["substring('abc', 3, 0) = ''", 'undefined'], ["substring('hello', 0, 5) = 'hello'", 'true'], ["substring('hello', 4, 1) = 'o'", 'true'], ["substring('hello', 4, 2) = 'o'", 'undefined'],
  ["substring('abc', 1, 1 % 0) = ''", 'undefined'],
  ["index_of('abcdef', 'cd') = 2", 'true'], ["index_of('abc', 'xz') = -1", 'true'], ["INDEX_OF(key1, 'val') = 0", 'true'], ["index_of('abc', '') = 0", 'true'], ["index_of(none, '1') = 0", 'undefined'],
  ["starts_with('abc', 'ab')", 'true'], ["starts_with('abc', 'AB')", 'false'], ["STARTS_WITH(key1, 'val')", 'true'], ["starts_with(none, '1')", 'undefined'],
  ["ends_with('abc', 'bc')", 'true'], ["ends_with('abc', 'xz')", 'false'], ["ends_with('value1value1', key1)", 'true'], ["ends_with(none, '1')", 'undefined'],
  ["contains('abc', 'b')", 'true'], ["contains('abc', 'xz')", 'false'], ["CONTAINS(key1, 'alu')", 'true'], ["contains('abc', none)", 'undefined'],
  ["(key1 ?? 'hello') = 'value1'", 'true'], ["(none ?? 'hello') = 'hello'", 'true'], ["(none ?? none ?? 'hello') = 'hello'", 'true'],
  ['(as_number(key2) ?? 12.34) = 3', 'true'], ['(as_number(key1) ?? 12.34) = 12.34', 'true'], ['(3 % 0 ?? 12.34) = 12.34', 'true'], ["(none ?? none) = 'value'", 'undefined'],
  ['undefined ?? undefined', 'undefined'], ['(null ?? null) = null', 'true'], ['(undefined ?? undefined) = undefined', 'undefined'],
]));

describe('the lexer takes names as edgeHub does', () => run([
  // +, -, *, %, | and ! are name characters: without spaces they are part of a name
  ["3+4 = '7'", 'undefined'], ['is_defined(a-b)', 'false'], ["x! = 'y'", 'undefined'], ["-$body.x = '1'", 'undefined'],
  // <, >, = and parentheses end a name
  ["key1='value1'", 'true'], ["key2<>'4'", 'true'], ['as_number(key2)>2', 'true'],
  // keywords and operators AND/OR/NOT ignore case; true/false/null/undefined are lower case only
  ["TRUE = 'x'", 'undefined'], ["Null = 'x'", 'undefined'], ["true aNd NoT false", 'true'],
]));

function compileError(text: string): { line: number; column: number; found: string; message: string } {
  try {
    compileCondition(text);
  } catch (e) {
    expect(isFerryError(e) && e.code).toBe('FERRY_E_ROUTE_INVALID');
    const d = (e as { details: { line: number; column: number; found: string; message: string } }).details;
    expect((e as Error).message).toContain(`line ${d.line}, column ${d.column}`);
    return d;
  }
  throw new Error(`${text} compiled`);
}

describe('compile errors, each with its position', () => {
  const cases: Array<[string, number, number, string]> = [
    ["key1 > 3", 1, 6, '>'], ["3 = key1", 1, 3, '='], ["key1 = 3", 1, 6, '='], ["$body.a + 'x' = 1", 1, 9, '+'], ["'a' + 'b' = 'ab'", 1, 5, '+'],
    ['3 + true', 1, 3, '+'], ['3 + null', 1, 3, '+'], ['3 + undefined', 1, 3, '+'], ['3 % none', 1, 3, '%'], ["'a' || 3", 1, 5, '||'], ["'a' || null", 1, 5, '||'],
    ['- key1', 1, 1, '-'], ['- true', 1, 1, '-'], ['not key1', 1, 1, 'not'], ['not 3', 1, 1, 'not'], ['not undefined', 1, 1, 'not'],
    ['key1 and true', 1, 6, 'and'], ['true or 3', 1, 6, 'or'], ["undefined and 'x'", 1, 11, 'and'],
    ['key1 ?? 12.34', 1, 6, '??'], ['12.34 ?? key1', 1, 7, '??'], ['key1 ?? null', 1, 6, '??'], ['undefined ?? 5', 1, 11, '??'],
    ['x = undefined', 1, 3, '='], ['null = 3', 1, 6, '='], ['true = 1', 1, 6, '='],
    ['foo(1)', 1, 1, 'foo'], ['is_array(key1)', 1, 1, 'is_array'], ['twin_change_includes(a)', 1, 1, 'twin_change_includes'],
    ['abs()', 1, 1, 'abs'], ['abs(1, 2)', 1, 1, 'abs'], ["abs('a')", 1, 1, 'abs'], ['abs(null)', 1, 1, 'abs'], ['abs(true)', 1, 1, 'abs'], ['abs(undefined)', 1, 1, 'abs'],
    ['exp(key1)', 1, 1, 'exp'], ['power(2)', 1, 1, 'power'], ['power(2, true)', 1, 1, 'power'], ['square(3, 3)', 1, 1, 'square'], ['sqrt(null)', 1, 1, 'sqrt'],
    ['as_number(true)', 1, 1, 'as_number'], ['as_number(null)', 1, 1, 'as_number'], ['is_bool()', 1, 1, 'is_bool'], ['is_defined(1, 2)', 1, 1, 'is_defined'],
    ['concat()', 1, 1, 'concat'], ["concat('a')", 1, 1, 'concat'], ["concat('a', 3)", 1, 1, 'concat'], ["concat('a', null)", 1, 1, 'concat'], ["concat('a', true)", 1, 1, 'concat'],
    ['length(12.34)', 1, 1, 'length'], ['lower(null)', 1, 1, 'lower'], ['upper(true)', 1, 1, 'upper'],
    ["substring('a')", 1, 1, 'substring'], ["substring('a', 'b')", 1, 1, 'substring'], ["substring('a', 1, 2, 3)", 1, 1, 'substring'],
    ["index_of('a')", 1, 1, 'index_of'], ["starts_with('a', 1)", 1, 1, 'starts_with'], ["ends_with(null, 'a')", 1, 1, 'ends_with'], ["contains(true, true)", 1, 1, 'contains'],
    ['none = "', 1, 8, '"'], ["a = 'x", 1, 5, "'x"], ['test == true', 1, 7, '='], ['a @ b', 1, 3, '@'], ['a = (b', 1, 5, '('], ["key1 = 'a')", 1, 11, ')'],
    ['(true', 1, 1, '('], ['true)', 1, 5, ')'], ['a = ', 1, 5, ''], ['= 3', 1, 1, '='], ['3 4', 1, 3, '4'], ['a -1', 1, 3, '-1'], ['abs(1,)', 1, 7, ')'],
    ['{key1}', 1, 2, 'key1'], ['{$a', 1, 4, ''], ['a[0] = 1', 1, 1, 'a[0]'], ["key1 = 'a' INTO $upstream", 1, 12, 'INTO'], ['select', 1, 1, 'select'],
    ['$body.a..b = null', 1, 1, '$body.a..b'], ['$body.a[x] = null', 1, 1, '$body.a[x]'], ['$body.0 = null', 1, 1, '$body.0'],
    ["true and\n  key1 > 3", 2, 8, '>'], ["true\r\nand 3", 2, 1, 'and'], ['/* c */ key1 > 3', 1, 14, '>'],
  ];
  for (const [text, line, column, found] of cases) {
    it(`${JSON.stringify(text)} fails at ${line}:${column} '${found}'`, () => expect(compileError(text)).toMatchObject({ line, column, found }));
  }

  it('lists every type error, the first in details', () => {
    try {
      compileCondition("key1 > 3 and foo(2)");
      expect.unreachable();
    } catch (e) {
      const errors = (e as { details: { errors: Array<{ found: string }> } }).details.errors;
      expect(errors.map((x) => x.found)).toEqual(['>', 'foo']);
    }
  });

  it('refuses nesting past the depth limit with a coded error', () => {
    expect(compileError(`${'('.repeat(5000)}true${')'.repeat(5000)}`).found).toBe('(');
    expect(compileError(`${'not '.repeat(5000)}true`).found).toBe('not');
    expect(compileError(Array.from({ length: 5000 }, () => 'true').join(' and ')).found).toBe('and');
    expect(compileCondition(`${'('.repeat(50)}true${')'.repeat(50)}`).evaluate(M)).toBe('true');
  });
});

describe('speed', () => {
  it('evaluates a typical condition at well over 100,000 messages per second', () => {
    const c = compileCondition("$connectionModuleId = 'mod1' AND as_number(key2) > 2 AND $body.message.Weather.Temperature >= 40");
    const messages = Array.from({ length: 1000 }, () => parseRouteMessage({ properties: { key2: '3' }, systemProperties: { connectionModuleId: 'mod1', contentType: 'application/json', contentEncoding: 'utf-8' }, body: BODY }));
    let trues = 0;
    const start = performance.now();
    for (let round = 0; round < 50; round++) for (const m of messages) if (c.evaluate(m) === 'true') trues++;
    const perSecond = (50 * messages.length) / ((performance.now() - start) / 1000);
    expect(trues).toBe(50 * messages.length);
    expect(perSecond).toBeGreaterThan(100_000);
  });
});
