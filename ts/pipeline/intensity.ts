/**
 * Intensity normalisation as the brain models' recipes define it, over the whole volume:
 * min-max to [0, 1], or the 5th and 95th percentiles mapped to 0 and 1 without clipping.
 */
import { InputError } from '../engine/errors.js';
import type { VoxelArray } from '../io/volume.js';

export type Normalization = 'minmax' | 'quantile';

/**
 * Normalise voxels into a new Float32Array.
 *
 * @param data - voxel values, any numeric typed array.
 * @param method - 'minmax' maps [min, max] to [0, 1]; 'quantile' maps [p5, p95] to [0, 1].
 * @returns the normalised copy; a constant volume maps to all zeros.
 */
export function normalizeIntensities(data: VoxelArray, method: Normalization): Float32Array {
  const [low, high] =
    method === 'minmax' ? minMax(data) : [percentile(data, 5), percentile(data, 95)];
  const scale = high > low ? 1 / (high - low) : 0;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = (data[i] - low) * scale;
  return out;
}

/** Smallest and largest value. */
export function minMax(data: ArrayLike<number>): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const value = data[i];
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return [min, max];
}

/**
 * The p-th percentile (0..100) with linear interpolation between order statistics (the rule of
 * numpy's default). Uint8 data is counted in a histogram; other data is sorted.
 */
export function percentile(data: VoxelArray, p: number): number {
  const rank = (p / 100) * (data.length - 1);
  const lower = Math.floor(rank);
  const fraction = rank - lower;
  const valueAt = data instanceof Uint8Array ? histogramRank(data) : sortedRank(data);
  const a = valueAt(lower);
  return fraction === 0 ? a : a + fraction * (valueAt(lower + 1) - a);
}

function histogramRank(data: Uint8Array): (rank: number) => number {
  const counts = new Float64Array(256);
  for (let i = 0; i < data.length; i++) counts[data[i]]++;
  return (rank) => {
    let seen = 0;
    for (let value = 0; value < 256; value++) {
      seen += counts[value];
      if (seen > rank) return value;
    }
    return 255;
  };
}

function sortedRank(data: VoxelArray): (rank: number) => number {
  const sorted = Float64Array.from(data).sort();
  return (rank) => sorted[Math.min(rank, sorted.length - 1)];
}

/**
 * Throw when any voxel is NaN or infinite, naming the file and the first such voxel.
 *
 * @param dims - (x, y, z) voxel counts, to report the voxel's coordinates.
 */
export function requireFinite(data: VoxelArray, dims: readonly number[], file: string): void {
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return;
  for (let i = 0; i < data.length; i++) {
    if (Number.isFinite(data[i])) continue;
    const [nx, ny] = dims;
    const at = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
    throw new InputError(
      `expected finite voxel values for voxel (${at.join(', ')}), received ${data[i]}`,
      { file, field: 'data', value: data[i], hint: 'replace NaN/Inf voxels, e.g. with 0' },
    );
  }
}
