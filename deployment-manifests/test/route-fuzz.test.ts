/**
 * Fuzzing the route and condition compiler: random token soups, random characters and mutations
 * of valid routes. Every input must either compile (and then evaluate to one of the three results
 * without throwing) or fail with FERRY_E_ROUTE_INVALID; never another exception, never a hang.
 * FUZZ_CASES=n raises the number of cases per kind (default 1500).
 */
import { describe, expect, it } from 'vitest';
import { compileCondition, compileRoute } from '../src/routes/route.js';
import { parseRouteMessage } from '../src/routes/message.js';
import { isFerryError } from '../src/errors.js';

const CASES = Number(process.env['FUZZ_CASES'] ?? 1500);

// xorshift32: deterministic, so a failure is reproducible from its case number
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const PIECES = [
  'FROM', 'SELECT', '*', 'WHERE', 'INTO', '/messages', '/modules', '/', '$upstream', 'BrokeredEndpoint', '("/modules/a/inputs/b")',
  '(', ')', ',', '{', '}', '[', ']', '+', '-', '*', '/', '%', '||', '??', '=', '!=', '<>', '<', '<=', '>', '>=', 'AND', 'or', 'NOT',
  'true', 'false', 'null', 'undefined', '0', '-1', '3.5', '.5e3', '0x1F', '0xFFFFFFFFFFFFFFFFFF', 'e5', "'str'", '"s\\"q"', "'\\u0041'", "'open", '"',
  'key1', 'KEY2', '$sys1', '$body.a', '$body.a[0].b', '$body.', '$body..x', '{$body.a}', '$', '$a[1]', 'abs', 'concat', 'substring', 'is_defined',
  'as_number', 'length', 'power', 'foo', '/*', '*/', ' ', '\n', '\t', '@', ';', '\\', '\u00e9', '\ud83d\ude00', '\ud83d', '\0',
];

const VALID = [
  "FROM /messages/modules/m1/outputs/out1 WHERE $body.temp > 20 AND key1 = 'x' INTO BrokeredEndpoint(\"/modules/m2/inputs/in1\")",
  "SELECT * FROM /messages/* WHERE as_number(key2) * 3 + 1 >= 10 OR NOT is_defined($connectionModuleId) INTO $upstream",
  "FROM /messages/* WHERE concat(lower(key1), 'a', substring($messageId, 1, 2)) <> 'q' AND ({$body.x[1]} ?? 3) = 3 INTO $upstream",
];

const message = parseRouteMessage({
  properties: { key1: 'x', KEY2: '3', $sys1: 'a' },
  systemProperties: { connectionModuleId: 'm1', outputName: 'out1', messageId: 'abcdef', contentType: 'application/json', contentEncoding: 'utf-8' },
  body: { temp: 25, a: [{ b: 1 }], x: [1, 2] },
});

function attempt(text: string): 'compiled' | 'refused' {
  for (const compile of [compileRoute, compileCondition]) {
    let compiled;
    try {
      compiled = compile(text);
    } catch (e) {
      if (!isFerryError(e) || e.code !== 'FERRY_E_ROUTE_INVALID') throw new Error(`${JSON.stringify(text)} threw ${String(e)}`);
      const d = e.details as { line: number; column: number };
      if (!(d.line >= 1 && d.column >= 1)) throw new Error(`${JSON.stringify(text)}: bad position ${JSON.stringify(d)}`);
      continue;
    }
    const result = compiled.evaluate(message);
    if (result !== 'true' && result !== 'false' && result !== 'undefined') throw new Error(`${JSON.stringify(text)} evaluated to ${String(result)}`);
    return 'compiled';
  }
  return 'refused';
}

function run(kind: string, make: (random: () => number) => string): void {
  it(`${kind}: ${CASES} cases compile or are refused with FERRY_E_ROUTE_INVALID`, () => {
    const random = rng(kind.length * 7919 + 17);
    const counts = { compiled: 0, refused: 0 };
    const start = performance.now();
    for (let i = 0; i < CASES; i++) {
      const text = make(random);
      const t0 = performance.now();
      counts[attempt(text)]++;
      expect(performance.now() - t0, `case ${i} is slow: ${JSON.stringify(text.slice(0, 200))}`).toBeLessThan(1000);
    }
    expect(counts.compiled + counts.refused).toBe(CASES);
    expect(performance.now() - start).toBeLessThan(20_000 + CASES * 5);
  });
}

const pick = <T>(random: () => number, xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;

describe('route fuzzer', () => {
  run('token soup', (random) => Array.from({ length: 1 + Math.floor(random() * 30) }, () => pick(random, PIECES)).join(random() < 0.5 ? ' ' : ''));
  run('random characters', (random) => Array.from({ length: Math.floor(random() * 60) }, () => String.fromCharCode(random() < 0.8 ? 32 + Math.floor(random() * 95) : Math.floor(random() * 0xffff))).join(''));
  run('mutated valid routes', (random) => {
    let text = pick(random, VALID);
    for (let n = 1 + Math.floor(random() * 4); n > 0; n--) {
      const at = Math.floor(random() * (text.length + 1));
      const r = random();
      if (r < 0.3) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 5));
      else if (r < 0.6) text = text.slice(0, at) + pick(random, PIECES) + text.slice(at);
      else if (r < 0.8) text = text.slice(0, at) + text.slice(at, at + 10) + text.slice(at);
      else text = text.slice(0, at) + String.fromCharCode(32 + Math.floor(random() * 95)) + text.slice(at + 1);
    }
    return text;
  });
  run('deep and long inputs', (random) => {
    const n = 50 + Math.floor(random() * 400);
    const piece = pick(random, ['(', 'not ', '- ', 'abs(', "concat('a', ", '{', '/*']);
    return `${piece.repeat(n)}1${pick(random, [')', '', ' = 1', " and true"]).repeat(Math.floor(random() * n))}`;
  });

  it('the valid routes it mutates do compile', () => {
    for (const text of VALID) expect(attempt(text)).toBe('compiled');
    expect(compileRoute(VALID[0] as string).evaluate(message)).toBe('true');
  });
});
