/**
 * Scores shown by the demo: Dice per label of a run against the user's reference labels, and
 * against an earlier run on the same input (two backends should agree), through `evaluate`.
 */
import type { Backend } from '../engine/backend.js';
import { evaluate } from '../metrics/evaluate.js';
import type { LabelVolume } from '../metrics/geometry.js';
import type { DiceByLabel } from './state.js';

/**
 * Dice of every non-background label present in either map, counted on `backend`.
 *
 * @param pred - labels on the input's grid, x fastest.
 * @param ref - labels on the same grid (same dims and affine).
 * @param names - how the two maps are named in error messages.
 * @returns Dice per label value; 1 never stands for "both empty" (such labels are left out).
 * @throws InputError when the grids differ, naming both maps.
 */
export async function dicePerLabel(
  pred: LabelVolume,
  ref: LabelVolume,
  backend: Backend,
  names: { pred: string; ref: string },
): Promise<DiceByLabel> {
  const result = await evaluate(pred, ref, { backend, distances: false, names });
  return Object.fromEntries(result.labels.map((label) => [label.label, label.dice]));
}

/**
 * Voxels of each label value, index = value.
 *
 * @param labels - a label map.
 * @param classes - number of label values the model can give.
 */
export function labelVoxels(labels: ArrayLike<number>, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}
