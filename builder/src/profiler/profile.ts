/**
 * The profiler: measures a scoring service under closed-loop load at several concurrency levels and reports
 * the figures Azure ML's profiler gives (PROTOCOLS.md §7): requested CPU and memory, max used memory and CPU,
 * total and successful queries, average latency and p50/p90/p95/p99/p99.9, measured queries per second, and
 * recommended CPU and memory (rule: recommendation.ts).
 *
 * The load generator runs in the calling process; on a small machine it competes with the service for the
 * same cores, so figures are for this machine as it is, not an absolute capacity.
 */
import { performance } from 'node:perf_hooks';
import { isFerryError } from '@ferry/module';
import { clientError } from '../scoring-client/errors.js';
import { ScoringClient } from '../scoring-client/scoring-client.js';
import { runClosedLoop } from './closed-loop-load.js';
import type { LoadRun, PreparedRequest } from './closed-loop-load.js';
import { LatencyRecorder } from './latency-stats.js';
import type { LatencySummary } from './latency-stats.js';
import { ProcessSampler } from './process-sampler.js';
import { recommend } from './recommendation.js';
import type { Recommendation } from './recommendation.js';
import { readResourceLimits } from './resource-limits.js';
import { startServeProcess } from './serve-process.js';
import type { ServeCommand, ServeProcess } from './serve-process.js';

/** An already running service; give `pid` (a local process) to get CPU, memory and a recommendation. */
export interface ServeTarget {
  url: string;
  key?: string;
  pid?: number;
}

export interface ProfileOptions {
  serve: ServeCommand | ServeTarget;
  /** Request bodies, sent in turn: a Buffer as application/octet-stream, anything else as JSON. */
  requests: ReadonlyArray<unknown>;
  /** Measured time per concurrency level. */
  durationMs: number;
  /** Concurrency levels, run in the order given. */
  concurrency: readonly number[];
  /** Unmeasured load before each level (default 1 000 ms). */
  warmupMs?: number;
  /** What the service was given when the process's own limits do not show it (e.g. from the deployment config). */
  requested?: { cpuCores?: number | null; memoryMb?: number | null };
  /** Extra headers sent with every request (e.g. `x-ferry-shape` for raw tensor bodies). */
  headers?: Record<string, string>;
  /** Per-request client timeout (default 60 000 ms). */
  timeoutMs?: number;
  /** Sampling interval of the serve process (default 100 ms). */
  sampleIntervalMs?: number;
  onProgress?: (progress: ProfileProgress) => void;
  signal?: AbortSignal;
}

export interface ProfileProgress {
  phase: 'starting' | 'warmup' | 'measuring' | 'stopping';
  /** The level being run, null outside levels. */
  concurrency: number | null;
  /** 0-based index of the level and the number of levels. */
  level: number;
  levels: number;
  /** Time spent in the current phase and its planned length (ms). */
  elapsedMs: number;
  durationMs: number;
  /** Queries answered so far in the current phase, and of them successful. */
  queries: number;
  successful: number;
}

export interface ProfileLevel {
  concurrency: number;
  /** Measured time: from the first request to the last answer (slightly over the planned duration). */
  durationMs: number;
  totalQueries: number;
  successfulQueries: number;
  failedQueries: number;
  /** Failed queries by the service's (or the client's) error code. */
  failures: Record<string, number>;
  /** successfulQueries / durationMs, per second. */
  qps: number;
  /** Latency of the successful queries; null when none succeeded. */
  latency: LatencySummary | null;
  /** Serve process usage during the level (null without a local process). */
  avgCpuCores: number | null;
  maxCpuCores: number | null;
  /** Peak RSS during the level, MiB. */
  maxMemoryMb: number | null;
}

export interface ProfileReport {
  /** ISO 8601 time the profile started. */
  date: string;
  url: string;
  pid: number | null;
  command: string[] | null;
  /** Time from spawning the serve process to /healthz 200 (null for an already running service). */
  startupMs: number | null;
  requestSamples: number;
  plannedDurationMs: number;
  warmupMs: number;
  requestedCpuCores: number | null;
  requestedMemoryMb: number | null;
  levels: ProfileLevel[];
  overall: {
    totalQueries: number;
    successfulQueries: number;
    failedQueries: number;
    /** All successful queries over all measured time. */
    qps: number;
    latency: LatencySummary | null;
    maxCpuCores: number | null;
    /** Peak RSS over the whole profile including start-up (VmHWM), MiB. */
    maxMemoryMb: number | null;
  };
  /** The level with the highest qps. */
  best: { concurrency: number; qps: number; p99Ms: number | null } | null;
  recommended: Recommendation | null;
}

const MIB = 1_024 * 1_024;

export async function profile(options: ProfileOptions): Promise<ProfileReport> {
  validate(options);
  const warmupMs = options.warmupMs ?? 1_000;
  const date = new Date().toISOString();
  const requests = options.requests.map(prepare);
  const levelsCount = options.concurrency.length;
  const emit = (p: ProfileProgress): void => options.onProgress?.(p);

  let serveProcess: ServeProcess | undefined;
  let url: string;
  let key: string | undefined;
  let pid: number | undefined;
  if ('command' in options.serve) {
    emit({ phase: 'starting', concurrency: null, level: 0, levels: levelsCount, elapsedMs: 0, durationMs: options.serve.startTimeoutMs ?? 30_000, queries: 0, successful: 0 });
    serveProcess = await startServeProcess(options.serve, options.signal);
    ({ url, pid } = serveProcess);
    key = options.serve.key;
  } else {
    ({ url, key, pid } = options.serve);
  }

  const client = new ScoringClient({ url, key, timeoutMs: options.timeoutMs, maxRetries: 0, ...(options.headers ? { headers: options.headers } : {}) });
  const sampler = pid !== undefined ? new ProcessSampler(pid) : undefined;
  const limits = pid !== undefined ? readResourceLimits(pid) : { cpuCores: null, memoryBytes: null };
  const levels: ProfileLevel[] = [];
  const allLatencies = new LatencyRecorder();
  try {
    sampler?.start(options.sampleIntervalMs ?? 100);
    for (const [index, concurrency] of options.concurrency.entries()) {
      const phase = async (name: 'warmup' | 'measuring', durationMs: number): Promise<LoadRun> => {
        let lastEmit = 0;
        return runClosedLoop({
          client,
          requests,
          concurrency,
          durationMs,
          signal: options.signal,
          onAnswer: (run) => {
            const now = performance.now();
            if (now - lastEmit < 250) return;
            lastEmit = now;
            emit({ phase: name, concurrency, level: index, levels: levelsCount, elapsedMs: now - run.startedAtMs, durationMs, queries: run.total, successful: run.successful });
          },
        });
      };
      if (warmupMs > 0) await phase('warmup', warmupMs);
      sampler?.sample();
      const run = await phase('measuring', options.durationMs);
      sampler?.sample();
      if (options.signal?.aborted) throw options.signal.reason;
      const usage = sampler?.usage(run.startedAtMs, run.endedAtMs);
      const durationMs = run.endedAtMs - run.startedAtMs;
      allLatencies.addAll(run.latencies);
      levels.push({
        concurrency,
        durationMs,
        totalQueries: run.total,
        successfulQueries: run.successful,
        failedQueries: run.total - run.successful,
        failures: run.failures,
        qps: durationMs > 0 ? (run.successful * 1_000) / durationMs : 0,
        latency: run.latencies.summarize(),
        avgCpuCores: usage?.avgCpuCores ?? null,
        maxCpuCores: usage?.maxCpuCores ?? null,
        maxMemoryMb: usage ? usage.maxRssBytes / MIB : null,
      });
    }
  } catch (e) {
    if (isFerryError(e) && e.code === 'FERRY_E_SERVICE_UNREACHABLE' && serveProcess) {
      throw clientError('FERRY_E_PROFILE_SERVE_FAILED', `The serve process (pid ${serveProcess.pid}) stopped answering during the profile.`, { cause: e, details: { pid: serveProcess.pid } });
    }
    throw e;
  } finally {
    sampler?.stop();
    client.close();
    if (serveProcess) {
      emit({ phase: 'stopping', concurrency: null, level: levelsCount, levels: levelsCount, elapsedMs: 0, durationMs: 0, queries: 0, successful: 0 });
      await serveProcess.stop();
    }
  }

  const totalMs = levels.reduce((sum, l) => sum + l.durationMs, 0);
  const successful = levels.reduce((sum, l) => sum + l.successfulQueries, 0);
  const total = levels.reduce((sum, l) => sum + l.totalQueries, 0);
  const peakRssBytes = sampler ? Math.max(sampler.peakHwmBytes, ...sampler.samples.map((s) => s.rssBytes)) : null;
  const bestLevel = levels.reduce<ProfileLevel | undefined>((best, l) => (!best || l.qps > best.qps ? l : best), undefined);
  const cpuPeaks = levels.map((l) => l.maxCpuCores).filter((c): c is number => c !== null);
  return {
    date,
    url,
    pid: pid ?? null,
    command: 'command' in options.serve ? [...options.serve.command] : null,
    startupMs: serveProcess?.startupMs ?? null,
    requestSamples: requests.length,
    plannedDurationMs: options.durationMs,
    warmupMs,
    requestedCpuCores: options.requested?.cpuCores ?? limits.cpuCores,
    requestedMemoryMb: options.requested?.memoryMb ?? (limits.memoryBytes === null ? null : limits.memoryBytes / MIB),
    levels,
    overall: {
      totalQueries: total,
      successfulQueries: successful,
      failedQueries: total - successful,
      qps: totalMs > 0 ? (successful * 1_000) / totalMs : 0,
      latency: allLatencies.summarize(),
      maxCpuCores: cpuPeaks.length > 0 ? Math.max(...cpuPeaks) : null,
      maxMemoryMb: peakRssBytes === null ? null : peakRssBytes / MIB,
    },
    best: bestLevel && bestLevel.qps > 0 ? { concurrency: bestLevel.concurrency, qps: bestLevel.qps, p99Ms: bestLevel.latency?.p99Ms ?? null } : null,
    recommended: recommend(levels, peakRssBytes),
  };
}

function validate(options: ProfileOptions): void {
  const problems: string[] = [];
  if (options.requests.length === 0) problems.push('no sample requests were given');
  if (!(options.durationMs > 0)) problems.push(`the duration must be positive (got ${options.durationMs} ms)`);
  if (options.warmupMs !== undefined && !(options.warmupMs >= 0)) problems.push(`the warm-up must be 0 or more (got ${options.warmupMs} ms)`);
  if (options.concurrency.length === 0) problems.push('no concurrency levels were given');
  for (const c of options.concurrency) if (!Number.isSafeInteger(c) || c < 1) problems.push(`concurrency ${c} is not a positive integer`);
  if (problems.length > 0) {
    throw clientError('FERRY_E_PROFILE_OPTIONS_INVALID', `Cannot profile: ${problems.join('; ')}.`, { details: { problems } });
  }
}

function prepare(request: unknown): PreparedRequest {
  return Buffer.isBuffer(request)
    ? { payload: request, contentType: 'application/octet-stream' }
    : { payload: Buffer.from(JSON.stringify(request) ?? 'null'), contentType: 'application/json' };
}
