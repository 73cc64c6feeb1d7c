/**
 * Label confusion of two host label maps on a backend. The single-threaded wasm backend takes
 * the maps in slabs that stay in cache between the copy into wasm memory and the count (the
 * 256^3 uint8 pair, 1 thread: 5.6 ms in slabs against 9.3 ms copying both whole maps first);
 * with worker threads each call pays a dispatch to the workers, so they take whole maps, as
 * the GPU backends do.
 */
import type { Backend, LabelCounts } from '../engine/backend.js';
import { VoxsegError } from '../engine/errors.js';

/** Host label maps the counter takes (labels in [0, numLabels)). */
export type HostLabels = Uint8Array | Uint16Array | Int32Array;

/** Voxels per slab on the single-threaded wasm backend: 1 Mi (a uint8 pair is 2 MiB). */
export const WASM_SLAB_VOXELS = 1 << 20;

/** Voxels per slab for `backend`: whole maps except on the single-threaded wasm backend. */
export function slabVoxels(backend: Backend): number {
  if (backend.name !== 'wasm') return Infinity;
  return backend.info().details.threads === 1 ? WASM_SLAB_VOXELS : Infinity;
}

/**
 * Per-label TP, FP and FN of two host label maps of the same length, counted on `backend` in
 * slabs of `slab` voxels (default: {@link slabVoxels}). Labels must lie in [0, numLabels);
 * voxels whose reference label is `ignoreLabel` are left out of every count and of `total`.
 *
 * @throws VoxsegError when the lengths differ, naming both, or when a voxel holds a label
 *   outside [0, numLabels), naming the voxel (its index in the whole map) and both labels.
 */
export async function countHostLabels(
  backend: Backend,
  pred: HostLabels,
  ref: HostLabels,
  numLabels: number,
  ignoreLabel?: number,
  slab = slabVoxels(backend),
): Promise<LabelCounts> {
  if (pred.length !== ref.length) {
    throw new VoxsegError(
      `expected label maps of equal length, received pred ${pred.length}, ref ${ref.length}`,
      { field: 'ref', value: ref.length },
    );
  }
  const counts: LabelCounts = {
    tp: new Float64Array(numLabels),
    fp: new Float64Array(numLabels),
    fn: new Float64Array(numLabels),
    total: 0,
  };
  const step = Math.max(1, Math.min(slab, pred.length));
  for (let start = 0; start < pred.length; start += step) {
    const p = pred.subarray(start, start + step);
    const r = ref.subarray(start, start + step);
    let part: LabelCounts;
    try {
      part = await countPair(backend, p, r, numLabels, ignoreLabel);
    } catch (error) {
      throw badVoxel(p, r, start, numLabels, ignoreLabel) ?? error;
    }
    for (let l = 0; l < numLabels; l++) {
      counts.tp[l] += part.tp[l];
      counts.fp[l] += part.fp[l];
      counts.fn[l] += part.fn[l];
    }
    counts.total += part.total;
  }
  return counts;
}

/** One slab's counts: both maps uploaded as (1, 1, 1, n), counted, released. */
async function countPair(
  backend: Backend,
  pred: HostLabels,
  ref: HostLabels,
  numLabels: number,
  ignoreLabel: number | undefined,
): Promise<LabelCounts> {
  const shape = [1, 1, 1, pred.length]; // (N, D, H, W): a run of voxels
  const p = await backend.upload(pred, shape);
  try {
    const r = await backend.upload(ref, shape);
    try {
      return await backend.labelConfusion(p, r, numLabels, ignoreLabel);
    } finally {
      backend.release(r);
    }
  } finally {
    backend.release(p);
  }
}

/** The first out-of-range voxel of a slab starting at `offset`, named by its index in the map. */
function badVoxel(
  pred: HostLabels,
  ref: HostLabels,
  offset: number,
  numLabels: number,
  ignoreLabel: number | undefined,
): VoxsegError | null {
  const outside = (v: number) => !(v >= 0 && v < numLabels);
  for (let i = 0; i < pred.length; i++) {
    if (ref[i] !== ignoreLabel && (outside(pred[i]) || outside(ref[i]))) {
      const voxel = offset + i;
      return new VoxsegError(
        `expected labels in [0, ${numLabels}) for voxel ${voxel}, received pred ${pred[i]}, ref ${ref[i]}`,
      );
    }
  }
  return null;
}
