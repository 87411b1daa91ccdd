export { DeviceModelStore } from './device-model-store.js';
export type { DeviceModelSource } from './device-model-store.js';
export { fetchModel } from './model-fetch.js';
export type { FetchModelSource, FetchModelOptions } from './model-fetch.js';
export { deviceModelCatalogue } from './errors.js';
export { MANIFEST_FILE as DEVICE_MODEL_MANIFEST_FILE } from './model-manifest.js';
export type { DeviceModel, DeviceModelManifest } from './model-manifest.js';
