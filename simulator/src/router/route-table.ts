/**
 * The routes of one manifest, and what they make of a message (issue 3 §2; PROTOCOLS.md §6): every route
 * whose source and condition take the message; one delivery per endpoint, at the best priority among those
 * routes, with that route's time to live (iotedge doc/Route_priority_and_TTL.md, "Limitations").
 */
import type { DeploymentManifest, ManifestRoute, RouteMessage, RouteSink } from '@ferry/deployment-manifests';
import type { Delivery } from '../store/store-types.js';

/** The endpoint names the store keeps queues under; stable across route reloads. */
export const UPSTREAM_ENDPOINT = '$upstream';

export function endpointName(sink: RouteSink): string {
  return sink.kind === 'upstream' ? UPSTREAM_ENDPOINT : `/modules/${sink.module}/inputs/${sink.input}`;
}

/** The sink an endpoint name stands for, or undefined for a name the router never makes. */
export function endpointSink(name: string): RouteSink | undefined {
  if (name === UPSTREAM_ENDPOINT) return { kind: 'upstream' };
  const m = /^\/modules\/([^/]+)\/inputs\/([^/]+)$/.exec(name);
  return m ? { kind: 'module-input', module: m[1] as string, input: m[2] as string } : undefined;
}

export interface RoutePlan {
  /** Indexes (into `routes`) of the routes that took the message. */
  readonly matched: readonly number[];
  readonly deliveries: readonly Delivery[];
}

export class RouteTable {
  readonly routes: readonly ManifestRoute[];
  readonly #defaultTtlSecs: number;
  /** The endpoints these routes send to. */
  readonly endpoints: ReadonlySet<string>;
  readonly #endpointOf: readonly string[];

  constructor(manifest: DeploymentManifest) {
    this.routes = manifest.hub.routes;
    this.#defaultTtlSecs = manifest.hub.storeAndForward.timeToLiveSecs;
    this.#endpointOf = this.routes.map((r) => endpointName(r.compiled.sink));
    this.endpoints = new Set(this.#endpointOf);
  }

  get defaultTtlSecs(): number {
    return this.#defaultTtlSecs;
  }

  /** Evaluates every route (only a 'true' result routes, PROTOCOLS.md §6). */
  plan(message: RouteMessage): RoutePlan {
    const matched: number[] = [];
    const best = new Map<string, Delivery>();
    this.routes.forEach((route, i) => {
      if (route.compiled.evaluate(message) !== 'true') return;
      matched.push(i);
      const endpoint = this.#endpointOf[i] as string;
      const seen = best.get(endpoint);
      // Delivered once per endpoint, at the best priority; on a tie the first route (manifest order) wins.
      if (!seen || route.priority < seen.priority) {
        best.set(endpoint, { endpoint, priority: route.priority, ttlSecs: route.timeToLiveSecs ?? this.#defaultTtlSecs });
      }
    });
    return { matched, deliveries: [...best.values()] };
  }
}
