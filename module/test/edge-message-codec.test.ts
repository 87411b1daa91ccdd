/** Decoding input messages and building result/error messages (module/src/edge/message-codec.ts). */
import { describe, expect, it } from 'vitest';
import { decodeInput, errorMessage, featureValue, parseShape, resultMessage } from '../src/edge/message-codec.js';
import type { InboundMessage } from '../src/edge/message-codec.js';
import { scoringError } from '../src/errors.js';

const msg = (data: Buffer | string, o: Partial<InboundMessage> = {}): InboundMessage => ({ data: Buffer.isBuffer(data) ? data : Buffer.from(data), properties: {}, ...o });

describe('decodeInput', () => {
  it('hands UTF-8 JSON (or no content type) to the runtime as bytes', () => {
    const body = Buffer.from('{"data":[[1,2]]}');
    expect(decodeInput(msg(body, { contentType: 'application/json; charset=utf-8', contentEncoding: 'UTF-8' }), {})).toEqual({ kind: 'json-bytes', body });
    expect(decodeInput(msg(body), {})).toEqual({ kind: 'json-bytes', body });
  });

  it('re-encodes UTF-16 and UTF-32 bodies to UTF-8', () => {
    const text = '{"data":[[1,2]],"s":"é😀"}';
    const utf32 = Buffer.alloc(4 * [...text].length);
    [...text].forEach((ch, i) => utf32.writeUInt32LE(ch.codePointAt(0) as number, i * 4));
    for (const [data, enc] of [[Buffer.from(text, 'utf16le'), 'utf-16'], [utf32, 'utf-32']] as const) {
      const req = decodeInput(msg(data, { contentType: 'application/json', contentEncoding: enc }), {});
      expect(req.kind === 'json-bytes' && req.body.toString('utf8')).toBe(text);
    }
  });

  it.each([
    [msg('', { contentType: 'application/json' }), 'FERRY_E_EDGE_BODY_UNDECODABLE'],
    [msg(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), { contentType: 'application/json' }), 'FERRY_E_EDGE_BODY_UNDECODABLE'],
    [msg('{}', { contentType: 'application/json', contentEncoding: 'base64' }), 'FERRY_E_EDGE_BODY_UNDECODABLE'],
    [msg(Buffer.from([1, 2, 3]), { contentType: 'application/json', contentEncoding: 'utf-16' }), 'FERRY_E_EDGE_BODY_UNDECODABLE'],
    [msg('hi', { contentType: 'text/plain' }), 'FERRY_E_EDGE_CONTENT_TYPE_UNSUPPORTED'],
    [msg('', { contentType: 'application/octet-stream' }), 'FERRY_E_EDGE_BODY_UNDECODABLE'],
    [msg('abcd', { contentType: 'application/octet-stream', properties: { 'Ferry-Shape': '2,x' } }), 'FERRY_E_EDGE_SHAPE_INVALID'],
  ])('refuses %#', (m, code) => {
    expect(() => decodeInput(m, {})).toThrow(expect.objectContaining({ code }));
  });

  it('passes raw tensors on with the ferry-shape property (names are case-insensitive)', () => {
    const body = Buffer.alloc(16);
    expect(decodeInput(msg(body, { contentType: 'application/octet-stream', properties: { 'FERRY-SHAPE': '[1, 4]' } }), {})).toEqual({ kind: 'binary', body, shape: [1, 4] });
    expect(decodeInput(msg(body, { contentType: 'application/octet-stream' }), {})).toEqual({ kind: 'binary', body });
  });

  it('builds one row per model input from JSON pointers (edge.features)', () => {
    const body = JSON.stringify({ machine: { temperature: 21.5, pressure: 1 }, 'a/b': [5, true] });
    const req = decodeInput(msg(body, { contentType: 'application/json' }), { features: { data: ['/machine/temperature', '/machine/pressure'], extra: ['/a~1b/0', '/a~1b/1'] } });
    expect(req).toEqual({ kind: 'json', value: { data: [[21.5, 1]], extra: [[5, 1]] } });
    expect(() => decodeInput(msg('nope', { contentType: 'application/json' }), { features: { data: ['/x'] } })).toThrow(expect.objectContaining({ code: 'FERRY_E_EDGE_BODY_UNDECODABLE' }));
    expect(() => featureValue({ x: { y: '1' } }, '/x/y')).toThrow(expect.objectContaining({ code: 'FERRY_E_EDGE_FEATURE_INVALID', details: { pointer: '/x/y' } }));
    expect(() => featureValue({ x: null }, '/x/y')).toThrow(expect.objectContaining({ code: 'FERRY_E_EDGE_FEATURE_INVALID' }));
    expect(() => featureValue({ __proto__: { polluted: 1 } }, '/polluted')).toThrow(expect.objectContaining({ code: 'FERRY_E_EDGE_FEATURE_INVALID' }));
  });

  it('parseShape takes comma lists and JSON arrays of positive integers', () => {
    expect(parseShape('1,3,48,192')).toEqual([1, 3, 48, 192]);
    expect(parseShape(' [2, 2] ')).toEqual([2, 2]);
    for (const bad of ['', '0,1', '-1', '1.5', '[1,,2]']) expect(() => parseShape(bad)).toThrow(expect.objectContaining({ code: 'FERRY_E_EDGE_SHAPE_INVALID' }));
  });
});

describe('result and error messages', () => {
  const input = msg('{}', { messageId: 'm-1', properties: { Seq: '7', other: 'x' } });

  it('a result is correlated to the input, carries the configured properties and names the model', () => {
    const out = resultMessage(input, { body: Buffer.from('{"y":1}'), modelName: 'linear', modelVersion: 3, scoreMs: 1.23456, carry: ['seq', 'missing'] });
    expect(out).toEqual({ body: Buffer.from('{"y":1}'), correlationId: 'm-1', contentType: 'application/json', contentEncoding: 'utf-8', properties: { seq: '7', modelName: 'linear', modelVersion: '3', scoreMs: '1.235' } });
  });

  it('an error message holds {code, reason, messageId} and the coded details', () => {
    const e = scoringError('FERRY_E_REQUEST_INVALID', 'data must be an array', { details: { pointer: '/data' } });
    const out = errorMessage(input, e, []);
    expect(out.correlationId).toBe('m-1');
    expect(out.properties).toEqual({ errorCode: 'FERRY_E_REQUEST_INVALID' });
    expect(JSON.parse(out.body.toString())).toEqual({ code: 'FERRY_E_REQUEST_INVALID', reason: 'data must be an array', messageId: 'm-1', details: { pointer: '/data' } });
    expect(JSON.parse(errorMessage(msg(''), new Error('boom'), []).body.toString())).toEqual({ code: 'FERRY_E_SCORING_FAILED', reason: 'boom', messageId: null });
  });
});
