/**
 * Small statistics shared by the distance metrics and the cohort summary: percentiles by
 * linear interpolation between order statistics, mean, median and standard deviation.
 */

/**
 * The p-th percentile of a sorted sample, interpolating linearly between order statistics:
 * rank h = (n - 1) p / 100, value = x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h])
 * (numpy's default "linear" method).
 *
 * Never interpolates across an infinite value: when either neighbouring order statistic is
 * infinite, the result is the lower one if h falls exactly on it, else the upper one.
 *
 * @param sorted - values in ascending order (may hold Infinity, never NaN).
 * @param p - percentile in [0, 100].
 * @returns the percentile, or NaN for an empty sample.
 * @example
 * percentileSorted(Float64Array.of(0, 0, 10), 75); // 5
 */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;

  const h = ((n - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  const fraction = h - lo;
  const [a, b] = [sorted[lo], sorted[hi]];

  if (fraction === 0 || a === b) return a;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return b;
  return a + fraction * (b - a);
}

/** A copy of `values` sorted ascending (numeric order). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** Summary of a sample after NaN values are set aside. */
export interface SampleSummary {
  /** Mean of the non-NaN values (Infinity when one of them is infinite); NaN when none. */
  mean: number;
  /** Median (50th percentile, linear rule) of the non-NaN values; NaN when none. */
  median: number;
  /** Population standard deviation (divides by n); NaN when none, or when one is infinite. */
  std: number;
  /** Number of non-NaN values the statistics use. */
  n: number;
  /** Number of NaN values set aside (both masks empty, undefined ratios). */
  nan: number;
  /** Number of infinite values among the n (one mask empty). */
  infinite: number;
}

/**
 * Mean, median and population standard deviation of a sample, NaN values excluded and
 * counted separately.
 *
 * @param values - the sample; NaN marks an undefined value.
 * @example
 * summarizeSample([1, 2, NaN, 3]); // { mean: 2, median: 2, std: 0.816.., n: 3, nan: 1, .. }
 */
export function summarizeSample(values: readonly number[]): SampleSummary {
  const valid = values.filter((v) => !Number.isNaN(v));
  const n = valid.length;
  const infinite = valid.filter((v) => !Number.isFinite(v)).length;
  if (n === 0) return { mean: NaN, median: NaN, std: NaN, n, nan: values.length, infinite };

  const mean = valid.reduce((sum, v) => sum + v, 0) / n;
  const squares = valid.reduce((sum, v) => sum + (v - mean) ** 2, 0);
  const std = infinite ? NaN : Math.sqrt(squares / n);
  const median = percentileSorted(sortedCopy(valid), 50);
  return { mean, median, std, n, nan: values.length - n, infinite };
}
