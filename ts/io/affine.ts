/**
 * Geometry of voxel grids: 4x4 affines (row-major `number[16]`, world = A * [i, j, k, 1]),
 * orientation codes, and the NIfTI quaternion form of a rotation + scaling.
 *
 * World space is RAS+ in mm (x to the Right, y to the Anterior, z to the Superior), as in NIfTI.
 */
import { expected } from '../engine/errors.js';

/** A 4x4 matrix, row-major: element (row r, column c) is at `r * 4 + c`. */
export type Mat4 = number[];

/** A 3-vector (voxel indices or world coordinates in mm). */
export type Vec3 = [number, number, number];

/** Where one voxel axis points: the world axis it follows most closely and in which sense. */
export interface AxisDirection {
  /** World axis: 0 = x (R/L), 1 = y (A/P), 2 = z (S/I). */
  world: 0 | 1 | 2;
  /** +1 when the voxel index grows towards R, A or S; -1 towards L, P or I. */
  sign: 1 | -1;
}

/**
 * The NIfTI quaternion form of an affine whose 3x3 part is a rotation times a positive scaling,
 * possibly with one reflection (`qfac = -1` flips the k axis).
 */
export interface Quaternion {
  /** Quaternion parameters b, c, d; a = sqrt(1 - b^2 - c^2 - d^2) >= 0. */
  b: number;
  c: number;
  d: number;
  /** +1, or -1 when the grid is left-handed (stored in NIfTI's pixdim[0]). */
  qfac: 1 | -1;
  /** Voxel size along i, j, k in mm (the column lengths), all positive. */
  spacing: Vec3;
  /** World position of voxel (0, 0, 0) in mm. */
  offset: Vec3;
}

const POSITIVE_LETTERS = 'RAS';
const NEGATIVE_LETTERS = 'LPI';

/**
 * The 4x4 identity.
 *
 * @example
 * identity4(); // [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
 */
export function identity4(): Mat4 {
  return [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
}

/**
 * Matrix product `a * b` (apply `b` first, then `a`).
 *
 * @example
 * const voxToVox = multiply4(invert4(inputAffine), outputAffine); // output voxel -> input voxel
 */
export function multiply4(a: Mat4, b: Mat4): Mat4 {
  const out = new Array<number>(16);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let sum = 0;
      for (let k = 0; k < 4; k++) sum += a[r * 4 + k] * b[k * 4 + c];
      out[r * 4 + c] = sum;
    }
  }
  return out;
}

/**
 * Inverse of a 4x4 matrix by Gauss-Jordan elimination with partial pivoting. Matrices made of
 * axis permutations, flips and integer or half-integer offsets invert exactly.
 *
 * @param m - the matrix, row-major.
 * @param field - names the matrix in the error message (default `'affine'`).
 * @returns the inverse, row-major.
 * @throws InputError when the matrix is singular or not finite.
 * @example
 * const worldToVoxel = invert4(volume.affine);
 */
export function invert4(m: Mat4, field = 'affine'): Mat4 {
  // rows: the augmented matrix [m | I], reduced in place to [I | m^-1].
  const rows = [0, 1, 2, 3].map((r) => [...m.slice(r * 4, r * 4 + 4), ...unitRow(r)]);
  for (let col = 0; col < 4; col++) {
    const pivot = pivotRow(rows, col);
    if (!(Math.abs(rows[pivot][col]) > 1e-12)) {
      throw expected('an invertible, finite 4x4 matrix', field, m);
    }
    [rows[col], rows[pivot]] = [rows[pivot], rows[col]];
    eliminate(rows, col);
  }
  return rows.flatMap((row) => row.slice(4));
}

/**
 * Apply an affine to a point: `m * [p, 1]`, dropping the homogeneous coordinate.
 *
 * @example
 * const centreMm = transformPoint(volume.affine, [127.5, 127.5, 127.5]);
 */
export function transformPoint(m: Mat4, p: readonly number[]): Vec3 {
  const row = (r: number) => m[r * 4] * p[0] + m[r * 4 + 1] * p[1] + m[r * 4 + 2] * p[2];
  return [row(0) + m[3], row(1) + m[7], row(2) + m[11]];
}

/**
 * The affine of a grid with the given voxel size and no rotation or offset (NIfTI's fallback
 * when a header has neither sform nor qform).
 *
 * @param spacing - voxel size along i, j, k in mm.
 * @example
 * affineFromSpacing([2, 2, 3]); // diag(2, 2, 3, 1)
 */
export function affineFromSpacing(spacing: readonly number[]): Mat4 {
  return [spacing[0], 0, 0, 0, 0, spacing[1], 0, 0, 0, 0, spacing[2], 0, 0, 0, 0, 1];
}

/**
 * Length of each voxel axis in world space (the columns of the 3x3 part), in mm.
 *
 * @example
 * columnNorms(volume.affine); // [1, 1, 1] for a 1 mm grid
 */
export function columnNorms(m: Mat4): Vec3 {
  const norm = (c: number) => Math.hypot(m[c], m[4 + c], m[8 + c]);
  return [norm(0), norm(1), norm(2)];
}

/**
 * For each voxel axis, the world axis it follows most closely and its sense. Oblique axes are
 * assigned greedily, strongest component first, so the three world axes are always distinct.
 *
 * @example
 * axisDirections(liaAffine);
 * // [{ world: 0, sign: -1 }, { world: 2, sign: -1 }, { world: 1, sign: 1 }]
 */
export function axisDirections(m: Mat4): [AxisDirection, AxisDirection, AxisDirection] {
  const norms = columnNorms(m);
  const candidates: { axis: number; world: number; weight: number }[] = [];
  for (let axis = 0; axis < 3; axis++) {
    for (let world = 0; world < 3; world++) {
      const weight = Math.abs(m[world * 4 + axis]) / (norms[axis] || 1);
      candidates.push({ axis, world, weight });
    }
  }
  candidates.sort((a, b) => b.weight - a.weight);
  return assignAxes(m, candidates);
}

/**
 * The three-letter orientation code of a grid: for each voxel axis, the anatomical direction
 * its index grows towards (R/L, A/P, S/I).
 *
 * @example
 * orientationCode([-1, 0, 0, 0, 0, 0, 1, 0, 0, -1, 0, 0, 0, 0, 0, 1]); // 'LIA'
 */
export function orientationCode(m: Mat4): string {
  return axisDirections(m)
    .map(({ world, sign }) => (sign > 0 ? POSITIVE_LETTERS : NEGATIVE_LETTERS)[world])
    .join('');
}

/**
 * The affine of a NIfTI qform: rotation from the quaternion (b, c, d), voxel sizes, the
 * handedness `qfac`, and the offset of voxel (0, 0, 0).
 *
 * @example
 * const affine = affineFromQuaternion({ b: 0, c: 1, d: 0, qfac: -1, spacing: [2, 2, 2],
 *   offset: [32, -40, -16] }); // diag(-2, 2, 2) + offset
 */
export function affineFromQuaternion(q: Quaternion): Mat4 {
  const [a, b, c, d] = unitQuaternion(q.b, q.c, q.d);
  const rotation = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const scale = [q.spacing[0], q.spacing[1], q.spacing[2] * q.qfac];
  const out = identity4();
  for (let r = 0; r < 3; r++) {
    // + 0 turns -0 into 0, so exact comparisons with other affines hold.
    for (let col = 0; col < 3; col++) out[r * 4 + col] = rotation[r][col] * scale[col] + 0;
    out[r * 4 + 3] = q.offset[r];
  }
  return out;
}

/**
 * The quaternion form of an affine, when its 3x3 part is a rotation times a positive scaling
 * (columns orthogonal within `tolerance`, relative); otherwise `null` (sheared affines have no
 * qform).
 *
 * @param tolerance - largest |cosine| between two columns still taken as orthogonal (1e-4).
 * @example
 * const q = quaternionFromAffine(volume.affine);
 * if (q) writeQform(q);
 */
export function quaternionFromAffine(m: Mat4, tolerance = 1e-4): Quaternion | null {
  const spacing = columnNorms(m);
  if (!spacing.every((s) => s > 0 && Number.isFinite(s))) return null;
  const columns = [0, 1, 2].map((c) => [0, 1, 2].map((r) => m[r * 4 + c] / spacing[c]));
  if (!columnsOrthogonal(columns, tolerance)) return null;

  const qfac = determinant3(columns) < 0 ? -1 : 1;
  if (qfac < 0) columns[2] = columns[2].map((v) => -v);
  const [b, c, d] = quaternionOfRotation(columns);
  return { b, c, d, qfac, spacing, offset: [m[3], m[7], m[11]] };
}

function unitRow(r: number): number[] {
  return [0, 1, 2, 3].map((c) => (c === r ? 1 : 0));
}

function pivotRow(rows: number[][], col: number): number {
  let best = col;
  for (let r = col + 1; r < 4; r++) {
    if (Math.abs(rows[r][col]) > Math.abs(rows[best][col])) best = r;
  }
  return best;
}

function eliminate(rows: number[][], col: number): void {
  const pivot = rows[col][col];
  rows[col] = rows[col].map((v) => v / pivot);
  for (let r = 0; r < 4; r++) {
    const factor = rows[r][col];
    if (r === col || factor === 0) continue;
    rows[r] = rows[r].map((v, c) => v - factor * rows[col][c]);
  }
}

function assignAxes(
  m: Mat4,
  candidates: { axis: number; world: number }[],
): [AxisDirection, AxisDirection, AxisDirection] {
  const out: AxisDirection[] = [];
  const usedWorld = new Set<number>();
  for (const { axis, world } of candidates) {
    if (out[axis] || usedWorld.has(world)) continue;
    out[axis] = { world: world as 0 | 1 | 2, sign: m[world * 4 + axis] < 0 ? -1 : 1 };
    usedWorld.add(world);
  }
  return out as [AxisDirection, AxisDirection, AxisDirection];
}

function unitQuaternion(b: number, c: number, d: number): [number, number, number, number] {
  const sum = b * b + c * c + d * d;
  if (sum <= 1) return [Math.sqrt(1 - sum), b, c, d];
  // Rounding pushed |(b, c, d)| past 1: a 180-degree rotation, a = 0 (as nifti1_io does).
  const norm = Math.sqrt(sum);
  return [0, b / norm, c / norm, d / norm];
}

function columnsOrthogonal(columns: number[][], tolerance: number): boolean {
  const dot = (u: number[], v: number[]) => u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
  return [
    [0, 1],
    [0, 2],
    [1, 2],
  ].every(([i, j]) => Math.abs(dot(columns[i], columns[j])) <= tolerance);
}

function determinant3(columns: number[][]): number {
  const [u, v, w] = columns;
  return (
    u[0] * (v[1] * w[2] - v[2] * w[1]) -
    v[0] * (u[1] * w[2] - u[2] * w[1]) +
    w[0] * (u[1] * v[2] - u[2] * v[1])
  );
}

/** Quaternion (b, c, d) with a >= 0 of a proper rotation given by its columns. */
function quaternionOfRotation(columns: number[][]): Vec3 {
  // r(row, col) of the rotation matrix whose columns are given.
  const r = (row: number, col: number) => columns[col][row];
  const trace = r(0, 0) + r(1, 1) + r(2, 2);
  let q: [number, number, number, number];
  if (trace > -0.5) {
    const a = 0.5 * Math.sqrt(1 + trace);
    q = [
      a,
      (r(2, 1) - r(1, 2)) / (4 * a),
      (r(0, 2) - r(2, 0)) / (4 * a),
      (r(1, 0) - r(0, 1)) / (4 * a),
    ];
  } else {
    q = quaternionNearHalfTurn(r);
  }
  const sign = q[0] < 0 ? -1 : 1;
  return [sign * q[1], sign * q[2], sign * q[3]];
}

/** Quaternion (a, b, c, d) of a rotation near 180 degrees, from its largest diagonal term. */
function quaternionNearHalfTurn(
  r: (row: number, col: number) => number,
): [number, number, number, number] {
  const xd = 1 + r(0, 0) - r(1, 1) - r(2, 2);
  const yd = 1 + r(1, 1) - r(0, 0) - r(2, 2);
  const zd = 1 + r(2, 2) - r(0, 0) - r(1, 1);
  if (xd >= yd && xd >= zd) {
    const b = 0.5 * Math.sqrt(xd);
    return [
      (r(2, 1) - r(1, 2)) / (4 * b),
      b,
      (r(0, 1) + r(1, 0)) / (4 * b),
      (r(0, 2) + r(2, 0)) / (4 * b),
    ];
  }
  if (yd >= zd) {
    const c = 0.5 * Math.sqrt(yd);
    return [
      (r(0, 2) - r(2, 0)) / (4 * c),
      (r(0, 1) + r(1, 0)) / (4 * c),
      c,
      (r(1, 2) + r(2, 1)) / (4 * c),
    ];
  }
  const d = 0.5 * Math.sqrt(zd);
  return [
    (r(1, 0) - r(0, 1)) / (4 * d),
    (r(0, 2) + r(2, 0)) / (4 * d),
    (r(1, 2) + r(2, 1)) / (4 * d),
    d,
  ];
}
