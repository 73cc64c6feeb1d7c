/**
 * The options of an evaluation, their documented defaults and validation, and the conventions
 * record echoed with every result so a reader knows exactly what each number means.
 */
import type { Backend } from '../engine/backend.js';
import { didYouMean, expected } from '../engine/errors.js';
import type { PercentileRule } from './distance.js';
import type { InputNames } from './geometry.js';

/** What a distance becomes when exactly one mask is empty. */
export type EmptyDistance = 'inf' | 'diagonal';

/** Accepted values of `percentileRule`, the default first. */
export const PERCENTILE_RULES: readonly PercentileRule[] = ['per-direction', 'pooled'];
/** Accepted values of `emptyDistance`, the default first. */
export const EMPTY_DISTANCES: readonly EmptyDistance[] = ['inf', 'diagonal'];

/** Options of {@link evaluate}; every one has a default, stated on its field. */
export interface EvaluateOptions {
  /**
   * Backend instance or name for the confusion counts and the distance maps; default `auto`
   * (see selectBackend). Distance maps are float32 on every backend (about 1e-7 relative).
   */
  backend?: Backend | string;
  /** Label values to report; default every value present in either map, minus background. */
  labels?: readonly number[];
  /** Report label 0 too when `labels` is not given; default false. */
  includeBackground?: boolean;
  /** Label whose reference voxels are left out of every count and mask; default none. */
  ignoreLabel?: number;
  /** Percentile of the percentile Hausdorff distance, in [0, 100]; default 95. */
  percentile?: number;
  /** `per-direction` (default) or `pooled`; see {@link PercentileRule}. */
  percentileRule?: PercentileRule;
  /** Normalised surface Dice tolerance in mm, >= 0; default 1. */
  nsdTolerance?: number;
  /** One mask empty: distances are Infinity (`inf`, default) or the image diagonal in mm. */
  emptyDistance?: EmptyDistance;
  /** Voxel size (x, y, z) in mm overriding the header's; default the reference's header. */
  spacing?: readonly [number, number, number];
  /** Compute surface distances; default true (false: overlap metrics only, fast). */
  distances?: boolean;
  /** Beta of the F-beta score, > 0; default 1. */
  beta?: number;
  /** Names of label values, echoed in each label's result; default none. */
  labelNames?: Readonly<Record<number, string>>;
  /** `none` (default): grids must agree; `nearest`: resample pred onto ref's grid. */
  resample?: 'none' | 'nearest';
  /** Names of the inputs in error messages; default `pred` and `ref`. */
  names?: InputNames;
}

/** Options after defaults and validation; null stands for "not given". */
export interface ResolvedOptions {
  labels: number[] | null;
  includeBackground: boolean;
  ignoreLabel: number | null;
  percentile: number;
  percentileRule: PercentileRule;
  nsdTolerance: number;
  emptyDistance: EmptyDistance;
  spacing: [number, number, number] | null;
  distances: boolean;
  beta: number;
  resample: 'none' | 'nearest';
}

/** The conventions of one evaluation, echoed once at the top of every output. */
export interface EvaluationConventions {
  /** How label values become dense indices before counting. */
  labelMapping: string;
  /** Whether label 0 is reported when labels are not listed. */
  background: 'excluded' | 'included';
  /** Label whose reference voxels are left out of every count, or null. */
  ignoreLabel: number | null;
  /** What a surface voxel is. */
  surface: string;
  /** What a surface distance measures. */
  distance: string;
  /** Voxel size (x, y, z) in mm used for volumes and distances. */
  spacingMm: [number, number, number];
  /** Where the spacing came from: the reference header, the option, or 1 mm by default. */
  spacingSource: 'header' | 'option' | 'default';
  /** Percentile of the percentile Hausdorff distance (95: HD95). */
  percentile: number;
  /** How the two directed distance sets combine for the percentile. */
  percentileRule: PercentileRule;
  /** How a percentile falls between order statistics. */
  percentileInterpolation: string;
  /** Normalised surface Dice tolerance, mm. */
  nsdToleranceMm: number;
  /** Distance reported when one mask is empty. */
  emptyDistance: EmptyDistance;
  /** What empty masks give, in words. */
  emptyMasks: string;
  /** Beta of the F-beta score. */
  fBeta: number;
  /** Unit of the volumes. */
  volumeUnit: 'mL';
  /** Whether surface distances were computed. */
  distances: boolean;
  /** How the prediction was brought onto the reference grid. */
  resample: 'none' | 'nearest';
}

/**
 * Apply defaults and validate every option.
 *
 * @throws InputError naming the option and the bad value (with a did-you-mean for enums).
 */
export function resolveOptions(options: EvaluateOptions): ResolvedOptions {
  const [p, tolerance, beta] = [
    options.percentile ?? 95,
    options.nsdTolerance ?? 1,
    options.beta ?? 1,
  ];
  const ignore = options.ignoreLabel;
  return {
    labels: options.labels ? options.labels.map((l) => requireInteger(l, 'labels')) : null,
    includeBackground: options.includeBackground ?? false,
    ignoreLabel: ignore === undefined ? null : requireInteger(ignore, 'ignoreLabel'),
    percentile: check(p, p >= 0 && p <= 100, 'a number in [0, 100]', 'percentile'),
    percentileRule: oneOf(
      options.percentileRule ?? 'per-direction',
      PERCENTILE_RULES,
      'percentileRule',
    ),
    nsdTolerance: check(tolerance, tolerance >= 0, 'a finite distance >= 0 in mm', 'nsdTolerance'),
    emptyDistance: oneOf(options.emptyDistance ?? 'inf', EMPTY_DISTANCES, 'emptyDistance'),
    spacing: options.spacing ? requireSpacing(options.spacing) : null,
    distances: options.distances ?? true,
    beta: check(beta, beta > 0, 'a finite number > 0', 'beta'),
    resample: oneOf(options.resample ?? 'none', ['none', 'nearest'] as const, 'resample'),
  };
}

/** The value when it is finite and `ok`, else an error naming the field. */
function check(value: number, ok: boolean, what: string, field: string): number {
  if (Number.isFinite(value) && ok) return value;
  throw expected(what, field, value);
}

/**
 * The conventions record of an evaluation run with these options.
 *
 * @param options - resolved options.
 * @param spacing - the voxel size (x, y, z) in mm actually used, and where it came from.
 */
export function describeConventions(
  options: ResolvedOptions,
  spacing: { mm: [number, number, number]; source: 'header' | 'option' | 'default' },
): EvaluationConventions {
  return {
    labelMapping:
      'values present in either map, sorted ascending, are counted under dense indices 0..K-1',
    background: options.includeBackground ? 'included' : 'excluded',
    ignoreLabel: options.ignoreLabel,
    surface:
      'mask voxels with a face neighbour (6-connectivity) outside the mask; the image border ' +
      'counts as outside',
    distance:
      'from each surface voxel centre to the nearest surface voxel centre of the other mask, mm',
    spacingMm: spacing.mm,
    spacingSource: spacing.source,
    percentile: options.percentile,
    percentileRule: options.percentileRule,
    percentileInterpolation:
      'linear between order statistics, rank (n - 1) p / 100; never across an infinite value',
    nsdToleranceMm: options.nsdTolerance,
    emptyDistance: options.emptyDistance,
    emptyMasks:
      'both empty: overlap ratios and distances NaN (left out of means, counted as nan); ' +
      'reference empty, prediction not: Dice 0; one mask empty: distances ' +
      (options.emptyDistance === 'inf' ? 'Infinity' : 'the image diagonal in mm') +
      ', nsd 0',
    fBeta: options.beta,
    volumeUnit: 'mL',
    distances: options.distances,
    resample: options.resample,
  };
}

function requireInteger(value: number, field: string): number {
  if (!Number.isInteger(value)) throw expected('an integer label value', field, value);
  return value;
}

function requireSpacing(spacing: readonly number[]): [number, number, number] {
  const ok = spacing.length === 3 && spacing.every((s) => s > 0 && Number.isFinite(s));
  if (!ok) throw expected('three positive voxel sizes (x, y, z) in mm', 'spacing', spacing);
  return [spacing[0], spacing[1], spacing[2]];
}

function oneOf<T extends string>(value: string, options: readonly T[], field: string): T {
  if ((options as readonly string[]).includes(value)) return value as T;
  const hint = didYouMean(value, options);
  throw expected(`one of ${options.join(', ')}`, field, value, { hint: hint || undefined });
}
