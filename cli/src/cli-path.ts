import { fileURLToPath } from 'node:url';

/** The `ferry` executable of this installation, to start `ferry serve` as a child process. */
export const FERRY_BIN = fileURLToPath(new URL('../bin/ferry.js', import.meta.url));

/** The command line that runs `ferry <args>` with this Node.js and this installation. */
export function ferryCommand(workspace: string, ...args: string[]): string[] {
  return [process.execPath, FERRY_BIN, '--workspace', workspace, ...args];
}
