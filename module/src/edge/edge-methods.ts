/**
 * The scorer's direct methods (issue 4 §3, PROTOCOLS.md §3 `$iothub/methods/POST/<method>`):
 * - `score`: the payload is a scoring request (`{"data": ...}`, what `POST /score` takes); answers 200
 *   with the scoring function's result, or the error's status with `{code, message}`;
 * - `health`: 200 `{state, reason, code, model: {name, version, sha256}, draining}`;
 * - `stats`: 200 the counters (ModuleStats) with the model id;
 * - `reload`: rebuilds the runtime from the last requested model and settings: 200 `{model}`, or the
 *   load's error (the previous model keeps scoring);
 * - `setLogLevel`: `{"level": "debug"}` (or the bare string): 200 `{level}`, 400 for an unknown level.
 */
import type { DeviceMethodRequest, DeviceMethodResponse, ModuleClient } from 'azure-iot-device';
import { isFerryError } from '../errors.js';
import type { ResolvedModel } from '../model-ref.js';
import { edgeError } from './errors.js';
import { parseLogLevel } from './log-levels.js';
import type { ModelSlot } from './model-slot.js';
import type { ModuleStats } from './module-stats.js';

export interface EdgeMethodsOptions {
  slot: ModelSlot;
  stats: ModuleStats;
  setLogLevel(level: string): void;
  reload(): Promise<unknown>;
}

type Answer = { status: number; payload: unknown };
type Handler = (payload: unknown) => Promise<Answer>;

export const EDGE_METHODS = ['score', 'health', 'stats', 'reload', 'setLogLevel'] as const;

export function registerEdgeMethods(client: ModuleClient, o: EdgeMethodsOptions): void {
  const handlers: Record<(typeof EDGE_METHODS)[number], Handler> = {
    score: async (payload) => {
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
        throw edgeError('FERRY_E_EDGE_METHOD_PAYLOAD_INVALID', 'The score method takes a JSON object: the scoring request, such as {"data": [...]}');
      }
      o.stats.received();
      try {
        const { result } = await o.slot.score({ kind: 'json', value: payload });
        o.stats.scored(result.execMs);
        o.stats.sent();
        return { status: 200, payload: JSON.parse(result.json) as unknown };
      } catch (e) {
        o.stats.failed();
        throw e;
      }
    },
    health: () => Promise.resolve({ status: 200, payload: health(o.slot) }),
    stats: () => Promise.resolve({ status: 200, payload: { ...o.stats.snapshot(), model: o.slot.model.id } }),
    reload: async () => {
      await o.reload();
      return { status: 200, payload: { model: modelInfo(o.slot.model, o.slot.sha256), state: o.slot.status } };
    },
    setLogLevel: (payload) => {
      const raw = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>)['level'] : payload;
      const level = parseLogLevel(raw);
      o.setLogLevel(level);
      return Promise.resolve({ status: 200, payload: { level } });
    },
  };
  for (const name of EDGE_METHODS) {
    client.onMethod(name, (request?: DeviceMethodRequest, response?: DeviceMethodResponse) => {
      if (request && response) void answer(handlers[name], request, response);
    });
  }
}

async function answer(handler: Handler, request: DeviceMethodRequest, response: DeviceMethodResponse): Promise<void> {
  let out: Answer;
  try {
    out = await handler(request.payload ?? null);
  } catch (e) {
    const err = isFerryError(e) ? e : edgeError('FERRY_E_EDGE_METHOD_FAILED', `The method ${request.methodName} failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    out = { status: err.status, payload: { code: err.code, message: err.message } };
  }
  await new Promise<void>((resolve) => {
    // A failed answer (the connection dropped) cannot be retried: the caller's call times out.
    response.send(out.status, out.payload, () => resolve());
  });
}

function health(slot: ModelSlot): Record<string, unknown> {
  return {
    state: slot.status,
    reason: slot.statusReason ?? null,
    code: slot.statusCode ?? null,
    model: modelInfo(slot.model, slot.sha256),
    draining: slot.draining,
  };
}

function modelInfo(m: ResolvedModel, sha256: string | null): { name: string; version: number; sha256: string | null } {
  return { name: m.name, version: m.version, sha256 };
}
