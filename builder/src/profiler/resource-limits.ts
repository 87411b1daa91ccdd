/**
 * What CPU and memory a process was given, when it was limited: its CPU affinity (Cpus_allowed_list in
 * /proc/<pid>/status) and its cgroup's quota (v2: cpu.max, memory.max; v1: cpu.cfs_quota_us/cfs_period_us,
 * memory.limit_in_bytes). Null for what is not limited (Azure ML's profiler shows "requested" only for
 * limited deployments, too).
 */
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';

export interface ResourceLimits {
  cpuCores: number | null;
  memoryBytes: number | null;
}

export function readResourceLimits(pid: number): ResourceLimits {
  const cpus: number[] = [];
  const memories: number[] = [];
  const affinity = cpusAllowed(pid);
  if (affinity !== undefined && affinity < availableParallelism()) cpus.push(affinity);
  for (const dir of cgroupDirs(pid)) {
    const v2cpu = read(`${dir.cpu}/cpu.max`);
    if (v2cpu) {
      const [quota, period] = v2cpu.split(/\s+/);
      if (quota && quota !== 'max' && Number(period) > 0) cpus.push(Number(quota) / Number(period));
    }
    const v1quota = Number(read(`${dir.cpu}/cpu.cfs_quota_us`) ?? -1);
    const v1period = Number(read(`${dir.cpu}/cpu.cfs_period_us`) ?? 0);
    if (v1quota > 0 && v1period > 0) cpus.push(v1quota / v1period);
    const v2mem = read(`${dir.memory}/memory.max`);
    if (v2mem && v2mem !== 'max') memories.push(Number(v2mem));
    const v1mem = Number(read(`${dir.memory}/memory.limit_in_bytes`) ?? NaN);
    // v1 says "unlimited" with a huge page-rounded number (≈ 2^63).
    if (Number.isFinite(v1mem) && v1mem > 0 && v1mem < 2 ** 60) memories.push(v1mem);
  }
  return {
    cpuCores: cpus.length > 0 ? Math.min(...cpus) : null,
    memoryBytes: memories.length > 0 ? Math.min(...memories) : null,
  };
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function cpusAllowed(pid: number): number | undefined {
  const status = read(`/proc/${pid}/status`);
  const list = status && /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  if (!list) return undefined;
  let count = 0;
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    count += b === undefined ? 1 : b - a + 1;
  }
  return count;
}

/** The cgroup folders of the process, per controller (/proc/<pid>/cgroup: "id:controllers:path"). */
function cgroupDirs(pid: number): Array<{ cpu: string; memory: string }> {
  const text = read(`/proc/${pid}/cgroup`);
  if (!text) return [];
  const dirs: Array<{ cpu: string; memory: string }> = [];
  let cpu: string | undefined;
  let memory: string | undefined;
  for (const line of text.split('\n')) {
    const [, controllers = '', path = ''] = line.split(':');
    if (line.startsWith('0::')) dirs.push({ cpu: `/sys/fs/cgroup${path}`, memory: `/sys/fs/cgroup${path}` });
    const names = controllers.split(',');
    if (names.includes('cpu')) cpu = `/sys/fs/cgroup/${controllers}${path}`;
    if (names.includes('memory')) memory = `/sys/fs/cgroup/memory${path}`;
  }
  if (cpu || memory) dirs.push({ cpu: cpu ?? '/nonexistent', memory: memory ?? '/nonexistent' });
  return dirs;
}
