/**
 * The Quick start's model, made by Ferry itself (no download): an anomaly detector over the sensor's four
 * fields. `score` is the distance of a reading from the sensor's normal operation in standard deviations,
 * sqrt(Σ_f ((x_f − μ_f) / σ_f)²), with μ and σ from SENSOR_FEATURES (module/src/sensor/normal-operation.ts);
 * `anomaly` is score > ANOMALY_THRESHOLD. The generator keeps normal readings within 6 and puts spikes
 * beyond 8, so the threshold 7 separates them.
 */
import { SENSOR_FEATURES, buildOnnxModel } from '@ferry/module';

export const ANOMALY_MODEL_NAME = 'anomaly';
export const ANOMALY_THRESHOLD = 7;

/** The model's input columns, in order: JSON pointers into the sensor's message body. */
export const ANOMALY_FEATURE_POINTERS: readonly string[] = SENSOR_FEATURES.map((f) => f.pointer);

export function buildAnomalyModel(): Uint8Array {
  const n = SENSOR_FEATURES.length;
  return buildOnnxModel({
    graphName: 'sensor_anomaly_zscore',
    docString: 'Distance from normal operation (root of summed squared z-scores) of machine temperature, machine pressure, ambient temperature and humidity; made by ferry quickstart.',
    inputs: [{ name: 'data', elementType: 'float32', shape: ['batch', n], docString: 'machine temperature (°C), machine pressure (bar), ambient temperature (°C), ambient humidity (%)' }],
    outputs: [
      { name: 'score', elementType: 'float32', shape: ['batch'], docString: 'distance from normal operation, in standard deviations' },
      { name: 'anomaly', elementType: 'bool', shape: ['batch'], docString: `score > ${ANOMALY_THRESHOLD}` },
    ],
    initializers: [
      { name: 'mean', elementType: 'float32', dims: [n], data: SENSOR_FEATURES.map((f) => f.mean) },
      { name: 'sd', elementType: 'float32', dims: [n], data: SENSOR_FEATURES.map((f) => f.sd) },
      { name: 'axes', elementType: 'int64', dims: [1], data: [1] },
      { name: 'threshold', elementType: 'float32', dims: [], data: [ANOMALY_THRESHOLD] },
    ],
    nodes: [
      { opType: 'Sub', inputs: ['data', 'mean'], outputs: ['centered'] },
      { opType: 'Div', inputs: ['centered', 'sd'], outputs: ['z'] },
      { opType: 'Mul', inputs: ['z', 'z'], outputs: ['z2'] },
      // ReduceSum takes its axes as an input from opset 13 on.
      { opType: 'ReduceSum', inputs: ['z2', 'axes'], outputs: ['sum'], attributes: { keepdims: { type: 'int', value: 0 } } },
      { opType: 'Sqrt', inputs: ['sum'], outputs: ['score'] },
      { opType: 'Greater', inputs: ['score', 'threshold'], outputs: ['anomaly'] },
    ],
  });
}
