/**
 * JSON Schemas of a service's input and output (`ServiceInput`, `ServiceOutput`), inferred from the
 * config's samples or, without samples, from the ONNX signature. Written in the subset OpenAPI 3.0
 * and ajv both read; `toSwagger2Schema` narrows one for Swagger 2.
 */
import type { ElementType, ValueSignature } from '../onnx/model-info.js';

export type JsonSchema = Record<string, unknown>;

export interface ServiceSchemas {
  input: JsonSchema;
  output: JsonSchema;
}

/**
 * A schema every value of the sample's structure satisfies. For an input (`closed`, the default) the
 * top-level keys are the scoring function's parameters: all required, no others allowed.
 */
export function schemaFromSample(sample: unknown, opts: { closed?: boolean } = {}): JsonSchema {
  const schema = infer(sample);
  if (schema.type === 'object' && (opts.closed ?? true)) schema.additionalProperties = false;
  schema.example = sample;
  return schema;
}

function infer(v: unknown): JsonSchema {
  if (v === null || v === undefined) return {};
  if (Array.isArray(v)) {
    if (v.length === 0) return { type: 'array', items: {} };
    let items = infer(v[0]);
    for (let i = 1; i < v.length; i++) {
      // Keep the first element's schema while the others agree on the type; mixed arrays accept anything.
      const t = typeOf(v[i]);
      if (t !== items.type && !(t === 'number' && items.type === 'number')) { items = {}; break; }
      if (t !== 'array' && t !== 'object') continue;
      if (i >= 8) break; // large numeric samples: the first few rows decide the structure
      items = mergeSchemas(items, infer(v[i]));
    }
    return { type: 'array', items };
  }
  switch (typeof v) {
    case 'number': return { type: 'number' };
    case 'boolean': return { type: 'boolean' };
    case 'string': return { type: 'string' };
    case 'object': {
      const properties: Record<string, JsonSchema> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) properties[k] = infer(x);
      return { type: 'object', properties, required: Object.keys(properties) };
    }
    default: return {};
  }
}

function typeOf(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

function mergeSchemas(a: JsonSchema, b: JsonSchema): JsonSchema {
  if (JSON.stringify(a) === JSON.stringify(b)) return a;
  if (a.type === 'object' && b.type === 'object') {
    const pa = a.properties as Record<string, JsonSchema>;
    const pb = b.properties as Record<string, JsonSchema>;
    const properties: Record<string, JsonSchema> = {};
    for (const k of new Set([...Object.keys(pa), ...Object.keys(pb)])) {
      properties[k] = pa[k] && pb[k] ? mergeSchemas(pa[k], pb[k]) : (pa[k] ?? pb[k]) as JsonSchema;
    }
    return { type: 'object', properties, required: (a.required as string[]).filter((k) => k in pb) };
  }
  if (a.type === 'array' && b.type === 'array') return { type: 'array', items: mergeSchemas(a.items as JsonSchema, b.items as JsonSchema) };
  return a.type === b.type ? { type: a.type } : {};
}

/** The schema of one tensor as nested arrays: fixed dimensions become minItems/maxItems. */
export function tensorSchema(sig: ValueSignature): JsonSchema {
  let schema = elementSchema(sig.elementType);
  const shape = sig.shape;
  if (shape === null) return { description: `${sig.elementType} tensor of any shape (nested arrays)`, ...schema };
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i];
    const arr: JsonSchema = { type: 'array', items: schema };
    if (typeof d === 'number') { arr.minItems = d; arr.maxItems = d; }
    schema = arr;
  }
  schema.description = `${sig.elementType} tensor of shape [${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}] as nested arrays`;
  return schema;
}

function elementSchema(type: ElementType): JsonSchema {
  switch (type) {
    case 'float32': return { type: 'number', format: 'float' };
    case 'float64': return { type: 'number', format: 'double' };
    case 'int32': return { type: 'integer', format: 'int32', minimum: -2147483648, maximum: 2147483647 };
    case 'uint8': return { type: 'integer', minimum: 0, maximum: 255 };
    case 'bool': return { type: 'boolean' };
    case 'int64':
    case 'uint64':
      // Integers past 2^53 travel as decimal strings.
      return { oneOf: [{ type: 'integer', format: 'int64' }, { type: 'string', pattern: '^-?[0-9]+$' }] };
    case 'string': return { type: 'string' };
    default: return { type: 'number' };
  }
}

/** No-code input: `{"data": ...}` for a single-input model (or the input's own name), else one key per input. */
export function inputSchemaFromSignature(inputs: readonly ValueSignature[]): JsonSchema {
  if (inputs.length === 1) {
    const only = inputs[0] as ValueSignature;
    const t = tensorSchema(only);
    const properties: Record<string, JsonSchema> = { data: t };
    if (only.name !== 'data') properties[only.name] = t;
    return {
      type: 'object',
      description: only.name === 'data' ? 'The model input "data".' : `The model input "${only.name}", under the key "data" or "${only.name}".`,
      properties,
      minProperties: 1,
      maxProperties: 1,
      additionalProperties: false,
    };
  }
  const properties: Record<string, JsonSchema> = {};
  for (const s of inputs) properties[s.name] = tensorSchema(s);
  return { type: 'object', properties, required: inputs.map((s) => s.name), additionalProperties: false };
}

export function outputSchemaFromSignature(outputs: readonly ValueSignature[]): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const s of outputs) properties[s.name] = tensorSchema(s);
  return { type: 'object', properties, required: outputs.map((s) => s.name) };
}

/** Entry-script mode without samples: any JSON object in, any JSON out. */
export const PERMISSIVE_INPUT: JsonSchema = { type: 'object', additionalProperties: true };
export const PERMISSIVE_OUTPUT: JsonSchema = {};

/** Swagger 2 has no oneOf/nullable: take the first alternative. */
export function toSwagger2Schema(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'oneOf' && Array.isArray(v)) { Object.assign(out, toSwagger2Schema(v[0] as JsonSchema)); continue; }
    if (k === 'nullable') continue;
    if (k === 'items' && v && typeof v === 'object') { out.items = toSwagger2Schema(v as JsonSchema); continue; }
    if (k === 'properties' && v && typeof v === 'object') {
      out.properties = Object.fromEntries(Object.entries(v as Record<string, JsonSchema>).map(([p, s]) => [p, toSwagger2Schema(s)]));
      continue;
    }
    out[k] = v;
  }
  return out;
}
