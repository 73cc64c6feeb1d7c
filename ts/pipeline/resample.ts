/**
 * Resampling a volume onto another voxel grid, given the map from target voxels to source
 * voxels (a 4x4 affine, usually `invert4(sourceAffine) * targetAffine`). Core module.
 *
 * Conventions: voxel centres sit at integer coordinates; a target voxel whose source position
 * falls outside [0, n - 1] on any axis (outside the source's voxel centres) gets 0, or the
 * value the caller chooses. Source coordinates within {@link GRID_SNAP} of an
 * integer are taken as that integer, so grids that agree up to float32 rounding of their affines
 * (a permutation, a flip, a whole-voxel shift) copy voxels exactly rather than blending them with
 * weights of 1e-7.
 *
 * These loops are plain TypeScript on one CPU thread: 0.3-0.8 s for a 256^3 target on the
 * 2-core development machines. A faster version would copy rows directly when the map is a
 * signed permutation with whole-voxel offsets, and otherwise run as a backend op (the
 * trilinear resize kernels) on the whole grid.
 */
import { poisonOutputs } from '../engine/memory.js';
import type { Mat4, Vec3 } from '../io/affine.js';
import type { VoxelArray } from '../io/volume.js';

/** Source coordinates within this many voxels of an integer are snapped to it. */
export const GRID_SNAP = 1e-3;

/**
 * Trilinear resampling.
 *
 * @param source - source voxels (D, H, W) = (sourceDims[2], sourceDims[1], sourceDims[0]),
 *   x fastest.
 * @param sourceDims - source voxel counts (x, y, z).
 * @param targetDims - target voxel counts (x, y, z).
 * @param targetToSource - maps a target voxel (i, j, k) to source voxel coordinates.
 * @param outside - value of target voxels outside the source (default 0).
 * @returns target voxels (D, H, W) = (targetDims[2], targetDims[1], targetDims[0]), x fastest.
 * @example
 * const toSource = multiply4(invert4(input.affine), outputAffine);
 * const out = resampleTrilinear(input.data, input.dims, [256, 256, 256], toSource);
 */
export function resampleTrilinear(
  source: ArrayLike<number>,
  sourceDims: Vec3,
  targetDims: Vec3,
  targetToSource: Mat4,
  outside = 0,
): Float32Array {
  const [nx, ny, nz] = targetDims;
  const out = new Float32Array(nx * ny * nz); // (D, H, W) of the target
  if (poisonOutputs()) out.fill(NaN);
  const m = targetToSource;
  let index = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const [x0, y0, z0] = rowStart(m, j, k);
      for (let i = 0; i < nx; i++) {
        const x = x0 + m[0] * i;
        out[index++] = trilinear(source, sourceDims, x, y0 + m[4] * i, z0 + m[8] * i, outside);
      }
    }
  }
  return out;
}

/**
 * Nearest-neighbour resampling, for label maps: every target voxel takes the value of the
 * source voxel whose centre is nearest (halves round up), or 0 outside the source.
 *
 * @param source - source voxels (D, H, W), x fastest, any voxel type.
 * @param sourceDims - source voxel counts (x, y, z).
 * @param targetDims - target voxel counts (x, y, z).
 * @param targetToSource - maps a target voxel (i, j, k) to source voxel coordinates.
 * @returns a new array of the source's type, (D, H, W) of the target, x fastest.
 * @example
 * const labelsOnInput = resampleNearest(labels, [256, 256, 256], input.dims, inputToConformed);
 */
export function resampleNearest<T extends VoxelArray>(
  source: T,
  sourceDims: Vec3,
  targetDims: Vec3,
  targetToSource: Mat4,
): T {
  const length = targetDims[0] * targetDims[1] * targetDims[2];
  const out = new (source.constructor as new (n: number) => T)(length); // (D, H, W)
  if (poisonOutputs()) new Uint8Array(out.buffer).fill(0xa5);
  const [sx, sy, sz] = sourceDims;
  const [nx, ny, nz] = targetDims;
  const m = targetToSource;
  let index = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const [x0, y0, z0] = rowStart(m, j, k);
      for (let i = 0; i < nx; i++) {
        const x = Math.round(x0 + m[0] * i);
        const y = Math.round(y0 + m[4] * i);
        const z = Math.round(z0 + m[8] * i);
        const inside = x >= 0 && y >= 0 && z >= 0 && x < sx && y < sy && z < sz;
        out[index++] = inside ? source[x + sx * (y + sy * z)] : 0;
      }
    }
  }
  return out;
}

/** Snap a coordinate within {@link GRID_SNAP} of an integer onto it. */
export function snapToGrid(value: number): number {
  const nearest = Math.round(value);
  return Math.abs(value - nearest) <= GRID_SNAP ? nearest : value;
}

/**
 * Source coordinates of target voxel (0, j, k). Each voxel of a row adds i times column 0 to
 * them, computed from the row start rather than accumulated, so rounding does not drift.
 */
function rowStart(m: Mat4, j: number, k: number): Vec3 {
  return [m[1] * j + m[2] * k + m[3], m[5] * j + m[6] * k + m[7], m[9] * j + m[10] * k + m[11]];
}

/** Trilinear interpolation of `source` at voxel coordinates (x, y, z); `outside` outside. */
function trilinear(
  source: ArrayLike<number>,
  dims: Vec3,
  xRaw: number,
  yRaw: number,
  zRaw: number,
  outside: number,
): number {
  const sx = dims[0];
  const sy = dims[1];
  const sz = dims[2];
  const x = snapToGrid(xRaw);
  const y = snapToGrid(yRaw);
  const z = snapToGrid(zRaw);
  if (!(x >= 0 && y >= 0 && z >= 0 && x <= sx - 1 && y <= sy - 1 && z <= sz - 1)) return outside;

  const i = Math.floor(x);
  const j = Math.floor(y);
  const k = Math.floor(z);
  const fx = x - i;
  const fy = y - j;
  const fz = z - k;
  // Strides to the upper neighbour; 0 on the last voxel of an axis (its weight is 0 there).
  const di = i < sx - 1 ? 1 : 0;
  const dj = j < sy - 1 ? sx : 0;
  const dk = k < sz - 1 ? sx * sy : 0;

  const at = i + sx * (j + sy * k);
  const front = lerp(
    lerp(source[at], source[at + di], fx),
    lerp(source[at + dj], source[at + dj + di], fx),
    fy,
  );
  const back = lerp(
    lerp(source[at + dk], source[at + dk + di], fx),
    lerp(source[at + dk + dj], source[at + dk + dj + di], fx),
    fy,
  );
  return lerp(front, back, fz);
}

/** a + (b - a) t, and exactly a when t is 0. */
function lerp(a: number, b: number, t: number): number {
  return t === 0 ? a : a + (b - a) * t;
}
