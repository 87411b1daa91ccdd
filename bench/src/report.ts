/**
 * What every benchmark returns. Targets are ratios (or differences) against a baseline measured in
 * the same run on the same machine, never bare absolute times: these machines are shared and noisy.
 */
export interface Figure {
  label: string;
  value: number;
  unit: string;
}

export interface Target {
  /** What is compared, e.g. "throughput serve/raw (det)". */
  label: string;
  value: number;
  /** The bar, e.g. 0.95 with op '>='. */
  bar: number;
  op: '>=' | '<=';
  unit?: string;
}

export interface BenchReport {
  name: string;
  figures: Figure[];
  targets: Target[];
  notes?: string[];
}

export interface BenchContext {
  /** Scratch directory for this benchmark; removed afterwards. */
  tmpDir: string;
  /** Shorter runs for a smoke check (`npm run bench -- --quick`). */
  quick: boolean;
  log: (line: string) => void;
}

export type Benchmark = (ctx: BenchContext) => Promise<BenchReport>;

export function meets(t: Target): boolean {
  return t.op === '>=' ? t.value >= t.bar : t.value <= t.bar;
}
