/**
 * The scoring service's counters, rendered by hand in the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): `# HELP`/`# TYPE` lines, then one
 * sample per line, label values escaped (`\\`, `\"`, `\n`), histograms as cumulative `_bucket{le=...}`
 * series ending with `+Inf`, then `_sum` and `_count`.
 *
 * Recording is on the hot path: one Map update per request, plus a short bucket scan for /score.
 */

/** Routes are a closed set so that label cardinality stays bounded: anything unknown is "other". */
export type RouteLabel = '/' | '/score' | '/swagger.json' | '/healthz' | '/metrics' | 'other';

/** Upper bounds (seconds) of the /score latency histogram: 0.5 ms (a 1 ms model) to 30 s (timeouts). */
const LATENCY_BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsGauges {
  /** HTTP requests received and not yet answered. */
  httpInFlight: number;
  /** Scoring calls running in the runtime (runtime.stats().inFlight). */
  scoringInFlight: number;
  /** Scoring calls waiting in the runtime's queue. */
  queued: number;
  ready: boolean;
}

export class ServiceMetrics {
  /** Requests by the rendered label set `route="...",method="...",status="..."`. */
  readonly #requests = new Map<string, number>();
  readonly #errors = new Map<string, number>();
  /** Non-cumulative counts per bucket; the last slot is +Inf. Cumulated at render time. */
  readonly #buckets = new Float64Array(LATENCY_BOUNDS.length + 1);
  #sum = 0;
  #count = 0;

  /** Counts one answered request; `code` is the FERRY_E_* code of an error answer. */
  countRequest(route: RouteLabel, method: string, status: number, code: string | undefined): void {
    const key = `route="${route}",method="${methodLabel(method)}",status="${status}"`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    if (code !== undefined) this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1);
  }

  /** Records the time a /score request took, arrival to answer. */
  observeScore(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BOUNDS.length && seconds > LATENCY_BOUNDS[i]!) i++;
    this.#buckets[i]! += 1;
    this.#sum += seconds;
    this.#count += 1;
  }

  render(g: MetricsGauges): string {
    const out: string[] = [];
    out.push('# HELP ferry_http_requests_total HTTP requests answered, by route, method and status.');
    out.push('# TYPE ferry_http_requests_total counter');
    for (const [labels, n] of this.#requests) out.push(`ferry_http_requests_total{${labels}} ${n}`);

    out.push('# HELP ferry_http_errors_total Error answers, by FERRY_E_* code.');
    out.push('# TYPE ferry_http_errors_total counter');
    for (const [code, n] of this.#errors) out.push(`ferry_http_errors_total{code="${escapeLabel(code)}"} ${n}`);

    out.push('# HELP ferry_score_request_duration_seconds Time from the arrival of a /score request to its answer, any status.');
    out.push('# TYPE ferry_score_request_duration_seconds histogram');
    let cumulative = 0;
    for (let i = 0; i < LATENCY_BOUNDS.length; i++) {
      cumulative += this.#buckets[i]!;
      out.push(`ferry_score_request_duration_seconds_bucket{le="${LATENCY_BOUNDS[i]}"} ${cumulative}`);
    }
    cumulative += this.#buckets[LATENCY_BOUNDS.length]!;
    out.push(`ferry_score_request_duration_seconds_bucket{le="+Inf"} ${cumulative}`);
    out.push(`ferry_score_request_duration_seconds_sum ${this.#sum}`);
    out.push(`ferry_score_request_duration_seconds_count ${this.#count}`);

    gauge(out, 'ferry_http_requests_in_flight', 'HTTP requests received and not yet answered.', g.httpInFlight);
    gauge(out, 'ferry_scoring_in_flight', 'Scoring calls running in the runtime.', g.scoringInFlight);
    gauge(out, 'ferry_scoring_queue_depth', 'Scoring calls waiting for a free slot in the runtime.', g.queued);
    gauge(out, 'ferry_ready', '1 once the models are loaded and the service scores, else 0.', g.ready ? 1 : 0);
    return `${out.join('\n')}\n`;
  }
}

function gauge(out: string[], name: string, help: string, value: number): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
}

function methodLabel(method: string): string {
  return method === 'GET' || method === 'POST' || method === 'HEAD' ? method : 'other';
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
