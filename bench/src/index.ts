/**
 * `npm run bench [-- --quick] [-- --only name] [-- --record]`: runs every benchmark, prints its figures
 * and its targets (ratios against baselines measured in the same run), and with --record appends them
 * to bench/RESULTS.md with the date, commit and machine.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { coldStartBench } from './cold-start.js';
import { registerFolderBench } from './register-folder.js';
import { serveBench } from './serve-bench.js';
import { simulateBench } from './simulate-bench.js';
import { edgeBench } from './edge-bench.js';
import { meets, type BenchReport, type Benchmark } from './report.js';

const benchmarks: Record<string, Benchmark> = {
  serve: serveBench,
  'cold-start': coldStartBench,
  register: registerFolderBench,
  simulate: simulateBench,
  edge: edgeBench,
};

function format(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toFixed(3);
}

function render(report: BenchReport): string {
  const lines = [`## ${report.name}`];
  for (const f of report.figures) lines.push(`- ${f.label}: ${format(f.value)} ${f.unit}`);
  for (const t of report.targets) lines.push(`- **${t.label}: ${format(t.value)}${t.unit ? ` ${t.unit}` : ''} (target ${t.op} ${t.bar}${t.unit ? ` ${t.unit}` : ''}) ${meets(t) ? 'MET' : 'NOT MET'}**`);
  for (const n of report.notes ?? []) lines.push(`- note: ${n}`);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const quick = argv.includes('--quick');
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1]?.split(',') : undefined;
  const record = argv.includes('--record');
  const sections: string[] = [];
  let failed = 0;
  for (const [name, bench] of Object.entries(benchmarks)) {
    if (only && !only.includes(name)) continue;
    const tmpDir = mkdtempSync(join(tmpdir(), `ferry-bench-${name}-`));
    try {
      const report = await bench({ tmpDir, quick, log: (line) => process.stderr.write(`  [${name}] ${line}\n`) });
      const text = render(report);
      process.stdout.write(`${text}\n\n`);
      sections.push(text);
      failed += report.targets.filter((t) => !meets(t)).length;
    } finally {
      rmSync(tmpDir, { recursive: true, force: true });
    }
  }
  if (record) {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root }).toString().trim() !== '';
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
    const header = `\n# ${new Date().toISOString().slice(0, 10)} · commit ${commit}${dirty ? ' (with uncommitted changes)' : ''} · ${machine}${quick ? ' · --quick' : ''}\n\n`;
    appendFileSync(join(root, 'bench', 'RESULTS.md'), header + sections.join('\n\n') + '\n');
  }
  process.stdout.write(failed === 0 ? 'All targets met.\n' : `${failed} target(s) not met.\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
