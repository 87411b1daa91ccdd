/**
 * What the launcher needs to know about one module: the launcher's own small input type. The simulate
 * command maps the manifest's `$edgeAgent` modules (PROTOCOLS.md §5) onto it, together with the
 * solution file's process entries.
 */

/** `$edgeAgent.modules.<id>.restartPolicy` (PROTOCOLS.md §5), in edgeAgent's order never < on-failure < on-unhealthy < always. */
export type RestartPolicy = 'never' | 'on-failure' | 'on-unhealthy' | 'always';

/** `$edgeAgent.modules.<id>.status`: the status the deployment asks for. */
export type DesiredStatus = 'running' | 'stopped';

/** A module run as a local process: argv (no shell), optional working directory. */
export interface ProcessRun {
  readonly kind: 'process';
  /** `[executable, ...args]`; spawned without a shell, so no quoting or globbing applies. */
  readonly command: readonly string[];
  readonly cwd?: string;
}

/** A module run as a container: `settings.image` and the parsed `settings.createOptions` object. */
export interface ContainerRun {
  readonly kind: 'container';
  readonly image: string;
  readonly createOptions: Readonly<Record<string, unknown>>;
}

export type ModuleRun = ProcessRun | ContainerRun;

export interface ModuleSpec {
  /** The module id (`^[a-zA-Z0-9_-]+$` in a manifest, PROTOCOLS.md §5). */
  readonly id: string;
  /**
   * Lower starts first; ties start in id order. edgeAgent's default when a manifest has none is
   * 4294967295 (uint32 max), which `DEFAULT_STARTUP_ORDER` holds.
   */
  readonly startupOrder?: number;
  readonly restartPolicy: RestartPolicy;
  readonly status: DesiredStatus;
  /** `env.<NAME>.value` from the manifest. */
  readonly env: Readonly<Record<string, string>>;
  readonly run: ModuleRun;
}

/** edgeAgent's startupOrder for modules that give none (uint32 max). */
export const DEFAULT_STARTUP_ORDER = 4294967295;

export const RESTART_POLICIES: readonly RestartPolicy[] = ['never', 'on-failure', 'on-unhealthy', 'always'];
