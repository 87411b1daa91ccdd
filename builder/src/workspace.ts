/** Where Ferry keeps its state: the model registry, serving keys, build outputs. */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** `explicit` (e.g. `--workspace`), else `$FERRY_HOME`, else `~/.ferry`; always absolute. */
export function resolveWorkspace(explicit?: string): string {
  const chosen = nonEmpty(explicit) ?? nonEmpty(process.env['FERRY_HOME']) ?? join(homedir(), '.ferry');
  return resolve(chosen);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Whether a process of this machine is still running: used to tell a live registration's staging
 * folder or a running `ferry serve` from what a killed process left behind.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
