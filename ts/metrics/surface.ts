/**
 * Surfaces and directed surface distances of one label, computed inside the label's bounding
 * box so that many small labels stay cheap.
 *
 * Surface: the voxels of a mask with at least one face neighbour (6-connectivity) outside the
 * mask, the image border counting as outside. Distance: from a surface voxel centre of one mask
 * to the nearest surface voxel centre of the other, in mm.
 *
 * Why the box cannot change a result: the box is the union of both masks' bounding boxes.
 * Every surface voxel of either mask lies inside it, so the exact EDT computed over the box sees
 * every candidate nearest voxel and gives, at each box voxel, the same value as an EDT of the
 * whole image. A face neighbour beyond the box is outside both masks (or beyond the image), so
 * the surface test reads it as outside, as it would on the whole image.
 *
 * Where the work runs: the backend computes both distance maps of the box in one
 * `distanceTransform` call (float32, squared mm); the host takes the square roots at the
 * surface voxels. Distances therefore carry float32 rounding (about 1e-7 relative).
 */
import type { Backend } from '../engine/backend.js';
import type { HostArray } from '../engine/tensor.js';

/** An axis-aligned box of voxels, inclusive bounds, in (x, y, z). */
export interface VoxelBox {
  min: [number, number, number];
  max: [number, number, number];
}

/** Per-label bounding boxes of both maps, indexed by dense label; empty labels have none. */
export interface LabelBoxes {
  pred: (VoxelBox | undefined)[];
  ref: (VoxelBox | undefined)[];
}

/** Both directed distance sets of one label, in mm. */
export interface DirectedDistances {
  /** For each prediction surface voxel, the distance to the nearest reference surface voxel. */
  predToRef: Float64Array;
  /** For each reference surface voxel, the distance to the nearest prediction surface voxel. */
  refToPred: Float64Array;
}

/** Dense label maps and geometry shared by every label of one evaluation. */
export interface LabelGridView {
  /** Dense prediction and reference, (D, H, W) = (z, y, x), x fastest. */
  pred: HostArray;
  ref: HostArray;
  /** (x, y, z) voxel counts. */
  dims: readonly [number, number, number];
  /** (x, y, z) voxel size in mm. */
  spacing: readonly [number, number, number];
  /** Dense index whose reference voxels are left out of both masks, or -1 for none. */
  ignore: number;
}

/**
 * Bounding boxes of every dense label in both maps, in one pass. Voxels whose reference label
 * is the ignore label belong to neither map.
 *
 * @param grid - dense maps and dims.
 * @param count - number of dense labels.
 */
export function labelBoxes(grid: LabelGridView, count: number): LabelBoxes {
  const [nx, ny, nz] = grid.dims;
  const predBounds = new Int32Array(count * 6);
  const refBounds = new Int32Array(count * 6);
  for (const bounds of [predBounds, refBounds]) resetBounds(bounds, count);

  for (let z = 0, i = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        const r = grid.ref[i];
        if (r === grid.ignore) continue;
        growBounds(refBounds, r * 6, x, y, z);
        growBounds(predBounds, grid.pred[i] * 6, x, y, z);
      }
    }
  }
  return { pred: boundsToBoxes(predBounds, count), ref: boundsToBoxes(refBounds, count) };
}

function resetBounds(bounds: Int32Array, count: number): void {
  for (let l = 0; l < count; l++) {
    bounds.fill(0x7fffffff, l * 6, l * 6 + 3);
    bounds.fill(-1, l * 6 + 3, l * 6 + 6);
  }
}

function growBounds(bounds: Int32Array, at: number, x: number, y: number, z: number): void {
  if (x < bounds[at]) bounds[at] = x;
  if (y < bounds[at + 1]) bounds[at + 1] = y;
  if (z < bounds[at + 2]) bounds[at + 2] = z;
  if (x > bounds[at + 3]) bounds[at + 3] = x;
  if (y > bounds[at + 4]) bounds[at + 4] = y;
  if (z > bounds[at + 5]) bounds[at + 5] = z;
}

function boundsToBoxes(bounds: Int32Array, count: number): (VoxelBox | undefined)[] {
  return Array.from({ length: count }, (_, l) => {
    const b = bounds.subarray(l * 6, l * 6 + 6);
    return b[3] < 0 ? undefined : { min: [b[0], b[1], b[2]], max: [b[3], b[4], b[5]] };
  });
}

/**
 * The box over which one label's distances are computed: the union of both masks' boxes, or
 * undefined when both masks are empty.
 */
export function distanceBox(
  a: VoxelBox | undefined,
  b: VoxelBox | undefined,
): VoxelBox | undefined {
  if (!a || !b) return a ?? b;
  const min = a.min.map((v, axis) => Math.min(v, b.min[axis])) as [number, number, number];
  const max = a.max.map((v, axis) => Math.max(v, b.max[axis])) as [number, number, number];
  return { min, max };
}

/**
 * Directed surface distances of one dense label, computed inside `box`: both distance maps on
 * `backend` (one distanceTransform call).
 *
 * @param backend - where the distance maps are computed.
 * @param grid - dense maps, dims, spacing and ignore index.
 * @param label - dense label index.
 * @param box - from {@link distanceBox}.
 * @returns both directed sets in mm; a set is empty when its mask is empty, and holds only
 *   Infinity when the other mask is empty.
 */
export async function directedDistances(
  backend: Backend,
  grid: LabelGridView,
  label: number,
  box: VoxelBox,
): Promise<DirectedDistances> {
  const shape = boxShape(box);
  const predSurface = surfaceOf(cropMask(grid, grid.pred, label, box), shape);
  const refSurface = surfaceOf(cropMask(grid, grid.ref, label, box), shape);
  const spacing: [number, number, number] = [grid.spacing[2], grid.spacing[1], grid.spacing[0]];

  const maps = await distanceMaps(backend, [refSurface, predSurface], shape, spacing);
  const volume = predSurface.length;
  return {
    predToRef: distancesAt(predSurface, maps.subarray(0, volume)),
    refToPred: distancesAt(refSurface, maps.subarray(volume)),
  };
}

/**
 * Squared distance maps of the masks on the backend, in one call.
 * masks: each (D, H, W) 0/1; returns (masks.length, D, H, W) float32 mm^2.
 */
async function distanceMaps(
  backend: Backend,
  masks: readonly Uint8Array[],
  shape: readonly [number, number, number],
  spacing: readonly [number, number, number],
): Promise<Float32Array> {
  const volume = masks[0].length;
  const stacked = new Uint8Array(masks.length * volume); // (N, D, H, W) features
  masks.forEach((mask, b) => stacked.set(mask, b * volume));

  const features = await backend.upload(stacked, [masks.length, ...shape]);
  try {
    const maps = await backend.distanceTransform(features, spacing); // (N, D, H, W) mm^2
    try {
      return (await backend.download(maps)) as Float32Array;
    } finally {
      backend.release(maps);
    }
  } finally {
    backend.release(features);
  }
}

/** (D, H, W) extents of a box. */
function boxShape(box: VoxelBox): [number, number, number] {
  return [box.max[2] - box.min[2] + 1, box.max[1] - box.min[1] + 1, box.max[0] - box.min[0] + 1];
}

/** The mask of one label inside the box, (D, H, W); ignored reference voxels are outside. */
function cropMask(grid: LabelGridView, data: HostArray, label: number, box: VoxelBox): Uint8Array {
  const [d, h, w] = boxShape(box);
  const [nx, ny] = grid.dims;
  const mask = new Uint8Array(d * h * w);
  for (let z = 0, o = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      const row = box.min[0] + nx * (box.min[1] + y + ny * (box.min[2] + z));
      for (let x = 0; x < w; x++, o++) {
        mask[o] = data[row + x] === label && grid.ref[row + x] !== grid.ignore ? 1 : 0;
      }
    }
  }
  return mask;
}

/**
 * Surface voxels of a mask: in the mask with a face neighbour outside it or outside the array.
 *
 * @param mask - (D, H, W) 0/1 mask.
 * @param shape - (D, H, W) extents.
 * @returns (D, H, W) 0/1 surface mask.
 * @example
 * surfaceOf(new Uint8Array(27).fill(1), [3, 3, 3]); // all but the centre voxel
 */
export function surfaceOf(mask: Uint8Array, shape: readonly [number, number, number]): Uint8Array {
  const [d, h, w] = shape;
  const plane = h * w;
  const surface = new Uint8Array(mask.length);
  for (let z = 0, i = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i++) {
        if (mask[i] === 0) continue;
        const insideX = x > 0 && x < w - 1 && mask[i - 1] !== 0 && mask[i + 1] !== 0;
        const insideY = y > 0 && y < h - 1 && mask[i - w] !== 0 && mask[i + w] !== 0;
        const insideZ = z > 0 && z < d - 1 && mask[i - plane] !== 0 && mask[i + plane] !== 0;
        surface[i] = insideX && insideY && insideZ ? 0 : 1;
      }
    }
  }
  return surface;
}

/**
 * Distances (mm) at the marked voxels, in index order.
 *
 * @param marked - (D, H, W) 0/1 voxels whose distances are wanted.
 * @param squared - (D, H, W) squared distances in mm^2 from the backend.
 */
function distancesAt(marked: Uint8Array, squared: Float32Array): Float64Array {
  let count = 0;
  for (let i = 0; i < marked.length; i++) count += marked[i];
  const out = new Float64Array(count);
  for (let i = 0, k = 0; i < marked.length; i++) {
    if (marked[i] !== 0) out[k++] = Math.sqrt(squared[i]);
  }
  return out;
}
