/**
 * The service's OpenAPI 3 and Swagger 2 documents, following Azure ML's scoring service
 * (PROTOCOLS.md §7): `GET /` health check, `POST /score` (and `GET /score` with query parameters),
 * `ServiceInput`/`ServiceOutput` definitions and the `Authorization: Bearer <key>` scheme.
 */
import type { JsonSchema, ServiceSchemas } from './service-schema.js';
import { toSwagger2Schema } from './service-schema.js';

export interface ServiceDocumentOptions {
  title: string;
  schemas: ServiceSchemas;
  /** `host[:port]` */
  host?: string;
  /** Declare the bearer key scheme (default true). */
  auth?: boolean;
  /** The service also takes `application/octet-stream` bodies (single-input no-code models). */
  binaryInput?: boolean;
}

const ERROR_RESPONSE: JsonSchema = {
  type: 'object',
  properties: { message: { type: 'string' }, code: { type: 'string', description: 'A FERRY_E_* code (docs/errors.md).' } },
  required: ['message'],
};

const SCORE_DESCRIPTION = 'Run web service\'s model and get the prediction output';
const HEALTH_DESCRIPTION = 'Simple health check endpoint to ensure the service is up at any given point.';

/** Query parameters of `GET /score`: the input's top-level keys, each a JSON-encoded value (a bare string otherwise). */
function queryParameters(input: JsonSchema): { name: string; required: boolean; description: string }[] {
  const props = input.properties as Record<string, JsonSchema> | undefined;
  if (!props) return [];
  const required = new Set((input.required as string[] | undefined) ?? []);
  return Object.keys(props).map((name) => ({ name, required: required.has(name), description: `The "${name}" input, JSON-encoded.` }));
}

export function buildOpenApi3(opts: ServiceDocumentOptions): object {
  const auth = opts.auth ?? true;
  const security = auth ? { security: [{ Bearer: [] }] } : {};
  const errorResponse = { description: 'The service failed to execute due to an error.', content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } } };
  const requestContent: Record<string, unknown> = { 'application/json': { schema: { $ref: '#/components/schemas/ServiceInput' } } };
  if (opts.binaryInput) requestContent['application/octet-stream'] = { schema: { type: 'string', format: 'binary' } };
  const ok = { description: 'The service processed the input correctly and provided a result prediction, if applicable.', content: { 'application/json': { schema: { $ref: '#/components/schemas/ServiceOutput' } } } };
  return {
    openapi: '3.0.3',
    info: { title: opts.title, description: `API specification for the ${opts.title} scoring service`, version: '1.0' },
    ...(opts.host ? { servers: [{ url: `http://${opts.host}` }] } : {}),
    ...security,
    paths: {
      '/': {
        get: {
          operationId: 'ServiceHealthCheck',
          description: HEALTH_DESCRIPTION,
          security: [],
          responses: {
            '200': { description: 'If service is up and running, this response will be returned with the content \'Healthy\'', content: { 'text/plain': { schema: { type: 'string' }, example: 'Healthy' } } },
            default: errorResponse,
          },
        },
      },
      '/score': {
        post: {
          operationId: 'RunMLService',
          description: SCORE_DESCRIPTION,
          requestBody: { required: true, content: requestContent },
          responses: { '200': ok, default: errorResponse },
        },
        get: {
          operationId: 'RunMLServiceGet',
          description: `${SCORE_DESCRIPTION} (inputs as query parameters)`,
          parameters: queryParameters(opts.schemas.input).map((p) => ({ ...p, in: 'query', schema: { type: 'string' } })),
          responses: { '200': ok, default: errorResponse },
        },
      },
    },
    components: {
      ...(auth ? { securitySchemes: { Bearer: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'For example: Bearer abc123' } } } : {}),
      schemas: { ServiceInput: opts.schemas.input, ServiceOutput: opts.schemas.output, ErrorResponse: ERROR_RESPONSE },
    },
  };
}

export function buildSwagger2(opts: ServiceDocumentOptions): object {
  const auth = opts.auth ?? true;
  const errorResponse = { description: 'The service failed to execute due to an error.', schema: { $ref: '#/definitions/ErrorResponse' } };
  const ok = { description: 'The service processed the input correctly and provided a result prediction, if applicable.', schema: { $ref: '#/definitions/ServiceOutput' } };
  return {
    swagger: '2.0',
    info: { title: opts.title, description: `API specification for the ${opts.title} scoring service`, version: '1.0' },
    ...(opts.host ? { host: opts.host } : {}),
    schemes: ['http'],
    consumes: opts.binaryInput ? ['application/json', 'application/octet-stream'] : ['application/json'],
    produces: ['application/json'],
    ...(auth ? { securityDefinitions: { Bearer: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'For example: Bearer abc123' } }, security: [{ Bearer: [] }] } : {}),
    paths: {
      '/': {
        get: {
          operationId: 'ServiceHealthCheck',
          description: HEALTH_DESCRIPTION,
          security: [],
          produces: ['text/plain'],
          responses: { '200': { description: 'If service is up and running, this response will be returned with the content \'Healthy\'', schema: { type: 'string' }, examples: { 'application/json': 'Healthy' } }, default: errorResponse },
        },
      },
      '/score': {
        post: {
          operationId: 'RunMLService',
          description: SCORE_DESCRIPTION,
          parameters: [{ name: 'serviceInputPayload', in: 'body', description: 'The input payload for executing the real-time machine learning service.', required: true, schema: { $ref: '#/definitions/ServiceInput' } }],
          responses: { '200': ok, default: errorResponse },
        },
        get: {
          operationId: 'RunMLServiceGet',
          description: `${SCORE_DESCRIPTION} (inputs as query parameters)`,
          parameters: queryParameters(opts.schemas.input).map((p) => ({ ...p, in: 'query', type: 'string' })),
          responses: { '200': ok, default: errorResponse },
        },
      },
    },
    definitions: {
      ServiceInput: toSwagger2Schema(opts.schemas.input),
      ServiceOutput: toSwagger2Schema(opts.schemas.output),
      ErrorResponse: ERROR_RESPONSE,
    },
  };
}

/**
 * `GET /score?k=v`: each parameter's value is parsed as JSON when it is JSON (`data=[[1,2]]`),
 * else kept as a string. A repeated key keeps its first value.
 */
export function inputFromQuery(params: URLSearchParams): Record<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, v] of params) {
    if (out.has(k)) continue;
    try {
      out.set(k, JSON.parse(v) as unknown);
    } catch {
      out.set(k, v);
    }
  }
  return Object.fromEntries(out); // own properties only, so `__proto__` stays a plain key
}
