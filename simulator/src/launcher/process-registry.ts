/**
 * Which module processes a simulation has running, kept in its folder (issue 3 §3: a simulator killed
 * with SIGKILL leaves its detached module process groups behind). Each entry holds the group leader's
 * pid and its start time from /proc, so a later run ends exactly those groups and never a process that
 * merely got a recycled pid.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { simulatorError } from '../errors.js';
import { writeFileAtomic } from '../identity/atomic-file.js';

export interface RecordedProcess {
  readonly moduleId: string;
  /** The leader of the module's process group (its pgid). */
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot; with the pid it names one process. */
  readonly startTime: string;
}

/** What ending a recorded group found: `ended` by SIGTERM, `killed` after the grace, `gone` already, `recycled` pid now someone else's. */
export type LeftoverOutcome = 'ended' | 'killed' | 'gone' | 'recycled';

interface ProcStat {
  readonly state: string;
  readonly pgrp: number;
  readonly startTime: string;
}

/** /proc/<pid>/stat's state, process group and start time; undefined when there is no such process (or no /proc). */
function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // proc(5): "pid (comm) state ppid pgrp session ... starttime(22)"; comm may hold spaces and ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, , pgrp] = fields;
  const startTime = fields[19];
  if (state === undefined || pgrp === undefined || startTime === undefined) return undefined;
  return { state, pgrp: Number(pgrp), startTime };
}

/** The start time of a live process (zombies count as ended); undefined where /proc cannot tell. */
export function processStartTime(pid: number): string | undefined {
  const stat = procStat(pid);
  return stat && stat.state !== 'Z' ? stat.startTime : undefined;
}

/**
 * Whether anything of the recorded group still runs: its leader (same pid and start time), or, with the
 * leader gone, live members of group `pid` that started no earlier than it did (Linux keeps a pgid from
 * being reused while the group has members, so those are the group's own).
 */
function groupAlive(p: RecordedProcess): boolean | 'recycled' {
  const leader = procStat(p.pid);
  if (leader && leader.state !== 'Z') return leader.startTime === p.startTime ? true : 'recycled';
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return false;
  }
  return pids.some((n) => {
    const s = procStat(Number(n));
    return s !== undefined && s.pgrp === p.pid && s.state !== 'Z' && BigInt(s.startTime) >= BigInt(p.startTime);
  });
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // ESRCH: the group emptied meanwhile
  }
}

/**
 * Ends one recorded process group the way the launcher stops a module: SIGTERM to the group, SIGKILL
 * after `graceMs`; each signal only after checking the group is still the recorded one.
 */
export async function endRecordedProcess(p: RecordedProcess, graceMs: number): Promise<LeftoverOutcome> {
  const first = groupAlive(p);
  if (first !== true) return first === 'recycled' ? 'recycled' : 'gone';
  signalGroup(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(25);
    if (groupAlive(p) !== true) return 'ended';
  }
  if (groupAlive(p) !== true) return 'ended';
  signalGroup(p.pid, 'SIGKILL');
  for (let i = 0; i < 200 && groupAlive(p) === true; i++) await sleep(10);
  return 'killed';
}

/** The file of a simulation's running module processes (`<simulation>/module-processes.json`). */
export class ProcessRegistry {
  readonly #path: string;
  readonly #entries = new Map<string, RecordedProcess>();

  private constructor(path: string) {
    this.#path = path;
  }

  /** Reads the file (absent: empty); throws FERRY_E_SIM_WORKSPACE_IO when it cannot be read. */
  static open(path: string): ProcessRegistry {
    const registry = new ProcessRegistry(path);
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `Cannot read ${path}`, { cause });
    }
    if (text !== undefined) {
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (cause) {
        throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `${path} is not valid JSON`, { cause });
      }
      const list = (doc as { processes?: unknown }).processes;
      for (const e of Array.isArray(list) ? list as unknown[] : []) {
        const r = e as Partial<RecordedProcess>;
        if (typeof r.moduleId === 'string' && Number.isInteger(r.pid) && (r.pid ?? 0) > 1 && typeof r.startTime === 'string' && /^\d+$/.test(r.startTime)) {
          registry.#entries.set(r.moduleId, { moduleId: r.moduleId, pid: r.pid!, startTime: r.startTime });
        }
      }
    }
    return registry;
  }

  entries(): RecordedProcess[] {
    return [...this.#entries.values()];
  }

  /**
   * Ends every recorded group (all at once, each with `graceMs`), then empties the file. Resolves with
   * what happened to each.
   */
  async endAll(graceMs: number): Promise<Array<RecordedProcess & { readonly outcome: LeftoverOutcome }>> {
    const ended = await Promise.all(this.entries().map(async (p) => ({ ...p, outcome: await endRecordedProcess(p, graceMs) })));
    this.#entries.clear();
    this.#save();
    return ended;
  }

  /**
   * Follows a launcher's `state` events: a process module with a pid is recorded (with its start time,
   * read now), one without is forgotten. Written through at once (fsync), so a SIGKILL loses nothing.
   */
  observe(status: { readonly id: string; readonly kind: string; readonly pid: number | null }): void {
    if (status.kind !== 'process') return;
    const known = this.#entries.get(status.id);
    if (status.pid === null) {
      if (!known) return;
      this.#entries.delete(status.id);
    } else {
      if (known?.pid === status.pid) return;
      const startTime = processStartTime(status.pid);
      if (startTime === undefined) return; // already ended, or no /proc to identify it later
      this.#entries.set(status.id, { moduleId: status.id, pid: status.pid, startTime });
    }
    this.#save();
  }

  #save(): void {
    try {
      writeFileAtomic(this.#path, `${JSON.stringify({ version: 1, processes: this.entries() }, null, 2)}\n`, 0o600);
    } catch {
      // Best effort: the record only serves to clean up after a crash.
    }
  }
}
