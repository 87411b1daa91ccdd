/**
 * Staging folders abandoned by a process that died mid-write. writeModel stages in
 * `<modelsDir>/.staging-<pid>-XXXXXX` and fetchModel downloads into `<cacheDir>/.fetch-<pid>-XXXXXX`,
 * then rename into place; a SIGKILL or a power loss in between leaves the folder behind, and on a small
 * device one can hold hundreds of MB. The store's open and writeModel and every fetchModel call sweep
 * the folder they use (a listing of a few entries).
 *
 * Only `<prefix><pid>-XXXXXX` (and the older `<prefix>XXXXXX`) folders, or symbolic links by those names,
 * directly in the folder are removed, and only when they are older (mtime) than STALE_STAGING_AGE_MS
 * and their owner is gone:
 * - `process.kill(pid, 0)` fails with ESRCH; or
 * - the pid is this process's own but the entry predates this process: in a container the module
 *   usually gets the same pid (1) after every restart, so its own leftovers would otherwise look alive;
 * - old names without a pid: age alone.
 * The age rule protects a live writer that the pid check cannot see: pids are per namespace, and two
 * containers may share one volume. Entries are lstat'ed, never followed (a link is removed, not its
 * target). Synchronous on purpose (open is synchronous) and best effort: a failure is reported on
 * NODE_DEBUG=ferry-device-models and skipped, never thrown.
 */
import { lstatSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { debuglog } from 'node:util';

const debug = debuglog('ferry-device-models');

/** How long a leftover is kept, whoever its owner (10 min: longer than a write or download takes). */
export const STALE_STAGING_AGE_MS = 10 * 60_000;

export type StagingKind = '.staging-' | '.fetch-';

/** The mkdtemp prefix of a staging folder in `dir`: its name tells which process owns it. */
export function stagingPrefix(dir: string, kind: StagingKind): string {
  return join(dir, `${kind}${process.pid}-`);
}

/** Removes the abandoned `kind` staging folders directly in `dir` (see above). Never throws. */
export function sweepStaleStaging(dir: string, kind: StagingKind): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') debug('cannot list %s: %s', dir, (err as Error).message);
    return;
  }
  // `<kind><pid>-XXXXXX` (mkdtemp adds 6 letters or digits), or `<kind>XXXXXX` from before pids were added.
  const pattern = new RegExp(`^${kind.replace('.', '\\.')}(?:([1-9][0-9]{0,9})-)?[A-Za-z0-9]{6}$`);
  const now = Date.now();
  for (const name of names) {
    const match = pattern.exec(name);
    if (!match) continue;
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      if (!st.isDirectory() && !st.isSymbolicLink()) continue;
      if (now - st.mtimeMs < STALE_STAGING_AGE_MS) continue;
      const pid = match[1] === undefined ? undefined : Number(match[1]);
      if (pid !== undefined && (pid === process.pid ? st.mtimeMs >= performance.timeOrigin : isAlive(pid))) continue;
      if (st.isDirectory()) rmSync(path, { recursive: true, force: true });
      else unlinkSync(path);
      debug('removed %s, left by process %s', path, pid ?? 'unknown');
    } catch (err) {
      debug('cannot remove %s: %s', path, (err as Error).message);
    }
  }
}

/** False only when no such process exists (ESRCH); EPERM means it runs as another user. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
