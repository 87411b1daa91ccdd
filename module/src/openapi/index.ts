export { buildOpenApi3, buildSwagger2, inputFromQuery } from './service-document.js';
export type { ServiceDocumentOptions } from './service-document.js';
export { schemaFromSample, inputSchemaFromSignature, outputSchemaFromSignature, tensorSchema } from './service-schema.js';
export type { JsonSchema, ServiceSchemas } from './service-schema.js';
