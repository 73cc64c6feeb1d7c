/**
 * Conforming a volume for the brain models: 256^3 voxels of 1 mm in LIA orientation, uint8, as
 * brainchop (after FreeSurfer's mri_conform) prepares its input. Core module.
 *
 * Geometry. The conformed grid's voxel axes point Left (-x), Inferior (-z) and Anterior (+y) in
 * 1 mm steps. Its position follows FreeSurfer's centre convention: a grid's centre is its voxel
 * (n/2, n/2, n/2), the input's centre is placed on conformed voxel (128, 128, 128). voxseg
 * counts the input's n/2 along its axes put in LIA order (permuted and flipped, no
 * resampling): on an axis stored in the opposite sense the centre is voxel n/2 - 1 of the
 * file. So the conformed grid does not depend on how the input is stored: a RAS copy of a
 * conformed volume conforms to the same voxels as the LIA original. For inputs stored in LIA
 * order (FreeSurfer's and brainchop's) this is exactly their convention; counting n/2 in
 * storage order instead would move the result by one voxel along each flipped axis.
 *
 * Voxels. The input's first frame is resampled trilinearly and mapped to 0..255: uint8 input as
 * is; any other type by (v - min) * scale, clipped to 0..255 and truncated, where the scale puts
 * 255 at a robust maximum (see {@link robustIntensityMapping}). Conformed voxels outside the
 * input are 0. (FastSurfer and brainchop fill 0 before the intensity mapping, which turns the
 * outside of an input with a negative minimum, such as a CT, into a mid grey; for inputs with a
 * minimum >= 0, the usual MRI, both rules give the same voxels.) An input that already is
 * 256^3, 1 mm, LIA and uint8 is used as is, without resampling.
 */
import { expected } from '../engine/errors.js';
import { logger } from '../engine/log.js';
import {
  axisDirections,
  identity4,
  invert4,
  multiply4,
  transformPoint,
  type Mat4,
  type Vec3,
} from '../io/affine.js';
import type { Volume, VoxelArray } from '../io/volume.js';
import { voxelTypeOfArray } from '../io/voxels.js';
import { resampleNearest, resampleTrilinear } from './resample.js';

const log = logger('conform');

/** Voxels per axis of the conformed grid. */
export const CONFORMED_SIZE = 256;

/** Conformed voxel (on each axis) that the input's centre is placed on. */
export const CONFORMED_CENTRE = 128;

/** Number of histogram bins of the robust maximum. */
export const HISTOGRAM_BINS = 1000;

/**
 * Fraction of non-zero voxels clipped at the top: 0.1 %, written `1 - 0.999` as FastSurfer and
 * brainchop compute it, so the clipped count agrees with theirs to the voxel.
 */
export const TOP_CLIP_FRACTION = 1 - 0.999;

/** Conformed grid dims (x, y, z). */
const CONFORMED_DIMS: Vec3 = [CONFORMED_SIZE, CONFORMED_SIZE, CONFORMED_SIZE];

/** LIA rotation at 1 mm, rows x, y, z of world; columns i (L), j (I), k (A). */
const LIA: readonly number[] = [-1, 0, 0, 0, 0, 1, 0, -1, 0];

/** The sense LIA gives each world axis: x decreasing (L), y increasing (A), z decreasing (I). */
const LIA_SENSE: readonly number[] = [-1, 1, -1];

/** How conformed intensities are made: `trunc(clamp((v - srcMin) * scale, 0, 255))`. */
export interface IntensityMapping {
  /** Input value mapped to 0. */
  srcMin: number;
  /** Output units per input unit. */
  scale: number;
}

/** A conformed volume and the way back to the input's grid. */
export interface Conformed {
  /** The conformed volume: 256^3, 1 mm, LIA, uint8; data (D, H, W) = (256, 256, 256). */
  volume: Volume;
  /** False when the input already was conformed and uint8 and its data is used as is. */
  resampled: boolean;
  /** Intensity mapping applied (srcMin 0, scale 1 for uint8 input). */
  intensity: IntensityMapping;
  /** Maps a conformed voxel (i, j, k) to input voxel coordinates. */
  conformedToInput: Mat4;
  /**
   * Put a label map of the conformed grid onto the input's grid by nearest neighbour.
   *
   * @param labels - labels (D, H, W) = (256, 256, 256), x fastest, any integer voxel type.
   * @returns a one-frame volume with the input's dims, spacing and affine and the labels' type;
   *   when the input was used as is, its data is `labels` itself.
   * @throws InputError when `labels` does not hold 256^3 voxels.
   */
  labelsToInput<T extends VoxelArray>(labels: T): Volume;
}

/**
 * Conform a volume to 256^3, 1 mm, LIA, uint8 (see the module comment for the conventions).
 *
 * @param input - any volume; a 4D one contributes its first frame (with a warning).
 * @returns the conformed volume and the map back to the input's grid.
 * @throws InputError when the input has NaN or infinite voxels or a singular affine.
 * @example
 * const conformed = conformVolume(await readVolume('t1.nii.gz'));
 * const labels = conformed.labelsToInput(networkLabels); // on the input's grid
 */
export function conformVolume(input: Volume): Conformed {
  const frame = firstFrame(input); // (D, H, W) of the input, x fastest
  if (isConformed(input) && frame instanceof Uint8Array) return useAsIs(input, frame);

  const uint8 = frame instanceof Uint8Array;
  const intensity = uint8 ? { srcMin: 0, scale: 1 } : robustIntensityMapping(frame);
  const affine = conformedAffine(input);
  const toInput = multiply4(invert4(input.affine, 'input affine'), affine);

  // Outside the input: srcMin, which the intensity mapping turns into 0.
  const values = resampleTrilinear(frame, input.dims, CONFORMED_DIMS, toInput, intensity.srcMin);
  const volume = conformedVolume(input, affine, applyIntensityMapping(values, intensity));
  const labelsToInput = labelsBack(input, toInput);
  return { volume, resampled: true, intensity, conformedToInput: toInput, labelsToInput };
}

/**
 * Whether a volume's grid already is the conformed one: 256^3 voxels of 1 mm in LIA
 * orientation (each 3x3 affine entry within 1e-4 of LIA's; the offset may be anything).
 *
 * @example
 * isConformed(await readVolume('../shared/data/brainchop/t1_crop.nii.gz')); // true
 */
export function isConformed(volume: Pick<Volume, 'dims' | 'affine'>): boolean {
  if (!volume.dims.every((n) => n === CONFORMED_SIZE)) return false;
  const rotation = [0, 1, 2, 4, 5, 6, 8, 9, 10].map((i) => volume.affine[i]);
  return rotation.every((value, i) => Math.abs(value - LIA[i]) <= 1e-4);
}

/**
 * The conformed grid's affine for an input: LIA at 1 mm, with the input's centre (voxel n/2
 * along its axes in LIA order) on conformed voxel (128, 128, 128).
 *
 * @example
 * conformedAffine(t1); // equals t1.affine for a 256^3 1 mm LIA input
 */
export function conformedAffine(input: Pick<Volume, 'dims' | 'affine'>): Mat4 {
  const centre = transformPoint(input.affine, centreIndex(input));
  const out: Mat4 = [
    ...LIA.slice(0, 3),
    0,
    ...LIA.slice(3, 6),
    0,
    ...LIA.slice(6, 9),
    0,
    0,
    0,
    0,
    1,
  ];
  for (let r = 0; r < 3; r++) {
    const rowSum = out[r * 4] + out[r * 4 + 1] + out[r * 4 + 2];
    out[r * 4 + 3] = centre[r] - rowSum * CONFORMED_CENTRE;
  }
  return out;
}

/**
 * The intensity mapping of non-uint8 input (FastSurfer's rule, which brainchop follows): srcMin
 * is the minimum; with a 1000-bin histogram from the minimum to the maximum, let bin k be the
 * first whose cumulative count reaches N - floor(0.001 * nonZero) (N voxels, nonZero of them
 * with |v| >= 1e-15); the robust maximum is the lower edge of bin k - 1 (of bin 0 when k = 0),
 * and scale = 255 / (robust maximum - srcMin), or 1 when they are equal.
 *
 * @param values - the input's voxels, all finite.
 * @throws InputError when a value is NaN or infinite.
 * @example
 * const mapping = robustIntensityMapping(ct.data); // srcMin -1024 for a CT
 */
export function robustIntensityMapping(values: ArrayLike<number>): IntensityMapping {
  const { min, max, nonZero } = intensityStats(values);
  if (max === min) return { srcMin: min, scale: 1 };

  const binWidth = (max - min) / HISTOGRAM_BINS;
  const cumulative = cumulativeHistogram(values, min, binWidth);
  const target = values.length - Math.floor(TOP_CLIP_FRACTION * nonZero);
  const k = cumulative.findIndex((count) => count >= target);
  const robustMax = min + Math.max(k - 1, 0) * binWidth;
  return { srcMin: min, scale: robustMax > min ? 255 / (robustMax - min) : 1 };
}

/**
 * Map values to uint8: `trunc(clamp((v - srcMin) * scale, 0, 255))`.
 *
 * @param values - e.g. resampled voxels (D, H, W), x fastest.
 * @returns a new Uint8Array of the same length and layout.
 * @example
 * applyIntensityMapping(Float32Array.from([-5, 10.9, 999]), { srcMin: 0, scale: 1 });
 * // Uint8Array [0, 10, 255]
 */
export function applyIntensityMapping(
  values: ArrayLike<number>,
  mapping: IntensityMapping,
): Uint8Array {
  const out = new Uint8Array(values.length);
  const { srcMin, scale } = mapping;
  for (let i = 0; i < values.length; i++) {
    const v = (values[i] - srcMin) * scale;
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
  }
  return out;
}

/** The input's centre as voxel coordinates in storage order: n/2 counted in LIA order. */
function centreIndex(input: Pick<Volume, 'dims' | 'affine'>): Vec3 {
  const directions = axisDirections(input.affine);
  return directions.map(({ world, sign }, axis) => {
    const half = input.dims[axis] / 2;
    return sign === LIA_SENSE[world] ? half : half - 1;
  }) as Vec3;
}

function firstFrame(input: Volume): VoxelArray {
  const n = input.dims[0] * input.dims[1] * input.dims[2];
  if (input.frames > 1) log.warn(`the input has ${input.frames} frames; conforming the first`);
  return input.frames > 1 ? input.data.subarray(0, n) : input.data;
}

function useAsIs(input: Volume, frame: Uint8Array): Conformed {
  const volume = conformedVolume(input, [...input.affine], frame);
  volume.spacing = [...input.spacing];
  const labelsToInput = <T extends VoxelArray>(labels: T) =>
    labelVolume(input, checkLabels(labels));
  const intensity = { srcMin: 0, scale: 1 };
  return { volume, resampled: false, intensity, conformedToInput: identity4(), labelsToInput };
}

/** The nearest-neighbour map of conformed labels onto the input's grid. */
function labelsBack(input: Volume, conformedToInput: Mat4): Conformed['labelsToInput'] {
  const inputToConformed = invert4(conformedToInput, 'conformed-to-input map');
  return <T extends VoxelArray>(labels: T) => {
    const data = resampleNearest(checkLabels(labels), CONFORMED_DIMS, input.dims, inputToConformed);
    return labelVolume(input, data); // (D, H, W) of the input
  };
}

function conformedVolume(input: Volume, affine: Mat4, data: Uint8Array): Volume {
  return {
    dims: [...CONFORMED_DIMS],
    frames: 1,
    spacing: [1, 1, 1],
    affine,
    datatype: 'uint8',
    data,
    description: input.description,
  };
}

function labelVolume(input: Volume, data: VoxelArray): Volume {
  return {
    dims: [...input.dims],
    frames: 1,
    spacing: [...input.spacing],
    affine: [...input.affine],
    datatype: voxelTypeOfArray(data)?.name ?? 'int32',
    data,
    description: '',
  };
}

function checkLabels<T extends VoxelArray>(labels: T): T {
  const expectedLength = CONFORMED_SIZE ** 3;
  if (labels.length !== expectedLength) {
    throw expected(`${expectedLength} voxels (256^3)`, 'conformed labels length', labels.length);
  }
  return labels;
}

function intensityStats(values: ArrayLike<number>): { min: number; max: number; nonZero: number } {
  let min = Infinity;
  let max = -Infinity;
  let nonZero = 0;
  let nonFinite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) nonFinite++;
    if (v < min) min = v;
    if (v > max) max = v;
    if (Math.abs(v) >= 1e-15) nonZero++;
  }
  if (nonFinite > 0) {
    throw expected('finite voxel values', 'input data', `${nonFinite} NaN or infinite voxels`);
  }
  return { min, max, nonZero };
}

/** Cumulative voxel counts per bin: entry b counts the voxels in bins 0..b. */
function cumulativeHistogram(
  values: ArrayLike<number>,
  min: number,
  binWidth: number,
): Float64Array {
  const counts = new Float64Array(HISTOGRAM_BINS);
  for (let i = 0; i < values.length; i++) {
    counts[Math.min(Math.floor((values[i] - min) / binWidth), HISTOGRAM_BINS - 1)]++;
  }
  for (let b = 1; b < HISTOGRAM_BINS; b++) counts[b] += counts[b - 1];
  return counts;
}
