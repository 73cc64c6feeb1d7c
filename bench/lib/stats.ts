/**
 * Repeated timings and their summary: one warm-up call, then as many timed calls as fit a
 * time budget (within a minimum and a maximum), summarised as the median and the spread.
 */

/** Summary of repeated timings of one measurement, in milliseconds. */
export interface Sample {
  /** Timed runs (the warm-up excluded). */
  runs: number;
  /** The warm-up call: it includes compilation, weight packing and first-touch allocation. */
  firstMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** (max - min) / median, in percent: how noisy the repeated runs were. */
  spreadPct: number;
  /** Every timed run, in order. */
  timesMs: number[];
  /**
   * Median process CPU time (every thread) per timed run: on a shared machine, work per CPU
   * second shows an engine's own speed when other processes take turns on the cores.
   */
  cpuMs: number;
}

/** How many timed runs to make. */
export interface RepeatPolicy {
  /** Time to spend on timed runs, estimated from the warm-up call. */
  budgetMs: number;
  minRuns: number;
  maxRuns: number;
}

/** The median of a non-empty list (mean of the middle two for even lengths). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Summarise timed runs (wall and CPU milliseconds) and the warm-up. */
export function summarise(
  firstMs: number,
  timesMs: readonly number[],
  cpuTimesMs: readonly number[] = timesMs,
): Sample {
  const medianMs = median(timesMs);
  const minMs = Math.min(...timesMs);
  const maxMs = Math.max(...timesMs);
  const spreadPct = medianMs > 0 ? (100 * (maxMs - minMs)) / medianMs : 0;
  const cpuMs = median(cpuTimesMs);
  return {
    runs: timesMs.length,
    firstMs,
    medianMs,
    minMs,
    maxMs,
    spreadPct,
    timesMs: [...timesMs],
    cpuMs,
  };
}

/** Timed runs that fit the budget, judged by the warm-up's time, clamped to [min, max]. */
export function plannedRuns(firstMs: number, policy: RepeatPolicy): number {
  const fit = Math.floor(policy.budgetMs / Math.max(firstMs, 1e-3));
  return Math.max(policy.minRuns, Math.min(policy.maxRuns, fit));
}

/**
 * Time `call`: one warm-up, then the planned number of timed runs.
 *
 * @param call - one complete operation; it resolves when its result exists.
 * @returns the summary, with every run's wall time.
 */
export async function timeRepeated(
  call: () => Promise<unknown>,
  policy: RepeatPolicy,
): Promise<Sample> {
  const first = await timeOnce(call);
  const runs = plannedRuns(first.wallMs, policy);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < runs; run++) {
    const { wallMs, cpuMs } = await timeOnce(call);
    wall.push(wallMs);
    cpu.push(cpuMs);
  }
  return summarise(first.wallMs, wall, cpu);
}

/**
 * Time `call` after a separate, cheaper `warmup` (for long calls: a whole pipeline on a tiny
 * input compiles and loads what the full call needs); the first timed run sets how many follow.
 */
export async function timeAfterWarmup(
  warmup: () => Promise<unknown>,
  call: () => Promise<unknown>,
  policy: RepeatPolicy,
): Promise<Sample> {
  const warm = await timeOnce(warmup);
  const first = await timeOnce(call);
  const wall = [first.wallMs];
  const cpu = [first.cpuMs];
  for (let run = 1; run < plannedRuns(first.wallMs, policy); run++) {
    const { wallMs, cpuMs } = await timeOnce(call);
    wall.push(wallMs);
    cpu.push(cpuMs);
  }
  return summarise(warm.wallMs, wall, cpu);
}

/** Wall time and process CPU time (all threads) of one call, in milliseconds. */
export async function timeOnce(
  call: () => Promise<unknown>,
): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await call();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

/** Rate in G-units per second for `amount` units done in `ms` milliseconds. */
export function ratePerSecond(amount: number, ms: number): number {
  return amount / ms / 1e6;
}
