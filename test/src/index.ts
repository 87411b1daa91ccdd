export { writeFixtureModels, fixtureModelSpecs, thirdPartyModels, seededRandom, FIXTURE_SEED } from './fixture-models.js';
export type { FixtureModel, FixtureModels, ThirdPartyModels } from './fixture-models.js';
export { ortRun, nest } from './ort-run.js';
export type { OrtFeed, OrtOutput, OrtValue, OrtElementType, NestedArray } from './ort-run.js';
