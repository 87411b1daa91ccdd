import { describe, expect, it } from 'vitest';
import {
  buildOpenApi3, buildSwagger2, inputFromQuery, inputSchemaFromSignature, outputSchemaFromSignature, schemaFromSample, tensorSchema,
} from '../src/openapi/index.js';
import type { JsonSchema } from '../src/openapi/index.js';
import type { ValueSignature } from '../src/onnx/model-info.js';

const linearIn: ValueSignature = { name: 'data', kind: 'tensor', elementType: 'float32', shape: ['batch', 4] };
const ids: ValueSignature = { name: 'ids', kind: 'tensor', elementType: 'int64', shape: [null, 3] };

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('schemas', () => {
  it('infers a closed input schema from a sample', () => {
    const sample = { data: [[1, 2.5], [3, 4]], label: 'x', opts: { deep: true, n: null } };
    const s = schemaFromSample(sample);
    expect(s).toEqual({
      type: 'object',
      properties: {
        data: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
        label: { type: 'string' },
        opts: { type: 'object', properties: { deep: { type: 'boolean' }, n: {} }, required: ['deep', 'n'] },
      },
      required: ['data', 'label', 'opts'],
      additionalProperties: false,
      example: sample,
    });
    expect(schemaFromSample({ a: 1 }, { closed: false }).additionalProperties).toBeUndefined();
    expect(schemaFromSample([1, 'a']).items).toEqual({});
  });

  it('turns a tensor signature into nested arrays with fixed sizes', () => {
    expect(tensorSchema(linearIn)).toMatchObject({
      type: 'array', items: { type: 'array', minItems: 4, maxItems: 4, items: { type: 'number', format: 'float' } },
    });
    expect(tensorSchema(linearIn).minItems).toBeUndefined();
    const i64 = tensorSchema(ids) as { items: { items: JsonSchema } };
    expect(i64.items.items.oneOf).toEqual([{ type: 'integer', format: 'int64' }, { type: 'string', pattern: '^-?[0-9]+$' }]);
  });

  it('accepts "data" or the input name for single-input models, every name otherwise', () => {
    const one = inputSchemaFromSignature([linearIn]);
    expect(Object.keys(one.properties as object)).toEqual(['data']);
    const x = inputSchemaFromSignature([{ ...linearIn, name: 'x' }]);
    expect(x).toMatchObject({ properties: { data: {}, x: {} }, minProperties: 1, maxProperties: 1, additionalProperties: false });
    const two = inputSchemaFromSignature([linearIn, ids]);
    expect(two.required).toEqual(['data', 'ids']);
    expect(outputSchemaFromSignature([ids]).required).toEqual(['ids']);
  });
});

describe('documents', () => {
  const schemas = { input: inputSchemaFromSignature([ids]), output: outputSchemaFromSignature([ids]) };

  it('OpenAPI 3: paths, ServiceInput/ServiceOutput, bearer key, GET parameters', () => {
    const doc = buildOpenApi3({ title: 'svc', schemas, host: '127.0.0.1:8890', binaryInput: true }) as Doc;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.servers).toEqual([{ url: 'http://127.0.0.1:8890' }]);
    expect(Object.keys(doc.paths)).toEqual(['/', '/score']);
    expect(Object.keys(doc.paths['/score'])).toEqual(['post', 'get']);
    expect(doc.paths['/score'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ServiceInput' });
    expect(doc.paths['/score'].post.requestBody.content['application/octet-stream']).toBeDefined();
    expect(doc.paths['/score'].get.parameters.map((p: { name: string; in: string }) => [p.name, p.in])).toEqual([['data', 'query'], ['ids', 'query']]);
    expect(doc.components.schemas.ServiceInput).toBe(schemas.input);
    expect(doc.components.schemas.ServiceOutput).toBe(schemas.output);
    expect(doc.components.securitySchemes.Bearer).toMatchObject({ type: 'apiKey', name: 'Authorization', in: 'header' });
    expect(doc.security).toEqual([{ Bearer: [] }]);
    expect(doc.paths['/'].get.security).toEqual([]);
    // Every $ref points at a component that exists.
    const refs = JSON.stringify(doc).match(/"\$ref":"#\/components\/schemas\/(\w+)"/g) ?? [];
    for (const r of refs) expect(doc.components.schemas[r.split('/').pop()?.replace('"', '') as string]).toBeDefined();
  });

  it('Swagger 2: definitions without oneOf, and no security with auth off', () => {
    const doc = buildSwagger2({ title: 'svc', schemas, auth: false }) as Doc;
    expect(doc.swagger).toBe('2.0');
    expect(doc.securityDefinitions).toBeUndefined();
    expect(doc.security).toBeUndefined();
    expect(JSON.stringify(doc.definitions)).not.toContain('oneOf');
    expect(doc.definitions.ServiceInput.properties.ids.items.items).toEqual({ type: 'integer', format: 'int64' });
    expect(doc.paths['/score'].post.parameters[0]).toMatchObject({ in: 'body', schema: { $ref: '#/definitions/ServiceInput' } });
    expect(doc.paths['/score'].get.parameters[0]).toMatchObject({ in: 'query', type: 'string' });
    const withAuth = buildSwagger2({ title: 'svc', schemas }) as Doc;
    expect(withAuth.securityDefinitions.Bearer.in).toBe('header');
  });
});

describe('inputFromQuery', () => {
  it('parses JSON values, keeps other strings, takes the first of repeated keys', () => {
    const q = new URLSearchParams('data=[[1,2]]&name=alice&n=3&flag=true&n=4&__proto__={"x":1}');
    const v = inputFromQuery(q);
    expect(v).toEqual({ data: [[1, 2]], name: 'alice', n: 3, flag: true, ['__proto__']: { x: 1 } });
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toContain('__proto__');
  });
});
