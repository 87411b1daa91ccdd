export { MessageStore } from './message-store.js';
export type { Delivery, EndpointStats, Message, MessageStoreOptions, QueuedMessage, StoreStats } from './store-types.js';
export { storeCatalogue } from './errors.js';
