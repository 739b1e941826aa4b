// The benchmark convention: every benchmark prints one JSON line per measurement,
// `{name, ours, baseline, ratio, runs}` (plus unit and goal), with the baseline measured in the
// same process or job so the ratio means something on any machine.
import { performance } from "node:perf_hooks";

export interface BenchResult {
  name: string;
  /** Remora's figure (median unless the name says otherwise). */
  ours: number;
  /** The same figure for the baseline run in the same process or job. */
  baseline: number;
  /** ours / baseline, rounded to 3 decimals. */
  ratio: number;
  runs: number;
  unit?: string;
  /** Human-readable goal, e.g. "ours <= 1500 ms, ratio <= 2". */
  goal?: string;
  extra?: Record<string, unknown>;
}

/** BENCH_SMOKE=1 asks benchmarks for a reduced size (CI smoke runs, no timing assertions). */
export const SMOKE = process.env.BENCH_SMOKE === "1";

export function report(r: Omit<BenchResult, "ratio"> & { ratio?: number }): BenchResult {
  const ratio = r.ratio ?? (r.baseline === 0 ? 0 : r.ours / r.baseline);
  const out: BenchResult = { ...r, ratio: Math.round(ratio * 1000) / 1000 };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  return out;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx] as number;
}

/** Times `fn` `runs` times (after `warmup` untimed runs) and returns the per-run milliseconds. */
export async function timeRuns(fn: () => unknown, runs: number, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times;
}
