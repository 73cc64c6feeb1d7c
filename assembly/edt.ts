/**
 * edt_rows / edt_envelope: the exact squared Euclidean distance transform, pass by pass, as in
 * ts/backends/reference/edt.ts (float64 arithmetic, float32 storage between passes).
 *
 * edt_rows_* is pass 1: each W row scanned twice for the nearest feature along it.
 * edt_envelope is passes 2 and 3: each line along H (or D) replaced by the lower envelope of
 * the parabolas (q - p)^2 step^2 + f(p), in place; lines are independent, so a pass splits
 * over threads by line ranges. A line is copied into float64 scratch first, which makes the
 * in-place write safe and keeps the strided D lines' reads to one gather.
 */

/** Small helpers, static so that `@inline` applies. */
class Steps {
  /** Squared mm of a voxel `voxels` steps from the nearest feature; Infinity for none (< 0). */
  @inline
  static squared(voxels: i32, step: f64): f32 {
    if (voxels < 0) return Infinity;
    const mm = <f64>voxels * step;
    return <f32>(mm * mm);
  }
}

/** Pass 1 over rows [rowStart, rowEnd) of a (rows, W) mask of T into (rows, W) float32. */
function rows<T>(mask: usize, out: usize, w: i32, step: f64, rowStart: i32, rowEnd: i32): void {
  for (let row = rowStart; row < rowEnd; row++) {
    const base = <usize>row * <usize>w;

    // Forward: steps back to the last feature at or before x (-1 for none), kept as i32 bits.
    let last = -1;
    for (let x = 0; x < w; x++) {
      if (load<T>(mask + (base + <usize>x) * sizeof<T>()) != 0) last = x;
      store<i32>(out + ((base + <usize>x) << 2), last < 0 ? -1 : x - last);
    }

    // Backward: the nearer of that and the next feature at or after x, squared in mm.
    let next = -1;
    for (let x = w - 1; x >= 0; x--) {
      const at = out + ((base + <usize>x) << 2);
      if (load<T>(mask + (base + <usize>x) * sizeof<T>()) != 0) next = x;
      let voxels = load<i32>(at);
      if (next >= 0 && (voxels < 0 || next - x < voxels)) voxels = next - x;
      store<f32>(at, Steps.squared(voxels, step));
    }
  }
}

/** Pass 1 on a uint8 mask. mask: (rows, W) uint8; out: (rows, W) float32 mm^2. */
export function edt_rows_u8(
  mask: usize,
  out: usize,
  w: i32,
  step: f64,
  rowStart: i32,
  rowEnd: i32,
): void {
  rows<u8>(mask, out, w, step, rowStart, rowEnd);
}

/** Pass 1 on a uint16 mask. mask: (rows, W) uint16; out: (rows, W) float32 mm^2. */
export function edt_rows_u16(
  mask: usize,
  out: usize,
  w: i32,
  step: f64,
  rowStart: i32,
  rowEnd: i32,
): void {
  rows<u16>(mask, out, w, step, rowStart, rowEnd);
}

/** Pass 1 on an int32 mask. mask: (rows, W) int32; out: (rows, W) float32 mm^2. */
export function edt_rows_i32(
  mask: usize,
  out: usize,
  w: i32,
  step: f64,
  rowStart: i32,
  rowEnd: i32,
): void {
  rows<i32>(mask, out, w, step, rowStart, rowEnd);
}

/** Bytes of edt_envelope scratch for lines of length n: f and z (float64), v (int32). */
export function edt_scratch_bytes(n: i32): i32 {
  return 20 * n + 8;
}

/**
 * Passes 2 and 3 over lines [lineStart, lineEnd) of data, in place. Line l runs along an axis
 * of extent n whose elements are `inner` apart: it starts at (l / inner) * inner * n +
 * l % inner. Along H of (N, D, H, W): n = H, inner = W; along D: n = D, inner = H * W.
 * data: float32 mm^2; scratch: edt_scratch_bytes(n) bytes for this thread.
 */
export function edt_envelope(
  data: usize,
  n: i32,
  inner: i32,
  step: f64,
  scratch: usize,
  lineStart: i32,
  lineEnd: i32,
): void {
  const f = scratch; // (n) float64
  const z = scratch + ((<usize>n) << 3); // (n + 1) float64
  const v = z + ((<usize>n + 1) << 3); // (n) int32
  const stride = (<usize>inner) << 2;
  for (let line = lineStart; line < lineEnd; line++) {
    const outer = <usize>(line / inner);
    const start = data + ((outer * <usize>n * <usize>inner + <usize>(line % inner)) << 2);
    for (let q = 0; q < n; q++) {
      store<f64>(f + ((<usize>q) << 3), <f64>load<f32>(start + <usize>q * stride));
    }
    const k = buildEnvelope(f, v, z, n, step);
    if (k >= 0) writeEnvelope(start, stride, f, v, z, n, step);
  }
}

/**
 * Fill v (parabola sites) and z (their boundaries, mm) with the lower envelope of the finite
 * values of f. Returns the index of the last parabola, or -1 when f has no finite value.
 * A new parabola hides the top one when they meet at or before the top's boundary:
 * num / den <= z[k] with den > 0, tested as num <= z[k] * den so that only a kept
 * parabola costs a division.
 */
function buildEnvelope(f: usize, v: usize, z: usize, n: i32, step: f64): i32 {
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = load<f64>(f + ((<usize>q) << 3));
    if (fq == Infinity) continue;
    const xq = <f64>q * step;
    let s = -Infinity;
    while (k >= 0) {
      const p = load<i32>(v + ((<usize>k) << 2));
      const xp = <f64>p * step;
      const num = fq + xq * xq - (load<f64>(f + ((<usize>p) << 3)) + xp * xp);
      const den = 2 * (xq - xp);
      if (num > load<f64>(z + ((<usize>k) << 3)) * den) {
        s = num / den;
        break;
      }
      k--;
    }
    k++;
    store<i32>(v + ((<usize>k) << 2), q);
    store<f64>(z + ((<usize>k) << 3), k == 0 ? -Infinity : s);
    store<f64>(z + ((<usize>(k + 1)) << 3), Infinity);
  }
  return k;
}

/** Write each position's lowest parabola, min_p (q - p)^2 step^2 + f(p), along the line. */
function writeEnvelope(
  start: usize,
  stride: usize,
  f: usize,
  v: usize,
  z: usize,
  n: i32,
  step: f64,
): void {
  let j = 0;
  for (let q = 0; q < n; q++) {
    const x = <f64>q * step;
    while (load<f64>(z + ((<usize>(j + 1)) << 3)) < x) j++;
    const p = load<i32>(v + ((<usize>j) << 2));
    const dx = x - <f64>p * step;
    store<f32>(start + <usize>q * stride, <f32>(dx * dx + load<f64>(f + ((<usize>p) << 3))));
  }
}
