/**
 * The Quick start's edge solution (issue 4 §5), as plain data: a deployment manifest with the `sensor` and
 * `scorer` modules and the routes sensor -> scorer -> $upstream (PROTOCOLS.md §5, §6), the scorer's module
 * config (an inference config with an `edge:` section), and the solution map that runs both modules as
 * local processes of this installation (`ferry simulate --solution`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deploymentDocument, type DeploymentDocument } from '@ferry/deployment-manifests';
import { SENSOR_OUTPUT } from '@ferry/module';
import { ANOMALY_FEATURE_POINTERS } from './anomaly-model.js';

export const SCORER_MODULE = 'scorer';
export const SENSOR_MODULE = 'sensor';
export const SCORER_INPUT = 'amlInput';
export const SCORER_OUTPUT = 'amlOutput';
export const SCORER_ERROR_OUTPUT = 'errors';

export interface EdgePipelineOptions {
  /** The folder the files are written to (`<workspace>/quickstart`). */
  readonly dir: string;
  /** `name:version` of the model in the models folder. */
  readonly modelRef: string;
  readonly messages: number;
  /** Sensor messages per second (0: as fast as the pipeline takes them). */
  readonly rate: number;
  readonly seed: number;
  /** The sensor's share of spikes. */
  readonly anomalyRate?: number;
  /** Start the sensor paused (desired `enabled: false`) until the scorer is ready. */
  readonly sensorPaused?: boolean;
}

export interface EdgePipelinePaths {
  readonly deployment: string;
  readonly solution: string;
  readonly scorerConfig: string;
  readonly modelsDir: string;
  readonly modelCache: string;
}

export interface EdgePipeline {
  readonly paths: EdgePipelinePaths;
  readonly deployment: DeploymentDocument;
  readonly solution: { modules: Record<string, { command: string[] }> };
  readonly scorerConfig: Record<string, unknown>;
}

/** The entry points of this installation's module package (module/dist/{sensor,edge}/main.js). */
export function moduleEntryPoints(): { sensor: string; scorer: string } {
  const dist = dirname(fileURLToPath(import.meta.resolve('@ferry/module')));
  return { sensor: join(dist, 'sensor', 'main.js'), scorer: join(dist, 'edge', 'main.js') };
}

export function planEdgePipeline(o: EdgePipelineOptions): EdgePipeline {
  const paths: EdgePipelinePaths = {
    deployment: join(o.dir, 'deployment.json'),
    solution: join(o.dir, 'solution.json'),
    scorerConfig: join(o.dir, 'scorer.json'),
    modelsDir: join(o.dir, 'models'),
    modelCache: join(o.dir, 'model-cache'),
  };
  const scorerConfig = {
    name: 'anomaly-scorer',
    models: [o.modelRef],
    edge: {
      inputs: [SCORER_INPUT],
      output: SCORER_OUTPUT,
      errorOutput: SCORER_ERROR_OUTPUT,
      // No-code telemetry: the sensor's JSON fields, in the model's column order, make the `data` row.
      features: { data: [...ANOMALY_FEATURE_POINTERS] },
      carryProperties: ['anomaly'],
    },
  };
  const deployment = deploymentDocument({
    modules: {
      [SCORER_MODULE]: {
        image: 'ferry/anomaly-scorer:quickstart', restartPolicy: 'always', startupOrder: 1,
        env: { FERRY_MODULE_CONFIG: paths.scorerConfig, FERRY_MODELS_DIR: paths.modelsDir, FERRY_MODEL_CACHE: paths.modelCache },
      },
      [SENSOR_MODULE]: {
        image: 'ferry/sensor:quickstart', restartPolicy: 'on-failure', startupOrder: 2,
        env: {
          FERRY_SENSOR_COUNT: o.messages, FERRY_SENSOR_RATE: o.rate, FERRY_SENSOR_SEED: o.seed,
          ...(o.anomalyRate === undefined ? {} : { FERRY_SENSOR_ANOMALY_RATE: o.anomalyRate }),
        },
      },
    },
    routes: {
      sensorToScorer: `FROM /messages/modules/${SENSOR_MODULE}/outputs/${SENSOR_OUTPUT} INTO BrokeredEndpoint("/modules/${SCORER_MODULE}/inputs/${SCORER_INPUT}")`,
      resultsToCloud: `FROM /messages/modules/${SCORER_MODULE}/outputs/${SCORER_OUTPUT} INTO $upstream`,
      errorsToCloud: `FROM /messages/modules/${SCORER_MODULE}/outputs/${SCORER_ERROR_OUTPUT} INTO $upstream`,
    },
    ...(o.sensorPaused ? { twins: { [SENSOR_MODULE]: { enabled: false } } } : {}),
  });
  const entry = moduleEntryPoints();
  const solution = {
    modules: {
      [SCORER_MODULE]: { command: [process.execPath, entry.scorer] },
      [SENSOR_MODULE]: { command: [process.execPath, entry.sensor] },
    },
  };
  return { paths, deployment, solution, scorerConfig };
}

/** Writes the manifest, the solution map and the scorer's config (the models folder is written apart). */
export function writeEdgePipeline(p: EdgePipeline): void {
  mkdirSync(dirname(p.paths.deployment), { recursive: true });
  mkdirSync(p.paths.modelCache, { recursive: true });
  writeFileSync(p.paths.deployment, `${JSON.stringify(p.deployment, null, 2)}\n`);
  writeFileSync(p.paths.solution, `${JSON.stringify(p.solution, null, 2)}\n`);
  writeFileSync(p.paths.scorerConfig, `${JSON.stringify(p.scorerConfig, null, 2)}\n`);
}
