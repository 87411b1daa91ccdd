/**
 * The launcher's pure planner (plan, then execute: ARCHITECTURE.md): module specs in, typed steps out.
 * No I/O here; `ModuleLauncher` performs the steps.
 */
import { simulatorError } from '../errors.js';
import { DEFAULT_STARTUP_ORDER, RESTART_POLICIES, type ModuleSpec } from './module-spec.js';

/** Extra environment per module id (EdgeHubConnectionString, EdgeModuleCACertificateFile or IOTEDGE_*), computed by the caller. */
export type ExtraEnv = Readonly<Record<string, Readonly<Record<string, string>>>>;

export interface StartProcessStep {
  readonly kind: 'start-process';
  readonly moduleId: string;
  readonly command: readonly string[];
  readonly cwd: string | undefined;
  /** The module's manifest env overlaid with the caller's extra env (the extra env wins). */
  readonly env: Readonly<Record<string, string>>;
}

export interface StartContainerStep {
  readonly kind: 'start-container';
  readonly moduleId: string;
  readonly image: string;
  readonly createOptions: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string>>;
}

/** A module whose desired status is `stopped`: known to the launcher, never started. */
export interface KeepStoppedStep {
  readonly kind: 'keep-stopped';
  readonly moduleId: string;
}

export interface StopStep {
  readonly kind: 'stop';
  readonly moduleId: string;
}

export type StartStep = StartProcessStep | StartContainerStep;
export type LaunchStep = StartStep | KeepStoppedStep | StopStep;

const MODULE_ID = /^[a-zA-Z0-9_-]+$/; // PROTOCOLS.md §5: $edgeAgent modules.<id>

interface Ordered {
  readonly id: string;
  readonly startupOrder?: number;
}

function order(m: Ordered): number {
  return m.startupOrder ?? DEFAULT_STARTUP_ORDER;
}

/** Start order: ascending startupOrder, ties by id (code-unit order, so the same on every machine). */
export function compareStartupOrder(a: Ordered, b: Ordered): number {
  const d = order(a) - order(b);
  if (d !== 0) return d;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function invalid(id: string, reason: string): never {
  throw simulatorError('FERRY_E_SIM_MODULE_SPEC_INVALID', `Module "${id}": ${reason}`, { details: { module: id } });
}

/** Checks what the executor relies on; throws FERRY_E_SIM_MODULE_SPEC_INVALID naming the module. */
export function validateModuleSpecs(specs: readonly ModuleSpec[]): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    if (!MODULE_ID.test(spec.id)) invalid(spec.id, 'the id must match ^[a-zA-Z0-9_-]+$');
    if (seen.has(spec.id)) invalid(spec.id, 'the id appears twice');
    seen.add(spec.id);
    const o = order(spec);
    if (!Number.isInteger(o) || o < 0 || o > DEFAULT_STARTUP_ORDER) invalid(spec.id, `startupOrder ${String(o)} is not an integer from 0 to 4294967295`);
    if (!RESTART_POLICIES.includes(spec.restartPolicy)) invalid(spec.id, `restartPolicy "${String(spec.restartPolicy)}" is not one of ${RESTART_POLICIES.join(', ')}`);
    if (spec.status !== 'running' && spec.status !== 'stopped') invalid(spec.id, `status "${String(spec.status)}" is not running or stopped`);
    for (const [name, value] of Object.entries(spec.env)) {
      if (name === '' || name.includes('=') || name.includes('\0')) invalid(spec.id, `environment variable name "${name}" is not usable`);
      if (typeof value !== 'string' || value.includes('\0')) invalid(spec.id, `environment variable ${name} must be a string without NUL`);
    }
    const run = spec.run;
    if (run.kind === 'process') {
      if (run.command.length === 0 || run.command[0] === '') invalid(spec.id, 'the process command is empty');
      if (run.command.some((a) => typeof a !== 'string' || a.includes('\0'))) invalid(spec.id, 'every command argument must be a string without NUL');
    } else if (run.kind === 'container') {
      if (!run.image) invalid(spec.id, 'the container image is empty');
    } else {
      invalid(spec.id, `run kind "${String((run as { kind?: unknown }).kind)}" is not process or container`);
    }
  }
}

function startStep(spec: ModuleSpec, extra: Readonly<Record<string, string>> | undefined): StartStep {
  const env = { ...spec.env, ...extra };
  const run = spec.run;
  if (run.kind === 'process') {
    return { kind: 'start-process', moduleId: spec.id, command: [...run.command], cwd: run.cwd, env };
  }
  return { kind: 'start-container', moduleId: spec.id, image: run.image, createOptions: run.createOptions, env };
}

/**
 * The steps that bring a solution up: every module in startupOrder (ties by id); modules whose desired
 * status is `stopped` get a keep-stopped step instead of a start step (edgeAgent's HealthRestartPlanner
 * starts a created module only when its desired status is running).
 */
export function planStart(specs: readonly ModuleSpec[], extraEnv: ExtraEnv = {}): LaunchStep[] {
  validateModuleSpecs(specs);
  return [...specs].sort(compareStartupOrder).map((spec): LaunchStep =>
    spec.status === 'running' ? startStep(spec, extraEnv[spec.id]) : { kind: 'keep-stopped', moduleId: spec.id });
}

/** A module as the stop planner sees it: where it sits in the start order and whether anything of it is live. */
export interface StopCandidate extends Ordered {
  /** True while a process runs, is being started, or waits in backoff for a restart. */
  readonly live: boolean;
}

/** The steps that bring a solution down: live modules in the reverse of their start order. */
export function planStop(modules: readonly StopCandidate[]): StopStep[] {
  return modules
    .filter((m) => m.live)
    .sort((a, b) => compareStartupOrder(b, a))
    .map((m) => ({ kind: 'stop', moduleId: m.id }));
}
