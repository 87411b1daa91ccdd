/**
 * What happens when a module's process ends: edgeAgent's restart semantics, as a pure function.
 *
 * Azure/iotedge edge-agent `RestartPolicyManager.cs` and `Planners/HealthRestartPlanner.cs`:
 * - a module that exits with code 0 is "stopped", any other ending (non-zero code, killed by a signal,
 *   could not be started) is "failed";
 * - `never` restarts nothing; `on-failure` and `on-unhealthy` restart a failed module; `always` restarts
 *   a stopped or failed one;
 * - before restarting, the module waits in "backoff" for min(unit × 2^restartCount, 300 s)
 *   (`GetCoolOffPeriod`, unit 10 s by default); once restartCount reaches the maximum (5 by default) the
 *   module is "failed" and is not restarted again;
 * - a module that stayed up for the "intensive care" time (10 min by default) has its restart count
 *   cleared (`ResetStatsForHealthyModulesAsync`), so its next failure starts the backoff afresh.
 *
 * `on-unhealthy` needs a health signal (Docker's HEALTHCHECK for containers). A process has none, so for
 * processes it behaves as `on-failure`; this is the one place the simulator is less strict than edgeAgent.
 */
import type { RestartPolicy } from './module-spec.js';

export interface RestartOptions {
  /** The backoff unit (edgeAgent's CoolOffTimeUnitInSeconds, 10 s). */
  readonly coolOffUnitMs: number;
  /** The longest backoff (edgeAgent's MaxCoolOffPeriodSecs, 300 s). */
  readonly maxCoolOffMs: number;
  /** Restarts after which a module is given up as failed (edgeAgent's MaxRestartCount, 5). */
  readonly maxRestarts: number;
  /** Up this long, a module's restart count is cleared (edgeAgent's IntensiveCareTimeInMinutes, 10). */
  readonly intensiveCareMs: number;
}

export const DEFAULT_RESTART_OPTIONS: RestartOptions = {
  coolOffUnitMs: 10_000,
  maxCoolOffMs: 300_000,
  maxRestarts: 5,
  intensiveCareMs: 600_000,
};

/** What the planner needs to know about the run that just ended. */
export interface RunRecord {
  readonly moduleId: string;
  readonly restartPolicy: RestartPolicy;
  /** Restarts since the count was last cleared (not the lifetime total). */
  readonly restartCount: number;
  /** When this run started (epoch ms). */
  readonly startedAt: number;
}

export interface ModuleExit {
  /** The exit code, or null when the process was killed by a signal or never started. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** When it ended (epoch ms). */
  readonly at: number;
  /** The launcher asked it to stop: never restarted, whatever the policy. */
  readonly stopRequested: boolean;
}

export interface RestartDecision {
  readonly kind: 'restart';
  readonly moduleId: string;
  /** How long to wait in backoff before starting again. */
  readonly delayMs: number;
  /** The restart count once this restart has happened. */
  readonly restartCount: number;
}

export interface SettleDecision {
  readonly kind: 'settle';
  readonly moduleId: string;
  /** `stopped`: stopped on request; `exited`: ended with code 0 and not restarted; `failed`: ended badly and not restarted. */
  readonly state: 'stopped' | 'exited' | 'failed';
  /** The restart count kept (cleared when the run lasted the intensive care time). */
  readonly restartCount: number;
  /** Why it will not be restarted. */
  readonly reason: 'stop-requested' | 'policy' | 'restart-limit';
}

export type RestartStep = RestartDecision | SettleDecision;

/** edgeAgent's `GetCoolOffPeriod`: unit × 2^restartCount, capped. */
export function coolOffMs(restartCount: number, options: RestartOptions = DEFAULT_RESTART_OPTIONS): number {
  return Math.min(options.coolOffUnitMs * 2 ** restartCount, options.maxCoolOffMs);
}

/** A clean ending is exit code 0; a signal, a non-zero code or a failed start is a failure. */
export function isFailure(exit: Pick<ModuleExit, 'code' | 'signal'>): boolean {
  return exit.code !== 0 || exit.signal !== null;
}

export function planRestart(run: RunRecord, exit: ModuleExit, options: RestartOptions = DEFAULT_RESTART_OPTIONS): RestartStep {
  const upFor = exit.at - run.startedAt;
  const restartCount = upFor >= options.intensiveCareMs ? 0 : run.restartCount;
  const failed = isFailure(exit);
  const settle = (state: SettleDecision['state'], reason: SettleDecision['reason']): SettleDecision =>
    ({ kind: 'settle', moduleId: run.moduleId, state, restartCount, reason });

  if (exit.stopRequested) return settle('stopped', 'stop-requested');
  const wantsRestart = run.restartPolicy === 'always' || (failed && run.restartPolicy !== 'never');
  if (!wantsRestart) return settle(failed ? 'failed' : 'exited', 'policy');
  // RestartPolicyManager.ComputeModuleStatusFromRestartPolicy: at the limit the module is Failed, even under `always`.
  if (restartCount >= options.maxRestarts) return settle('failed', 'restart-limit');
  return { kind: 'restart', moduleId: run.moduleId, delayMs: coolOffMs(restartCount, options), restartCount: restartCount + 1 };
}
