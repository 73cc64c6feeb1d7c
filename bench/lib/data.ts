/**
 * The real data the suites use, from ../shared/data when it is there: the t1_crop crop's size
 * (what the brain models run on) and the label pairs of the Dice suite. Everything has a
 * synthetic stand-in, so the suites run (and say so) without the data.
 */
import { join } from 'node:path';
import '../../ts/node.js';
import { readVolume } from '../../ts/io/files.js';
import { catalogEntry } from '../../ts/model/catalog.js';
import { conformVolume } from '../../ts/pipeline/conform.js';
import { boxSize, foregroundBox } from '../../ts/pipeline/crop.js';
import { minMax, normalizeIntensities } from '../../ts/pipeline/intensity.js';
import { hasData, type SuiteOptions } from './suite.js';

/** The t1_crop input of the brain models. */
export const T1_CROP = 'brainchop/t1_crop.nii.gz';

/** Crop of t1_crop measured on a machine with the data (model5_gw_ae's recipe), (D, H, W). */
export const T1_CROP_FALLBACK: [number, number, number] = [256, 200, 200];

/**
 * The (D, H, W) extent the brain models run on for t1_crop: the foreground box of the
 * conformed, normalised volume grown by model5_gw_ae's crop margin (D is NIfTI z).
 */
export async function t1CropDims(options: SuiteOptions): Promise<[number, number, number]> {
  if (!hasData(options, T1_CROP)) return T1_CROP_FALLBACK;
  const recipe = catalogEntry('model5_gw_ae')!.recipe;
  const conformed = conformVolume(await readVolume(join(options.dataDir, T1_CROP)));
  const normalized = normalizeIntensities(conformed.volume.data, recipe.normalization);
  const threshold = recipe.cropThreshold * minMax(normalized)[1];
  const box = foregroundBox(normalized, conformed.volume.dims, threshold, recipe.cropPadding);
  const [sx, sy, sz] = boxSize(box);
  return [sz, sy, sx];
}

/** A label pair of the Dice suite. */
export interface LabelPair {
  name: string;
  /** (x, y, z). */
  dims: [number, number, number];
  pred: Uint8Array;
  ref: Uint8Array;
  numLabels: number;
  /** Where the pair came from. */
  source: string;
}

/**
 * The 256^3 pair: niivue's labels256 (1 WM, 2 GM) against brainchop's v3_labels (1 GM, 2 WM,
 * float32) with 1 and 2 swapped, the same subject labelled twice; a synthetic pair without
 * the data.
 */
export async function realPair256(options: SuiteOptions): Promise<LabelPair> {
  const a = 'niivue/labels256.nii.gz';
  const b = 'brainchop/v3_labels.nii.gz';
  if (!hasData(options, a) || !hasData(options, b)) return syntheticPair([256, 256, 256], 3, 7);
  const pred = await readVolume(join(options.dataDir, a));
  const ref = await readVolume(join(options.dataDir, b));
  const swap = [0, 2, 1];
  const refLabels = Uint8Array.from(ref.data, (v) => swap[Math.round(v)] ?? 0);
  const predLabels = Uint8Array.from(pred.data, (v) => Math.round(v));
  const dims = pred.dims.slice(0, 3) as [number, number, number];
  return {
    name: '256^3',
    dims,
    pred: predLabels,
    ref: refLabels,
    numLabels: 3,
    source: `${a} vs ${b} (1<->2 swapped)`,
  };
}

/**
 * A synthetic pair of `numLabels` labels: overlapping balls around four centres (label = how
 * many balls hold the voxel, clipped), like anatomy: large uniform regions and thin borders;
 * the reference is the same map shifted by one voxel along each axis.
 */
export function syntheticPair(
  dims: [number, number, number],
  numLabels: number,
  seed: number,
): LabelPair {
  const [nx, ny, nz] = dims;
  const spot = (i: number, k: number, n: number) =>
    n * (0.3 + 0.4 * ((seed * (i + k) * 0.618) % 1));
  const centres = Array.from({ length: 4 }, (_, i) => [
    spot(i, 1, nx),
    spot(i, 2, ny),
    spot(i, 3, nz),
  ]);
  const radius2 = (Math.min(nx, ny, nz) * 0.35) ** 2;
  const pred = new Uint8Array(nx * ny * nz);
  for (let z = 0, i = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, i++) {
        let inside = 0;
        for (const [cx, cy, cz] of centres)
          inside += (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 < radius2 ? 1 : 0;
        pred[i] = Math.min(numLabels - 1, inside);
      }
  }
  const ref = new Uint8Array(pred.length);
  const shift = 1 + nx + nx * ny;
  ref.set(pred.subarray(shift), 0);
  const name = `${nx}x${ny}x${nz}`;
  return {
    name,
    dims,
    pred,
    ref,
    numLabels,
    source: `synthetic: ${numLabels} labels, overlapping balls, reference shifted 1 voxel`,
  };
}
