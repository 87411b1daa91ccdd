/** Plain-text rendering of a profile report for the CLI (no colours, no terminal control codes). */
import type { ProfileLevel, ProfileReport } from './profile.js';

const COLUMNS = ['concurrency', 'queries', 'ok', 'qps', 'avg ms', 'p50 ms', 'p90 ms', 'p95 ms', 'p99 ms', 'p99.9 ms', 'cpu avg', 'cpu max', 'rss MiB'] as const;

export function formatProfileTable(report: ProfileReport): string {
  const rows: string[][] = report.levels.map((l) => row(String(l.concurrency), l));
  rows.push(
    row('overall', {
      totalQueries: report.overall.totalQueries,
      successfulQueries: report.overall.successfulQueries,
      qps: report.overall.qps,
      latency: report.overall.latency,
      avgCpuCores: null,
      maxCpuCores: report.overall.maxCpuCores,
      maxMemoryMb: report.overall.maxMemoryMb,
    }),
  );
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  const out = [line(COLUMNS), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(0, -1).map(line), line(widths.map((w) => '-'.repeat(w))), line(rows[rows.length - 1] ?? [])];
  out.push('');
  out.push(`Requested:   cpu ${report.requestedCpuCores === null ? 'not limited' : `${fixed(report.requestedCpuCores, 2)} cores`}, memory ${report.requestedMemoryMb === null ? 'not limited' : `${fixed(report.requestedMemoryMb, 0)} MiB`}`);
  out.push(`Max used:    cpu ${report.overall.maxCpuCores === null ? '-' : `${fixed(report.overall.maxCpuCores, 2)} cores`}, memory ${report.overall.maxMemoryMb === null ? '-' : `${fixed(report.overall.maxMemoryMb, 1)} MiB`}`);
  if (report.best) out.push(`Best:        concurrency ${report.best.concurrency}, ${fixed(report.best.qps, 1)} queries/s, p99 ${report.best.p99Ms === null ? '-' : `${fixed(report.best.p99Ms, 2)} ms`}`);
  const r = report.recommended;
  out.push(
    r
      ? `Recommended: ${fixed(r.cpuCores, 1)} CPU cores, ${r.memoryMb} MiB memory (${fixed(r.memoryGb, 1)} GB) — basis: concurrency ${r.basis.concurrency} used ${fixed(r.basis.usedCpuCores, 2)} cores at ${fixed(r.basis.qps, 1)} queries/s, peak RSS ${fixed(r.basis.peakMemoryMb, 1)} MiB, +20% headroom`
      : 'Recommended: - (needs a local serve process and at least one successful query)',
  );
  return `${out.join('\n')}\n`;
}

type RowFigures = Pick<ProfileLevel, 'totalQueries' | 'successfulQueries' | 'qps' | 'latency' | 'avgCpuCores' | 'maxCpuCores' | 'maxMemoryMb'>;

function row(label: string, l: RowFigures): string[] {
  const ms = (v: number | undefined): string => (v === undefined ? '-' : fixed(v, 2));
  return [
    label,
    String(l.totalQueries),
    String(l.successfulQueries),
    fixed(l.qps, 1),
    ms(l.latency?.avgMs),
    ms(l.latency?.p50Ms),
    ms(l.latency?.p90Ms),
    ms(l.latency?.p95Ms),
    ms(l.latency?.p99Ms),
    ms(l.latency?.p999Ms),
    l.avgCpuCores === null ? '-' : fixed(l.avgCpuCores, 2),
    l.maxCpuCores === null ? '-' : fixed(l.maxCpuCores, 2),
    l.maxMemoryMb === null ? '-' : fixed(l.maxMemoryMb, 1),
  ];
}

function fixed(value: number, digits: number): string {
  return value.toFixed(digits);
}
