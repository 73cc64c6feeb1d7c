/**
 * Overlap metrics of one label from its confusion counts.
 *
 * Every ratio is computed as written; a ratio whose denominator is zero is NaN (0/0) or
 * Infinity (x/0), never silently 0. That gives the stated empty-mask conventions: both masks
 * empty makes Dice, IoU and volume similarity NaN; an empty reference with a non-empty
 * prediction gives Dice 0 (and sensitivity NaN, precision 0).
 */

/** Voxel counts of one label; tn = total compared - tp - fp - fn. */
export interface ConfusionCounts {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** Overlap metrics of one label. Ratios are in [0, 1] unless said otherwise. */
export interface OverlapMetrics extends ConfusionCounts {
  /** Voxels of the label in the reference (tp + fn) and the prediction (tp + fp). */
  refVoxels: number;
  predVoxels: number;
  /** The same volumes in mL (voxel count times the voxel volume in mm^3, / 1000). */
  refVolumeMl: number;
  predVolumeMl: number;
  /** 2 tp / (2 tp + fp + fn). */
  dice: number;
  /** Jaccard: tp / (tp + fp + fn). */
  iou: number;
  /** Recall, true positive rate: tp / (tp + fn). */
  sensitivity: number;
  /** True negative rate: tn / (tn + fp). */
  specificity: number;
  /** Positive predictive value: tp / (tp + fp). */
  precision: number;
  /** (1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp) with b = the `beta` option (default 1). */
  fBeta: number;
  /** (tp + tn) / total. */
  accuracy: number;
  /** (sensitivity + specificity) / 2. */
  balancedAccuracy: number;
  /** Matthews correlation in [-1, 1]; NaN when any marginal (tp+fp, tp+fn, tn+fp, tn+fn) is 0. */
  mcc: number;
  /** Cohen's kappa (po - pe) / (1 - pe) in [-1, 1]; NaN when pe = 1. */
  kappa: number;
  /** 1 - |fn - fp| / (2 tp + fp + fn). */
  volumeSimilarity: number;
  /** Absolute volume difference |pred - ref| in mL. */
  volumeDifferenceMl: number;
  /** Signed relative volume difference (pred - ref) / ref; Infinity when only ref is empty. */
  relativeVolumeDifference: number;
}

/**
 * Compute every overlap metric of one label.
 *
 * @param counts - tp, fp, fn, tn voxel counts (non-negative integers).
 * @param voxelVolumeMm3 - volume of one voxel in mm^3 (product of the spacing), default 1.
 * @param beta - weight of recall in F-beta, default 1 (F1 = Dice).
 * @example
 * overlapMetrics({ tp: 20, fp: 5, fn: 10, tn: 65 }).kappa; // 0.625
 */
export function overlapMetrics(
  counts: ConfusionCounts,
  voxelVolumeMm3 = 1,
  beta = 1,
): OverlapMetrics {
  const { tp, fp, fn, tn } = counts;
  const refVoxels = tp + fn;
  const predVoxels = tp + fp;
  const sensitivity = tp / refVoxels;
  const specificity = tn / (tn + fp);

  const b2 = beta * beta;
  return {
    ...counts,
    refVoxels,
    predVoxels,
    refVolumeMl: (refVoxels * voxelVolumeMm3) / 1000,
    predVolumeMl: (predVoxels * voxelVolumeMm3) / 1000,
    dice: (2 * tp) / (2 * tp + fp + fn),
    iou: tp / (tp + fp + fn),
    sensitivity,
    specificity,
    precision: tp / predVoxels,
    fBeta: ((1 + b2) * tp) / ((1 + b2) * tp + b2 * fn + fp),
    accuracy: (tp + tn) / (tp + fp + fn + tn),
    balancedAccuracy: (sensitivity + specificity) / 2,
    mcc: matthews(counts),
    kappa: cohensKappa(counts),
    volumeSimilarity: 1 - Math.abs(fn - fp) / (2 * tp + fp + fn),
    volumeDifferenceMl: (Math.abs(predVoxels - refVoxels) * voxelVolumeMm3) / 1000,
    relativeVolumeDifference: (predVoxels - refVoxels) / refVoxels,
  };
}

/** Matthews correlation coefficient; NaN when a marginal is zero. */
function matthews({ tp, fp, fn, tn }: ConfusionCounts): number {
  const marginals = [tp + fp, tp + fn, tn + fp, tn + fn];
  if (marginals.some((m) => m === 0)) return NaN;
  const denominator =
    Math.sqrt(marginals[0] * marginals[1]) * Math.sqrt(marginals[2] * marginals[3]);
  return (tp * tn - fp * fn) / denominator;
}

/** Cohen's kappa of the 2x2 table: observed agreement against chance agreement. */
function cohensKappa({ tp, fp, fn, tn }: ConfusionCounts): number {
  const total = tp + fp + fn + tn;
  const observed = (tp + tn) / total;
  const chance = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (total * total);
  return chance === 1 ? NaN : (observed - chance) / (1 - chance);
}
