/** Where a named simulation keeps its state under a workspace: `<workspace>/simulations/<name>/`. */
import { join } from 'node:path';
import { simulatorError } from '../errors.js';

export const DEFAULT_SIMULATION_NAME = 'default';

/** The folder of a simulation; names are `^[a-zA-Z0-9_-]{1,64}$` (they become folder names). */
export function simulationDir(workspace: string, name: string): string {
  if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name)) {
    throw simulatorError('FERRY_E_SIM_CONTROL_REQUEST_INVALID', `The simulation name "${name}" must be 1-64 letters, digits, - or _.`, { details: { name } });
  }
  return join(workspace, 'simulations', name);
}

/** The control socket of a simulation. */
export function controlSocketPath(workspace: string, name: string): string {
  return join(simulationDir(workspace, name), 'control.sock');
}
