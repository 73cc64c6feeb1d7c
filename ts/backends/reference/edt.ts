/**
 * Exact Euclidean distance transform on an anisotropic grid, separable and linear in the
 * number of voxels (Felzenszwalb & Huttenlocher's lower envelope of parabolas, which Meijster's
 * algorithm also reduces to). The oracle of the `distanceTransform` op, in float64.
 *
 * Pass 1 scans each W row twice for the nearest feature along that row; passes 2 and 3 take
 * the lower envelope of the parabolas ((x - x_p)^2 + f(p)) along H and then along D. Each pass
 * touches each voxel a constant number of times, so the cost is O(D H W).
 *
 * Written over flat arrays and integer loops only (no closures, no allocation inside loops) so
 * it ports line for line to AssemblyScript (assembly/edt.ts), WGSL (kernels/wgsl/edt_*.wgsl)
 * and CUDA (kernels/cuda/edt.cu).
 */
import type { HostArray } from '../../engine/tensor.js';

/** Scratch buffers for one line of length up to n, reused across lines. */
interface LineScratch {
  /** Squared distances along the line before the pass, in mm^2. */
  f: Float64Array;
  /** Indices of the parabolas in the lower envelope. */
  v: Int32Array;
  /** Boundaries between envelope parabolas, in mm (n + 1 entries). */
  z: Float64Array;
}

/**
 * Squared Euclidean distance (mm^2) from every voxel centre to the nearest feature voxel centre.
 *
 * @param features - (D, H, W) mask, W fastest; non-zero marks a feature voxel.
 * @param shape - (D, H, W) extents.
 * @param spacing - (sd, sh, sw) voxel size in mm along D, H, W, each > 0.
 * @returns (D, H, W) float64 squared distances; Infinity everywhere when there is no feature.
 * @example
 * // (1, 1, 4) row with a feature at w = 0 and 2 mm spacing along W:
 * squaredDistanceTransform(Uint8Array.of(1, 0, 0, 0), [1, 1, 4], [1, 1, 2]); // [0, 4, 16, 36]
 */
export function squaredDistanceTransform(
  features: ArrayLike<number>,
  shape: readonly [number, number, number],
  spacing: readonly [number, number, number],
): Float64Array {
  const [d, h, w] = shape;
  const out = new Float64Array(d * h * w);
  const scratch = lineScratch(Math.max(d, h, w));

  rowDistances(features, out, d * h, w, spacing[2]);
  for (let z = 0; z < d; z++) {
    for (let x = 0; x < w; x++) envelopePass(out, z * h * w + x, w, h, spacing[1], scratch);
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) envelopePass(out, y * w + x, h * w, d, spacing[0], scratch);
  }
  return out;
}

/**
 * The `distanceTransform` op: one transform per batch item, rounded once to float32.
 *
 * @param mask - (N, D, H, W) labels, non-zero marks a feature voxel.
 * @param shape - (N, D, H, W) extents.
 * @param spacing - (sd, sh, sw) in mm.
 * @returns (N, D, H, W) float32 squared distances in mm^2.
 */
export function distanceTransformReference(
  mask: HostArray,
  shape: readonly number[],
  spacing: readonly [number, number, number],
): Float32Array {
  const [n, d, h, w] = shape;
  const item = d * h * w;
  const out = new Float32Array(n * item);
  for (let b = 0; b < n; b++) {
    const features = mask.subarray(b * item, (b + 1) * item);
    out.set(squaredDistanceTransform(features, [d, h, w], spacing), b * item);
  }
  return out;
}

function lineScratch(n: number): LineScratch {
  return { f: new Float64Array(n), v: new Int32Array(n), z: new Float64Array(n + 1) };
}

/**
 * Pass 1: squared distance along each W row to the nearest feature in that row.
 * features, out: (rows, W) row-major.
 */
function rowDistances(
  features: ArrayLike<number>,
  out: Float64Array,
  rows: number,
  w: number,
  step: number,
): void {
  for (let row = 0; row < rows; row++) {
    const base = row * w;

    // Forward: distance in voxels to the last feature at or before x.
    let last = -1;
    for (let x = 0; x < w; x++) {
      if (features[base + x] !== 0) last = x;
      out[base + x] = last < 0 ? Infinity : x - last;
    }

    // Backward: the next feature at or after x, then square in mm.
    let next = -1;
    for (let x = w - 1; x >= 0; x--) {
      if (features[base + x] !== 0) next = x;
      const voxels = next < 0 ? out[base + x] : Math.min(out[base + x], next - x);
      out[base + x] = voxels === Infinity ? Infinity : voxels * step * voxels * step;
    }
  }
}

/**
 * Passes 2 and 3: one line of n values, `stride` apart from `start`, replaced by the lower
 * envelope of parabolas min_p ((q - p)^2 step^2 + f(p)). Infinite f(p) are no parabola.
 */
function envelopePass(
  data: Float64Array,
  start: number,
  stride: number,
  n: number,
  step: number,
  scratch: LineScratch,
): void {
  const { f, v, z } = scratch;
  for (let q = 0; q < n; q++) f[q] = data[start + q * stride];

  const k = buildEnvelope(f, v, z, n, step);
  if (k < 0) return; // no finite value on the line: it stays Infinity

  let j = 0;
  for (let q = 0; q < n; q++) {
    const x = q * step;
    while (z[j + 1] < x) j++;
    const dx = x - v[j] * step;
    data[start + q * stride] = dx * dx + f[v[j]];
  }
}

/**
 * Fill v (parabola sites) and z (their boundaries, mm) with the lower envelope of the finite
 * values of f. Returns the index of the last parabola, or -1 when f has no finite value.
 */
function buildEnvelope(
  f: Float64Array,
  v: Int32Array,
  z: Float64Array,
  n: number,
  step: number,
): number {
  let k = -1;
  for (let q = 0; q < n; q++) {
    if (f[q] === Infinity) continue;
    const xq = q * step;
    let s = -Infinity;
    while (k >= 0) {
      const xp = v[k] * step;
      s = (f[q] + xq * xq - (f[v[k]] + xp * xp)) / (2 * (xq - xp));
      if (s > z[k]) break;
      k--;
    }
    k++;
    v[k] = q;
    z[k] = k === 0 ? -Infinity : s;
    z[k + 1] = Infinity;
  }
  return k;
}
