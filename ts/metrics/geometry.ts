/**
 * Grid geometry for evaluation: the label-volume input type, the check that two grids agree,
 * nearest-neighbour resampling of a prediction onto the reference grid, and the image diagonal.
 */
import { InputError, formatValue } from '../engine/errors.js';
import type { LabelArray } from './labels.js';

/**
 * A label volume: integer labels plus the geometry evaluation needs. A `Volume` from
 * `voxseg/node`'s reader is one; so is a plain typed array with dims.
 */
export interface LabelVolume {
  /** Labels, x fastest: index = x + nx (y + ny z). Float data must hold whole numbers. */
  data: LabelArray;
  /** Voxel counts (x, y, z). */
  dims: readonly [number, number, number];
  /** Voxel size in mm along (x, y, z); default 1 mm when absent. */
  spacing?: readonly [number, number, number];
  /** Voxel-to-world 4x4 affine, row-major, mm; grids are compared by it when both have one. */
  affine?: readonly number[];
  /** Number of 3D frames; label volumes must have 1. */
  frames?: number;
}

/** Largest distance (mm) between corresponding grid corners for two grids to count as equal. */
export const GRID_TOLERANCE_MM = 1e-3;

/** Names of the two inputs as errors show them (file paths in the CLI). */
export interface InputNames {
  pred: string;
  ref: string;
}

/**
 * Throw unless both volumes share dims and, when both have affines, the world positions of the
 * grid's corner voxels agree within {@link GRID_TOLERANCE_MM} (without affines, the spacings
 * must agree to that tolerance over the grid's extent).
 *
 * @throws InputError naming both inputs and both values, with the `--resample nearest` remedy.
 */
export function requireSameGrid(pred: LabelVolume, ref: LabelVolume, names: InputNames): void {
  if (pred.dims.some((n, axis) => n !== ref.dims[axis])) {
    const detail = `${formatValue(pred.dims)} but ${names.ref} has dims ${formatValue(ref.dims)}`;
    throw gridError(`${names.pred} has dims ${detail}`, 'dims', pred.dims);
  }
  if (pred.affine && ref.affine) {
    const gap = cornerGap(pred.affine, ref.affine, ref.dims);
    if (gap <= GRID_TOLERANCE_MM) return;
    const predAffine = `${names.pred} ${formatAffine(pred.affine)}`;
    const affines = `${predAffine} and ${names.ref} ${formatAffine(ref.affine)}`;
    const apart = `${gap.toPrecision(3)} mm apart (tolerance ${GRID_TOLERANCE_MM} mm)`;
    throw gridError(
      `the affines of ${affines} place a grid corner ${apart}`,
      'affine',
      pred.affine,
    );
  }
  if (spacingGap(pred.spacing, ref.spacing, ref.dims) > GRID_TOLERANCE_MM) {
    const detail = `${formatValue(pred.spacing)} but ${names.ref} has ${formatValue(ref.spacing)}`;
    throw gridError(`${names.pred} has spacing ${detail}`, 'spacing', pred.spacing);
  }
}

function gridError(detail: string, field: string, value: unknown): InputError {
  const hint =
    'to map the prediction onto the reference grid, pass --resample nearest to voxseg eval, ' +
    "or resample: 'nearest' to evaluate()";
  return new InputError(`grids differ: ${detail}`, { field, value, hint });
}

/** Without affines: how far (mm) the far corner moves between the two spacings, else 0. */
function spacingGap(
  a: readonly number[] | undefined,
  b: readonly number[] | undefined,
  dims: readonly number[],
): number {
  if (!a || !b) return 0;
  return Math.hypot(...dims.map((n, axis) => (a[axis] - b[axis]) * (n - 1)));
}

/** Largest world distance (mm) between the two affines' images of the grid's 8 corners. */
function cornerGap(a: readonly number[], b: readonly number[], dims: readonly number[]): number {
  let gap = 0;
  for (let corner = 0; corner < 8; corner++) {
    const ijk = [0, 1, 2].map((axis) => ((corner >> axis) & 1) * (dims[axis] - 1));
    const [pa, pb] = [applyAffine(a, ijk), applyAffine(b, ijk)];
    gap = Math.max(gap, Math.hypot(pa[0] - pb[0], pa[1] - pb[1], pa[2] - pb[2]));
  }
  return gap;
}

function applyAffine(m: readonly number[], p: readonly number[]): number[] {
  return [0, 1, 2].map(
    (r) => m[4 * r] * p[0] + m[4 * r + 1] * p[1] + m[4 * r + 2] * p[2] + m[4 * r + 3],
  );
}

function formatAffine(m: readonly number[]): string {
  const rows = [0, 1, 2].map((r) =>
    m
      .slice(4 * r, 4 * r + 4)
      .map((v) => +v.toFixed(4))
      .join(' '),
  );
  return `[${rows.join('; ')}]`;
}

/**
 * Resample a prediction onto the reference grid by nearest neighbour through both affines;
 * reference voxels that fall outside the prediction's grid get label 0.
 *
 * @param pred - the volume to move; needs an affine.
 * @param ref - the target grid; needs an affine.
 * @param names - input names for errors.
 * @returns labels on the reference grid, same array type as `pred.data`, x fastest.
 * @throws InputError when either volume lacks an affine.
 */
export function resampleNearest(
  pred: LabelVolume,
  ref: LabelVolume,
  names: InputNames,
): LabelArray {
  for (const [volume, name] of [
    [pred, names.pred],
    [ref, names.ref],
  ] as const) {
    if (!volume.affine) {
      throw new InputError(`${name} has no affine, so it cannot be resampled`, { field: 'affine' });
    }
  }
  const m = multiply(invertAffine(pred.affine!), ref.affine!);
  const [nx, ny, nz] = ref.dims;
  const out = new (pred.data.constructor as new (n: number) => LabelArray)(nx * ny * nz);

  for (let z = 0, i = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) out[i] = sampleNearest(pred, m, x, y, z);
    }
  }
  return out;
}

/** The prediction's label at the voxel nearest to ref voxel (x, y, z) mapped by m, else 0. */
function sampleNearest(pred: LabelVolume, m: number[], x: number, y: number, z: number): number {
  const [nx, ny, nz] = pred.dims;
  const i = Math.round(m[0] * x + m[1] * y + m[2] * z + m[3]);
  const j = Math.round(m[4] * x + m[5] * y + m[6] * z + m[7]);
  const k = Math.round(m[8] * x + m[9] * y + m[10] * z + m[11]);
  if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) return 0;
  return pred.data[i + nx * (j + ny * k)];
}

/** Product of two row-major 4x4 matrices. */
function multiply(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(16).fill(0);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      for (let k = 0; k < 4; k++) out[4 * r + c] += a[4 * r + k] * b[4 * k + c];
    }
  }
  return out;
}

/** Inverse of a row-major affine 4x4 (last row 0 0 0 1), by the 3x3 adjugate. */
function invertAffine(m: readonly number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = [m[0], m[1], m[2], m[4], m[5], m[6], m[8], m[9], m[10]];
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  if (!Number.isFinite(1 / det) || det === 0) {
    throw new InputError(`expected an invertible affine, received ${formatAffine(m)}`, {
      field: 'affine',
    });
  }
  const r = [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
  const t = [m[3], m[7], m[11]];
  const rows = r.map((row) => [...row, -(row[0] * t[0] + row[1] * t[1] + row[2] * t[2])]);
  return [...rows.flat(), 0, 0, 0, 1];
}

/**
 * Diagonal of the image's field of view in mm: sqrt(sum over axes of (n * spacing)^2), the
 * distance reported for one empty mask with `emptyDistance: 'diagonal'`.
 */
export function imageDiagonalMm(
  dims: readonly [number, number, number],
  spacing: readonly [number, number, number],
): number {
  return Math.hypot(dims[0] * spacing[0], dims[1] * spacing[1], dims[2] * spacing[2]);
}
