/**
 * Follows the Quick start's messages end to end: each reading the sensor handed to edgeHub (its messageId,
 * `timeCreated` and ground truth `anomaly` property), and each message the local IoT Hub received from the
 * scorer (a result whose correlationId is the reading's messageId, or an error). Gives the summary
 * `ferry quickstart` prints: counts, detected vs true anomalies, latency percentiles.
 */
import { nearestRank } from '@ferry/builder';

export interface SentReading {
  readonly messageId: string;
  /** The reading's `timeCreated`, ms since the epoch. */
  readonly createdAt: number;
  readonly anomaly: boolean;
  readonly fields: readonly number[];
}

export interface ScoredResult {
  readonly kind: 'result';
  readonly messageId: string;
  readonly score: number | null;
  readonly detected: boolean | null;
  readonly truth: boolean | null;
  /** Sensor `timeCreated` to arrival at the local IoT Hub, ms. */
  readonly latencyMs: number | null;
  readonly reading: SentReading | undefined;
  readonly modelVersion: string | undefined;
  readonly duplicate: boolean;
}

export interface ScoringError {
  readonly kind: 'error';
  readonly messageId: string | undefined;
  readonly code: string;
  readonly message: string;
}

export interface UpstreamArrival {
  readonly properties: Readonly<Record<string, string>>;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** ms since the epoch. */
  readonly receivedAt: number;
}

export interface AnomalyCounts {
  /** Readings sent as spikes (the sensor's ground truth). */
  readonly true: number;
  /** Results the model flagged. */
  readonly detected: number;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
}

export interface LatencySummary {
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export interface PipelineCounts {
  readonly sent: number;
  /** Distinct readings whose result reached the local IoT Hub. */
  readonly scored: number;
  readonly errors: number;
  /** Everything the local IoT Hub received from the scorer (results, duplicates and errors). */
  readonly upstreamReceived: number;
  readonly duplicates: number;
  /** Sent readings without a result or error yet. */
  readonly missing: number;
  readonly anomalies: AnomalyCounts;
  readonly latencyMs: LatencySummary;
}

export class PipelineTracker {
  readonly #sent = new Map<string, SentReading>();
  readonly #scored = new Map<string, ScoredResult>();
  readonly #failed = new Set<string>();
  readonly #latencies: number[] = [];
  #errors = 0;
  #upstream = 0;
  #duplicates = 0;

  /** A reading the sensor sent (edgeHub accepted it). */
  sent(messageId: string, body: Buffer, properties: Readonly<Record<string, string>>): SentReading {
    const doc = parseJson(body) as { machine?: { temperature?: unknown; pressure?: unknown }; ambient?: { temperature?: unknown; humidity?: unknown }; timeCreated?: unknown } | undefined;
    const reading: SentReading = {
      messageId,
      createdAt: typeof doc?.timeCreated === 'string' ? Date.parse(doc.timeCreated) : Number.NaN,
      anomaly: properties['anomaly'] === 'true',
      fields: [doc?.machine?.temperature, doc?.machine?.pressure, doc?.ambient?.temperature, doc?.ambient?.humidity].map((v) => (typeof v === 'number' ? v : Number.NaN)),
    };
    this.#sent.set(messageId, reading);
    return reading;
  }

  /** A message the local IoT Hub received from the scorer on `output`. */
  upstream(output: string, m: UpstreamArrival, errorOutput: string): ScoredResult | ScoringError {
    this.#upstream++;
    const correlationId = m.systemProperties['correlationId'];
    if (output === errorOutput) {
      this.#errors++;
      if (correlationId !== undefined) this.#failed.add(correlationId);
      const doc = parseJson(m.body) as { code?: unknown; message?: unknown; reason?: unknown } | undefined;
      return {
        kind: 'error', messageId: correlationId, code: String(doc?.code ?? m.properties['code'] ?? 'unknown'),
        message: String(doc?.reason ?? doc?.message ?? m.body.toString('utf8').slice(0, 200)),
      };
    }
    const id = correlationId ?? '';
    const reading = this.#sent.get(id);
    const doc = parseJson(m.body) as { score?: unknown; anomaly?: unknown } | undefined;
    const duplicate = this.#scored.has(id);
    const latencyMs = reading && Number.isFinite(reading.createdAt) ? m.receivedAt - reading.createdAt : null;
    const truthProperty = m.properties['anomaly'];
    const result: ScoredResult = {
      kind: 'result',
      messageId: id,
      score: firstOf(doc?.score, (v): v is number => typeof v === 'number'),
      detected: firstOf(doc?.anomaly, (v): v is boolean => typeof v === 'boolean'),
      truth: truthProperty === undefined ? reading?.anomaly ?? null : truthProperty === 'true',
      latencyMs,
      reading,
      modelVersion: m.properties['modelVersion'],
      duplicate,
    };
    if (duplicate) this.#duplicates++;
    else {
      this.#scored.set(id, result);
      if (latencyMs !== null) this.#latencies.push(latencyMs);
    }
    return result;
  }

  counts(): PipelineCounts {
    let truePositives = 0;
    let falsePositives = 0;
    let falseNegatives = 0;
    let detected = 0;
    for (const r of this.#scored.values()) {
      if (r.detected) detected++;
      if (r.detected && r.truth) truePositives++;
      if (r.detected && r.truth === false) falsePositives++;
      if (r.detected === false && r.truth) falseNegatives++;
    }
    let truth = 0;
    let missing = 0;
    for (const s of this.#sent.values()) {
      if (s.anomaly) truth++;
      if (!this.#scored.has(s.messageId) && !this.#failed.has(s.messageId)) missing++;
    }
    return {
      sent: this.#sent.size,
      scored: this.#scored.size,
      errors: this.#errors,
      upstreamReceived: this.#upstream,
      duplicates: this.#duplicates,
      missing,
      anomalies: { true: truth, detected, truePositives, falsePositives, falseNegatives },
      latencyMs: latencySummary(this.#latencies),
    };
  }
}

/** Nearest-rank percentiles, rounded to 0.1 ms. */
export function latencySummary(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { p50: null, p90: null, p99: null, max: null };
  const sorted = Float64Array.from(values).sort();
  const at = (p: number): number => round1(nearestRank(sorted, p));
  return { p50: at(50), p90: at(90), p99: at(99), max: round1(sorted[sorted.length - 1] as number) };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The first leaf of a (nested) array, or the value itself, when it passes `is`. */
function firstOf<T>(value: unknown, is: (v: unknown) => v is T): T | null {
  let v = value;
  while (Array.isArray(v)) v = v[0];
  return is(v) ? v : null;
}
