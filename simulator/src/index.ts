export { simulatorCatalogue } from './errors.js';
export type { SimulatorErrorCode } from './errors.js';
export { IdentityStore } from './identity/identity-store.js';
export type { Identity, IdentityStoreOptions } from './identity/identity-store.js';
export { createSasToken, verifySasToken, parseSasToken } from './identity/sas-token.js';
export type { SasResource, SasVerification, ParsedSasToken } from './identity/sas-token.js';
export { ensureGatewayCertificates, gatewaySubjectAltNames } from './certificates/local-ca.js';
export type { GatewayCertificates, CertificateOptions } from './certificates/local-ca.js';
export { EdgeBroker, MAX_MESSAGE_BYTES, WEBSOCKET_PATH } from './broker/edge-broker.js';
export type { ClientMessage, OutboundMessage, Refusal, ClientConnection, EdgeBrokerEvents, EdgeBrokerOptions } from './broker/edge-broker.js';
export type { ClientMessageKind, ClientIdentity } from './broker/topics.js';
export { decodePropertyBag, encodePropertyBag } from './broker/property-bag.js';
export type { PropertyBag } from './broker/property-bag.js';
export { WorkloadServer, WORKLOAD_API_VERSION } from './workload/workload-server.js';
export type { WorkloadServerOptions } from './workload/workload-server.js';
// Store-and-forward (simulator/src/store): its own public surface.
export { MessageStore, storeCatalogue } from './store/index.js';
export type { Delivery, EndpointStats, Message, MessageStoreOptions, QueuedMessage, StoreStats } from './store/index.js';
