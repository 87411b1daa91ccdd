export { startScoringServer } from './scoring-server.js';
export type { ScoringServer, ScoringServerOptions, ServerEvent, RequestEvent } from './scoring-server.js';
export { installSignalHandlers } from './signal-handlers.js';
export type { SignalHandlerOptions } from './signal-handlers.js';
export { ServiceKeys } from './service-keys.js';
export type { ServiceKeyName } from './service-keys.js';
export { httpCatalogue } from './errors.js';
