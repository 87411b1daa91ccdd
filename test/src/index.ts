export { writeFixtureModels, fixtureModelSpecs, thirdPartyModels, seededRandom, FIXTURE_SEED } from './fixture-models.js';
export type { FixtureModel, FixtureModels, ThirdPartyModels } from './fixture-models.js';
export { ortRun, nest } from './ort-run.js';
export type { OrtFeed, OrtOutput, OrtValue, OrtElementType, NestedArray } from './ort-run.js';
export { ferry, ferryServe, FERRY_BIN } from './ferry-cli.js';
export type { FerryRun, FerryOptions, ServeProcess } from './ferry-cli.js';
export { freePort, bundleChildScript } from './processes.js';
