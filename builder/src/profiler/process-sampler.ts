/**
 * Samples a process's memory and CPU from procfs (proc(5)): `/proc/<pid>/stat` fields 14-15 (utime, stime, in
 * clock ticks, summed over all the process's threads, so worker_threads count) and `/proc/<pid>/status`
 * (VmRSS, VmHWM). Descendant processes (a launcher that forks the real server) are found by their PPid and
 * added in, so the figures cover the whole serve, whatever wraps it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface ProcessSample {
  /** performance.now() when the sample was taken. */
  atMs: number;
  /** Resident set size of the process tree, bytes. */
  rssBytes: number;
  /** CPU time (user + system) consumed so far by the process tree, seconds. */
  cpuSeconds: number;
}

export interface ProcessUsage {
  /** Average cores used: CPU seconds / wall seconds over the interval. */
  avgCpuCores: number;
  /** Highest average over any window of about one second inside the interval (the whole interval if shorter). */
  maxCpuCores: number;
  /** Highest sampled RSS inside the interval, bytes. */
  maxRssBytes: number;
}

const TREE_REFRESH_MS = 1_000;
const PEAK_WINDOW_MS = 1_000;

let clockTicks: number | undefined;
/** USER_HZ, the unit of utime/stime (almost always 100). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

interface ProcReading {
  rssBytes: number;
  hwmBytes: number;
  cpuTicks: number;
  ppid: number;
}

/** Reads one process; undefined when it is gone (or not readable). */
export function readProc(pid: number): ProcReading | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { ppid, cpuTicks, rssBytes: kib(status, 'VmRSS') * 1_024, hwmBytes: kib(status, 'VmHWM') * 1_024 };
  } catch {
    return undefined;
  }
}

function kib(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s*(\\d+)\\s*kB`, 'm').exec(status);
  return match ? Number(match[1]) : 0;
}

/** The pid and all its descendants, found by walking /proc's PPid links. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const reading = readProc(pid);
    if (!reading) continue;
    const list = children.get(reading.ppid);
    if (list) list.push(pid);
    else children.set(reading.ppid, [pid]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i] as number) ?? []));
  return tree;
}

export class ProcessSampler {
  readonly pid: number;
  readonly samples: ProcessSample[] = [];
  #timer: NodeJS.Timeout | undefined;
  #tree: number[];
  #treeAt = -Infinity;
  #peakHwmBytes = 0;

  constructor(pid: number) {
    this.pid = pid;
    this.#tree = [pid];
  }

  /** Samples now, then every `intervalMs` until stop(). */
  start(intervalMs = 100): void {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes one sample (also usable to mark the edges of an interval exactly). */
  sample(): ProcessSample | undefined {
    const now = performance.now();
    if (now - this.#treeAt >= TREE_REFRESH_MS) {
      this.#tree = processTree(this.pid);
      this.#treeAt = now;
    }
    let rssBytes = 0;
    let cpuTicks = 0;
    let alive = false;
    for (const pid of this.#tree) {
      const reading = readProc(pid);
      if (!reading) continue;
      alive ||= pid === this.pid;
      rssBytes += reading.rssBytes;
      cpuTicks += reading.cpuTicks;
      if (pid === this.pid) this.#peakHwmBytes = Math.max(this.#peakHwmBytes, reading.hwmBytes);
    }
    if (!alive) return undefined;
    const sample = { atMs: now, rssBytes, cpuSeconds: cpuTicks / ticksPerSecond() };
    this.samples.push(sample);
    return sample;
  }

  /** The serve process's own peak RSS since it started (VmHWM, includes model loading), bytes. */
  get peakHwmBytes(): number {
    return this.#peakHwmBytes;
  }

  /** Usage between two instants (inclusive), from the samples taken; undefined with fewer than two samples. */
  usage(fromMs: number, toMs: number): ProcessUsage | undefined {
    const inside = this.samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
    return summarizeUsage(inside);
  }
}

/** Pure: the usage figures of a run of samples (ordered by time). */
export function summarizeUsage(samples: readonly ProcessSample[]): ProcessUsage | undefined {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last || last.atMs <= first.atMs) return undefined;
  const rate = (a: ProcessSample, b: ProcessSample): number => Math.max(0, (b.cpuSeconds - a.cpuSeconds) / ((b.atMs - a.atMs) / 1_000));
  const avgCpuCores = rate(first, last);
  let maxCpuCores = last.atMs - first.atMs < PEAK_WINDOW_MS ? avgCpuCores : 0;
  let from = 0;
  for (let to = 1; to < samples.length; to++) {
    const end = samples[to] as ProcessSample;
    // Slide the start so the window is the shortest one that still spans PEAK_WINDOW_MS.
    while (from + 1 < to && end.atMs - (samples[from + 1] as ProcessSample).atMs >= PEAK_WINDOW_MS) from++;
    const start = samples[from] as ProcessSample;
    if (end.atMs - start.atMs >= PEAK_WINDOW_MS) maxCpuCores = Math.max(maxCpuCores, rate(start, end));
  }
  const maxRssBytes = samples.reduce((max, s) => Math.max(max, s.rssBytes), 0);
  return { avgCpuCores, maxCpuCores, maxRssBytes };
}
