/**
 * Surface-distance metrics of one label from its two directed distance sets (see surface.ts
 * for how the sets are made): Hausdorff, percentile Hausdorff, ASSD, MASD and normalised
 * surface Dice.
 */
import { percentileSorted } from './stats.js';
import type { DirectedDistances } from './surface.js';

/** How the percentile Hausdorff distance combines the two directed sets. */
export type PercentileRule = 'per-direction' | 'pooled';

/** Settings of the distance metrics; the evaluation fills them from its options. */
export interface DistanceSettings {
  /** Percentile of the percentile Hausdorff distance, in [0, 100]. */
  percentile: number;
  /**
   * `per-direction`: the percentile of each directed set, then the larger of the two.
   * `pooled`: the percentile of both sets taken together.
   */
  percentileRule: PercentileRule;
  /** Tolerance of the normalised surface Dice, in mm (a distance <= tolerance counts). */
  nsdTolerance: number;
  /** Distance reported when exactly one mask is empty: Infinity or the image diagonal (mm). */
  emptyDistance: number;
}

/** Distance metrics of one label, in mm (nsd in [0, 1]). */
export interface DistanceMetrics {
  /** Hausdorff distance: the largest distance in either direction. */
  hd: number;
  /** Percentile Hausdorff distance (HD95 with the default percentile). */
  hdPercentile: number;
  /** Average symmetric surface distance: mean over the union of both directed sets. */
  assd: number;
  /** Mean average surface distance: the mean of the two directed means. */
  masd: number;
  /** Normalised surface Dice: share of surface voxels of both masks within the tolerance. */
  nsd: number;
  /** Surface voxel counts of the prediction and the reference. */
  predSurfaceVoxels: number;
  refSurfaceVoxels: number;
}

/**
 * Relative slack of the NSD tolerance: distances come from float32 distance maps (about 1e-7
 * relative rounding), so a distance equal to the tolerance must not be lost to rounding.
 */
const TOLERANCE_SLACK = 1e-6;

/**
 * Distance metrics from the two directed sets.
 *
 * Both masks empty: every distance and nsd is NaN. Exactly one empty: hd, hdPercentile,
 * assd and masd are `settings.emptyDistance` and nsd is 0.
 *
 * @param sets - directed distances in mm.
 * @param settings - percentile, rule, NSD tolerance, empty-mask distance.
 * @example
 * distanceMetrics({ predToRef: Float64Array.of(0, 2), refToPred: Float64Array.of(0) }, settings);
 */
export function distanceMetrics(
  sets: DirectedDistances,
  settings: DistanceSettings,
): DistanceMetrics {
  const { predToRef: ab, refToPred: ba } = sets;
  const surfaces = { predSurfaceVoxels: ab.length, refSurfaceVoxels: ba.length };
  if (ab.length === 0 && ba.length === 0) {
    return { hd: NaN, hdPercentile: NaN, assd: NaN, masd: NaN, nsd: NaN, ...surfaces };
  }
  if (ab.length === 0 || ba.length === 0) {
    const e = settings.emptyDistance;
    return { hd: e, hdPercentile: e, assd: e, masd: e, nsd: 0, ...surfaces };
  }

  const sortedAb = Float64Array.from(ab).sort();
  const sortedBa = Float64Array.from(ba).sort();
  const [sumAb, sumBa] = [sum(ab), sum(ba)];
  return {
    hd: Math.max(sortedAb[ab.length - 1], sortedBa[ba.length - 1]),
    hdPercentile: percentileHausdorff(sortedAb, sortedBa, settings),
    assd: (sumAb + sumBa) / (ab.length + ba.length),
    masd: (sumAb / ab.length + sumBa / ba.length) / 2,
    nsd:
      (within(ab, settings.nsdTolerance) + within(ba, settings.nsdTolerance)) /
      (ab.length + ba.length),
    ...surfaces,
  };
}

/**
 * The percentile Hausdorff distance of two sorted directed sets under either rule.
 *
 * @param sortedAb - prediction-to-reference distances, ascending.
 * @param sortedBa - reference-to-prediction distances, ascending.
 */
export function percentileHausdorff(
  sortedAb: Float64Array,
  sortedBa: Float64Array,
  settings: Pick<DistanceSettings, 'percentile' | 'percentileRule'>,
): number {
  const p = settings.percentile;
  if (settings.percentileRule === 'per-direction') {
    return Math.max(percentileSorted(sortedAb, p), percentileSorted(sortedBa, p));
  }
  const pooled = new Float64Array(sortedAb.length + sortedBa.length);
  pooled.set(sortedAb);
  pooled.set(sortedBa, sortedAb.length);
  return percentileSorted(pooled.sort(), p);
}

function sum(values: Float64Array): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return total;
}

function within(values: Float64Array, tolerance: number): number {
  let count = 0;
  for (let i = 0; i < values.length; i++)
    if (values[i] <= tolerance * (1 + TOLERANCE_SLACK)) count++;
  return count;
}
