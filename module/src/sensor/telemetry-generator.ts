/**
 * Simulated telemetry like Microsoft's SimulatedTemperatureSensor (issue 4 §4): a machine's temperature and
 * pressure and the ambient temperature and humidity, drawn around normal operation (normal-operation.ts),
 * with occasional spikes of the machine temperature and/or pressure. Seeded: the same seed gives the same
 * readings in the same order (only `timeCreated` comes from the clock).
 */
import { NORMAL_MAX_Z, SENSOR_FEATURES, SPIKE_MAX_Z, SPIKE_MIN_Z } from './normal-operation.js';

/** The message body the sensor sends on `temperatureOutput`. */
export interface SensorReading {
  readonly machine: { readonly temperature: number; readonly pressure: number };
  readonly ambient: { readonly temperature: number; readonly humidity: number };
  /** ISO 8601, when the reading was made. */
  readonly timeCreated: string;
}

/** Which machine field a spike hit; null for a normal reading (the ground truth tests check detectors with). */
export type AnomalyKind = 'temperature' | 'pressure' | 'both' | null;

export interface GeneratedReading {
  readonly reading: SensorReading;
  readonly anomaly: AnomalyKind;
  /** 1 for the first reading of this generator. */
  readonly sequence: number;
}

export interface TelemetryGeneratorOptions {
  /** Any integer; the same seed gives the same readings. */
  readonly seed: number;
  /** Probability in [0, 1] that a reading is a spike (default 0.05). */
  readonly anomalyRate?: number;
  /** Readings per full cycle of the slow drift (default 600). */
  readonly driftPeriod?: number;
}

export const DEFAULT_ANOMALY_RATE = 0.05;
const DRIFT_AMPLITUDE_Z = 1;
const NOISE_MAX_Z = NORMAL_MAX_Z - DRIFT_AMPLITUDE_Z;

export class TelemetryGenerator {
  readonly #random: () => number;
  readonly #anomalyRate: number;
  readonly #driftPeriod: number;
  #sequence = 0;

  constructor(options: TelemetryGeneratorOptions) {
    const rate = options.anomalyRate ?? DEFAULT_ANOMALY_RATE;
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`anomalyRate ${String(rate)} is not in [0, 1]`);
    const period = options.driftPeriod ?? 600;
    if (!Number.isInteger(period) || period < 1) throw new RangeError(`driftPeriod ${String(period)} is not a positive integer`);
    this.#random = mulberry32(options.seed);
    this.#anomalyRate = rate;
    this.#driftPeriod = period;
  }

  /** The next reading, stamped with `now`. */
  next(now: Date = new Date()): GeneratedReading {
    const sequence = ++this.#sequence;
    const z = SENSOR_FEATURES.map((_, f) => {
      const drift = DRIFT_AMPLITUDE_Z * Math.sin((2 * Math.PI * sequence) / this.#driftPeriod + f);
      return drift + this.#truncatedNormal(NOISE_MAX_Z);
    });
    let anomaly: AnomalyKind = null;
    if (this.#random() < this.#anomalyRate) {
      const pick = this.#random();
      anomaly = pick < 0.45 ? 'temperature' : pick < 0.9 ? 'pressure' : 'both';
      const spike = (): number => SPIKE_MIN_Z + (SPIKE_MAX_Z - SPIKE_MIN_Z) * this.#random();
      if (anomaly !== 'pressure') z[0] = (z[0] as number) + spike();
      if (anomaly !== 'temperature') z[1] = (z[1] as number) + spike();
    }
    const value = (f: number): number => {
      const feature = SENSOR_FEATURES[f] as (typeof SENSOR_FEATURES)[number];
      return round3(feature.mean + feature.sd * (z[f] as number));
    };
    return {
      sequence,
      anomaly,
      reading: {
        machine: { temperature: value(0), pressure: value(1) },
        ambient: { temperature: value(2), humidity: value(3) },
        timeCreated: now.toISOString(),
      },
    };
  }

  /** A standard normal draw (Box-Muller), redrawn until it lies within ±max. */
  #truncatedNormal(max: number): number {
    for (;;) {
      const u = 1 - this.#random(); // (0, 1]: log(0) never happens
      const v = this.#random();
      const x = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      if (Math.abs(x) <= max) return x;
    }
  }
}

/** Mulberry32: a small seeded 32-bit generator of uniform numbers in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
