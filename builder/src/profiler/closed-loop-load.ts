/**
 * Closed-loop load: `concurrency` virtual users, each sending its next request as soon as the previous
 * answer arrived, over kept-alive connections, until the deadline; requests cycle through the samples.
 * No retries (a 503 is a failed query, as the profiler must see it). Requests still in flight at the
 * deadline are awaited and counted; the measured duration runs until the last of them ended.
 */
import { performance } from 'node:perf_hooks';
import { isFerryError } from '@ferry/module';
import type { ScoringClient } from '../scoring-client/scoring-client.js';
import { LatencyRecorder } from './latency-stats.js';

export interface PreparedRequest {
  payload: Buffer;
  contentType: string;
}

export interface LoadRun {
  startedAtMs: number;
  endedAtMs: number;
  total: number;
  successful: number;
  /** Failed queries by code (the service's code when it gave one, else the client's). */
  failures: Record<string, number>;
  latencies: LatencyRecorder;
}

export interface LoadOptions {
  client: ScoringClient;
  requests: readonly PreparedRequest[];
  concurrency: number;
  durationMs: number;
  signal?: AbortSignal;
  /** Called after every answer with the run so far (keep it cheap). */
  onAnswer?: (run: LoadRun) => void;
}

export async function runClosedLoop(options: LoadOptions): Promise<LoadRun> {
  const { client, requests, concurrency, durationMs, signal } = options;
  const run: LoadRun = { startedAtMs: performance.now(), endedAtMs: 0, total: 0, successful: 0, failures: {}, latencies: new LatencyRecorder() };
  const deadline = run.startedAtMs + durationMs;
  let next = 0;
  let fatal: unknown;
  const user = async (): Promise<void> => {
    while (fatal === undefined && !signal?.aborted && performance.now() < deadline) {
      const request = requests[next++ % requests.length] as PreparedRequest;
      try {
        const answer = await client.score(request.payload, { contentType: request.contentType, maxRetries: 0, signal });
        run.latencies.add(answer.latencyMs);
        run.successful++;
      } catch (e) {
        if (signal?.aborted) return;
        // A service that went away is not a slow query: stop the run and let the caller report it.
        if (isFerryError(e) && e.code === 'FERRY_E_SERVICE_UNREACHABLE') {
          fatal ??= e;
          return;
        }
        const details = isFerryError(e) ? ((e.details ?? {}) as { code?: string | null }) : {};
        const code = details.code ?? (isFerryError(e) ? e.code : 'ERROR');
        run.failures[code] = (run.failures[code] ?? 0) + 1;
      }
      run.total++;
      options.onAnswer?.(run);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, user));
  run.endedAtMs = performance.now();
  if (fatal !== undefined) throw fatal;
  return run;
}
