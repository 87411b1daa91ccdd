import { describe, expect, it } from 'vitest';
import { quietPayload } from '../src/edge/quiet-payload.js';

describe('quietPayload', () => {
  it('answers an argument-less toString briefly and leaves every other use of the bytes alone', () => {
    const text = JSON.stringify({ data: [[1.5, 2, 3]] });
    const payload = Buffer.from(text, 'utf8');
    const plain = Buffer.from(payload);
    quietPayload(payload);
    expect(payload.toString()).toBe(`<${payload.length} bytes>`);
    expect(JSON.stringify(payload.toString())).toBe(JSON.stringify(`<${payload.length} bytes>`));
    expect(payload.toString('utf8')).toBe(text);
    expect(payload.toString('hex', 0, 4)).toBe(plain.toString('hex', 0, 4));
    expect(payload.equals(plain)).toBe(true);
    expect(JSON.parse(payload.toString('utf8'))).toEqual({ data: [[1.5, 2, 3]] });
    expect(Object.keys(payload)).toEqual(Object.keys(plain));
    // Other buffers are untouched.
    expect(plain.toString()).toBe(text);
  });
});
