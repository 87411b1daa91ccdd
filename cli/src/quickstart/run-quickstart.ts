/**
 * `ferry quickstart` (issue 4 §5): Ferry's main job on the embedded defaults, offline. Registers the sample
 * anomaly model, builds the device's models folder, writes the edge solution (edge-pipeline.ts), runs it in
 * an in-process simulation (edgeHub emulation, both modules as processes), enables the sensor once the
 * scorer reports ready, and follows every reading to the local IoT Hub (pipeline-tracker.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDeploymentManifest } from '@ferry/deployment-manifests';
import { DeviceModelStore, SENSOR_OUTPUT } from '@ferry/module';
import { Simulation, parseSolution, type CloudMessage, type ClientMessage } from '@ferry/simulator';
import type { CommandContext } from '../context.js';
import { ANOMALY_MODEL_NAME, ANOMALY_THRESHOLD, buildAnomalyModel } from './anomaly-model.js';
import { SCORER_ERROR_OUTPUT, SCORER_MODULE, SENSOR_MODULE, planEdgePipeline, writeEdgePipeline, type EdgePipelinePaths } from './edge-pipeline.js';
import { quickstartError } from './errors.js';
import { PipelineTracker, type PipelineCounts, type ScoredResult, type ScoringError } from './pipeline-tracker.js';

export const QUICKSTART_SIMULATION = 'quickstart';

export interface QuickstartOptions {
  readonly messages: number;
  readonly rate: number;
  readonly seed: number;
  readonly anomalyRate?: number;
  /** For the whole run, from the simulation's start. */
  readonly timeoutMs: number;
  readonly dashboard: boolean;
  /** Called for each line of human output (results as they arrive). */
  readonly print: (line: string) => void;
  readonly signal?: AbortSignal;
}

export interface QuickstartSummary extends PipelineCounts {
  /** Every sent message was scored and reached the local IoT Hub, none failed. */
  readonly ok: boolean;
  readonly messages: number;
  readonly model: string;
  readonly threshold: number;
  readonly rate: number;
  readonly seed: number;
  /** From the sensor's first message to the last result, ms. */
  readonly durationMs: number | null;
  /** What the sensor reported in its twin at the end. */
  readonly sensorReported: Record<string, unknown> | null;
  readonly dashboardUrl: string | null;
  readonly files: EdgePipelinePaths;
  /** Why the run is not ok (null when it is). */
  readonly problem: string | null;
}

export async function runQuickstart(ctx: CommandContext, o: QuickstartOptions): Promise<QuickstartSummary> {
  const dir = join(ctx.workspace, 'quickstart');
  mkdirSync(dir, { recursive: true });

  // 1. The model: made here, registered once (the same bytes reuse the registered version).
  const modelBytes = buildAnomalyModel();
  const modelFile = join(dir, 'anomaly.onnx');
  writeFileSync(modelFile, modelBytes);
  const sha256 = createHash('sha256').update(modelBytes).digest('hex');
  const registry = ctx.registry();
  let record = registry.list({ name: ANOMALY_MODEL_NAME }).find((r) => r.files.length === 1 && r.files[0]?.sha256 === sha256);
  const reused = record !== undefined;
  record ??= await registry.register(modelFile, {
    name: ANOMALY_MODEL_NAME,
    description: 'Sensor anomaly detector (distance from normal operation in standard deviations) made by ferry quickstart',
    tags: { quickstart: 'true', task: 'anomaly-detection' },
    properties: { threshold: String(ANOMALY_THRESHOLD) },
  });
  o.print(`1. ${reused ? 'Using' : 'Registered'} the model ${record.id} (data: float32[batch, 4] -> score, anomaly)`);

  // 2. The device's models folder (FERRY_MODELS_DIR), as an image would carry it.
  const plan = planEdgePipeline({ dir, modelRef: record.id, messages: o.messages, rate: o.rate, seed: o.seed, sensorPaused: true, ...(o.anomalyRate === undefined ? {} : { anomalyRate: o.anomalyRate }) });
  writeDeviceModel(plan.paths.modelsDir, record.name, record.version, record.path);
  writeEdgePipeline(plan);
  o.print(`2. Wrote the deployment ${plan.paths.deployment} (sensor -> scorer -> $upstream), the scorer's config and models folder`);

  // 3. Run it.
  const manifest = parseDeploymentManifest(plan.deployment, plan.paths.deployment);
  const solution = parseSolution(plan.solution, dir, plan.paths.solution);
  const started = Date.now();
  const sim = await Simulation.start({
    workspace: ctx.workspace, name: QUICKSTART_SIMULATION, manifest, solution,
    mqttPort: 0, httpsPort: 0, dashboardPort: o.dashboard ? 0 : null, stopGraceMs: 5000,
  });
  const tracker = new PipelineTracker();
  let firstSentAt: number | null = null;
  let lastResultAt: number | null = null;
  const onSent = (m: ClientMessage): void => {
    if (m.moduleId !== SENSOR_MODULE || m.output !== SENSOR_OUTPUT) return;
    firstSentAt ??= Date.now();
    tracker.sent(m.systemProperties['messageId'] ?? '', m.body, m.properties);
  };
  sim.broker.on('message', onSent);
  const offUpstream = sim.onUpstream((m: CloudMessage) => {
    if (m.moduleId !== SCORER_MODULE) return;
    lastResultAt = m.receivedAt;
    const r = tracker.upstream(m.systemProperties['outputName'] ?? '', m, SCORER_ERROR_OUTPUT);
    o.print(resultLine(r));
  });

  const dashboardUrl = sim.status().dashboardUrl;
  let problem: string | null = null;
  let sensorReported: Record<string, unknown> | null = null;
  try {
    const status = sim.status();
    o.print(`3. Simulating the device ${status.deviceId}: edgeHub on 127.0.0.1:${status.mqttPort}${dashboardUrl ? `, dashboard ${dashboardUrl}` : ''}`);
    const deadline = started + o.timeoutMs;
    problem = await waitForScorer(sim, deadline, o.signal);
    if (problem === null) {
      await sim.patchTwin(SENSOR_MODULE, { enabled: true });
      o.print(`4. The scorer is ready; the sensor sends ${o.messages} readings${o.rate > 0 ? ` at ${o.rate}/s` : ''}. Results as they reach the local IoT Hub:`);
      problem = await until(() => {
        const c = tracker.counts();
        return c.sent >= o.messages && c.missing === 0;
      }, deadline, o.signal, () => {
        const c = tracker.counts();
        return `timed out after ${Math.round(o.timeoutMs / 1000)} s: the sensor sent ${c.sent} of ${o.messages}; ${c.scored} scored, ${c.errors} errors, ${c.missing} not seen upstream`;
      });
    }
    if (problem === null) {
      // The sensor's final counts reach its twin a moment after its last PUBACK (a throttled report).
      await until(() => reportedOf(sim, SENSOR_MODULE)?.['status'] === 'done', Math.min(deadline, Date.now() + 3000), o.signal, () => '');
    }
    sensorReported = reportedOf(sim, SENSOR_MODULE);
  } finally {
    offUpstream();
    sim.broker.off('message', onSent);
    await sim.stop();
  }

  const counts = tracker.counts();
  if (problem === null && !(counts.scored === counts.sent && counts.errors === 0 && counts.sent === o.messages)) {
    problem = `${counts.sent} sent, ${counts.scored} scored, ${counts.errors} errors`;
  }
  const durationMs = firstSentAt !== null && lastResultAt !== null ? Math.max(0, lastResultAt - firstSentAt) : null;
  return {
    ok: problem === null,
    ...counts,
    messages: o.messages,
    model: record.id,
    threshold: ANOMALY_THRESHOLD,
    rate: o.rate,
    seed: o.seed,
    durationMs,
    sensorReported,
    dashboardUrl,
    files: plan.paths,
    problem,
  };
}

/** Throws FERRY_E_QUICKSTART_INCOMPLETE for a summary that is not ok. */
export function assertComplete(s: QuickstartSummary): void {
  if (!s.ok) throw quickstartError('FERRY_E_QUICKSTART_INCOMPLETE', `The quick start did not complete: ${s.problem ?? 'unknown'}`, { details: { sent: s.sent, scored: s.scored, errors: s.errors, missing: s.missing } });
}

/** Stores the registered model in the models folder as `<name>/<version>/`, unless it is there and sound. */
function writeDeviceModel(modelsDir: string, name: string, version: number, path: string): void {
  const target = join(modelsDir, name, String(version));
  if (existsSync(target)) {
    try {
      DeviceModelStore.open(modelsDir).resolveModel({ name, version });
      return;
    } catch {
      rmSync(target, { recursive: true, force: true });
    }
  }
  DeviceModelStore.writeModel(modelsDir, { name, version, path, framework: 'onnx', tags: { quickstart: 'true' } });
}

/** Null once the scorer reports status ready; a problem when it reports an error, its process ends, or time runs out. */
async function waitForScorer(sim: Simulation, deadline: number, signal: AbortSignal | undefined): Promise<string | null> {
  let problem: string | null = null;
  const timedOut = await until(() => {
    const reported = reportedOf(sim, SCORER_MODULE);
    const state = (reported?.['status'] as { state?: string; reason?: string } | undefined);
    if (state?.state === 'ready') return true;
    if (state?.state === 'error') {
      problem = `the scorer reported an error: ${state.reason ?? 'no reason given'}`;
      return true;
    }
    const process = sim.launcher.status().find((m) => m.id === SCORER_MODULE);
    if (process && (process.state === 'failed' || process.state === 'exited')) {
      problem = `the scorer process ${process.state} (exit code ${process.exitCode ?? 'none'}${process.error ? `, ${process.error.code}` : ''}); see \`ferry logs scorer --name ${QUICKSTART_SIMULATION}\` while it runs, or ${join(sim.dir, 'logs')}`;
      return true;
    }
    return false;
  }, deadline, signal, () => 'the scorer did not report ready in time');
  return timedOut ?? problem;
}

function reportedOf(sim: Simulation, moduleId: string): Record<string, unknown> | null {
  try {
    const { $version: _v, ...rest } = sim.twin(moduleId).reported as Record<string, unknown>;
    return rest;
  } catch {
    return null;
  }
}

/** Polls `done` every 25 ms; null when it held, else the timeout text (or the abort reason). */
async function until(done: () => boolean, deadline: number, signal: AbortSignal | undefined, timeout: () => string): Promise<string | null> {
  for (;;) {
    if (done()) return null;
    if (signal?.aborted) return `interrupted (${String((signal.reason as Error | undefined)?.message ?? signal.reason)})`;
    if (Date.now() > deadline) return timeout();
    await new Promise((r) => setTimeout(r, 25));
  }
}

function resultLine(r: ScoredResult | ScoringError): string {
  if (r.kind === 'error') return `   error ${r.code} for ${r.messageId ?? '?'}: ${r.message}`;
  const f = r.reading?.fields ?? [];
  const fmt = (v: number | undefined, digits: number): string => (v === undefined || Number.isNaN(v) ? '?' : v.toFixed(digits));
  const verdict = r.detected === null ? 'no answer' : r.detected ? 'ANOMALY' : 'normal ';
  const truth = r.truth === null ? '' : r.truth === r.detected ? '' : r.truth ? '  (missed: a spike)' : '  (false alarm)';
  return `   ${verdict} score ${fmt(r.score ?? undefined, 2).padStart(6)}  machine ${fmt(f[0], 1)} °C ${fmt(f[1], 2)} bar, ambient ${fmt(f[2], 1)} °C ${fmt(f[3], 1)} %  ${r.latencyMs === null ? '' : `${r.latencyMs} ms`}${r.duplicate ? '  (duplicate)' : ''}${truth}`;
}

/** The human summary. */
export function formatSummary(s: QuickstartSummary): string {
  const l = s.latencyMs;
  return [
    `${s.ok ? 'Done' : 'Incomplete'}: ${s.sent} readings sent, ${s.scored} scored by ${s.model}, ${s.errors} errors, ${s.upstreamReceived} messages reached the local IoT Hub${s.duplicates ? ` (${s.duplicates} duplicates)` : ''}.`,
    `Anomalies: ${s.anomalies.detected} detected, ${s.anomalies.true} true spikes (${s.anomalies.truePositives} caught, ${s.anomalies.falseNegatives} missed, ${s.anomalies.falsePositives} false alarms).`,
    `Latency from the sensor to the local IoT Hub: p50 ${l.p50 ?? '-'} ms, p90 ${l.p90 ?? '-'} ms, p99 ${l.p99 ?? '-'} ms, max ${l.max ?? '-'} ms.`,
    ...(s.problem ? [`Problem: ${s.problem}`] : []),
    `Run it yourself: ferry simulate -d ${s.files.deployment} --solution ${s.files.solution}   (then: ferry monitor, ferry status, ferry twin set sensor '{"enabled": true}')`,
  ].join('\n');
}

