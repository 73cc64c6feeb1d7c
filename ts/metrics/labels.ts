/**
 * Label maps for evaluation: integer checks and the dense relabelling that lets one pass count
 * sparse label values (FreeSurfer's go up to about 14000) with small per-label arrays.
 *
 * Dense mapping: the values present in either map are sorted ascending and value v becomes
 * its rank in that list (0 .. K - 1). The lookup is a table over [min, max] when that span is
 * at most 2^24 values, else a hash map. The dense maps are Uint8 when K <= 256, Uint16 when
 * K <= 65536, else Int32, in the same (D, H, W) order as the source (x fastest).
 */
import { expected } from '../engine/errors.js';
import type { HostLabels } from './confusion.js';

/** Any typed array a label volume may arrive in (NIfTI datatypes after scaling). */
export type LabelArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

/** Two label maps relabelled to dense indices, with the table back to the original values. */
export interface DenseLabels {
  /** Dense prediction, (D, H, W) with W = x fastest. */
  pred: HostLabels;
  /** Dense reference, (D, H, W). */
  ref: HostLabels;
  /** values[i] is the original label value of dense index i, ascending. */
  values: number[];
  /** Dense index of an original value, or undefined when the value occurs in neither map. */
  indexOf(value: number): number | undefined;
}

const TABLE_SPAN_LIMIT = 1 << 24;

/**
 * Throw on the first voxel that does not hold a non-negative whole number (float data with
 * fractions, NaN, negative values).
 *
 * @param data - labels, (D, H, W) with W = x fastest.
 * @param dims - (x, y, z) voxel counts, to name the voxel by coordinates.
 * @param file - file or role named in the error.
 * @throws InputError naming the file, the voxel (x, y, z) and its value.
 */
export function requireIntegerLabels(
  data: LabelArray,
  dims: readonly [number, number, number],
  file: string,
): void {
  const unsigned = data instanceof Uint8Array || data instanceof Uint16Array;
  if (unsigned) return;
  for (let i = 0; i < data.length; i++) {
    if (data[i] < 0) {
      throw expected('a non-negative label value', `voxel ${voxelName(i, dims)}`, data[i], {
        file,
        hint: 'labels are 0 (background) or positive',
      });
    }
    if (Number.isInteger(data[i])) continue;
    throw expected('a whole-number label value', `voxel ${voxelName(i, dims)}`, data[i], {
      file,
      hint: 'label volumes hold integer labels; threshold or round a probability map first',
    });
  }
}

/**
 * Relabel two label maps of equal length to dense indices (see the module comment for how).
 *
 * @param pred - predicted labels, integer-valued.
 * @param ref - reference labels, integer-valued, same length.
 * @returns the dense maps and the value table.
 * @example
 * const dense = denseLabels(Int16Array.of(0, 2035), Int16Array.of(0, 0));
 * dense.values; // [0, 2035]; dense.pred = Uint8Array [0, 1]
 */
export function denseLabels(pred: LabelArray, ref: LabelArray): DenseLabels {
  const [min, max] = valueRange(pred, valueRange(ref, [Infinity, -Infinity]));
  const span = max - min + 1;
  return span <= TABLE_SPAN_LIMIT ? denseByTable(pred, ref, min, span) : denseByMap(pred, ref);
}

/**
 * Name a voxel by its coordinates and linear index, as error messages show it.
 *
 * @param index - linear index, x fastest.
 * @param dims - (x, y, z) voxel counts.
 * @example
 * voxelName(5, [4, 4, 4]); // '(1, 1, 0) [index 5]'
 */
export function voxelName(index: number, dims: readonly [number, number, number]): string {
  const x = index % dims[0];
  const y = Math.floor(index / dims[0]) % dims[1];
  const z = Math.floor(index / (dims[0] * dims[1]));
  return `(${x}, ${y}, ${z}) [index ${index}]`;
}

function valueRange(data: LabelArray, start: [number, number]): [number, number] {
  let [min, max] = start;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

function denseByTable(pred: LabelArray, ref: LabelArray, min: number, span: number): DenseLabels {
  const table = new Int32Array(Math.max(span, 0)).fill(-1);
  for (const data of [pred, ref]) for (let i = 0; i < data.length; i++) table[data[i] - min] = 0;

  const values: number[] = [];
  for (let offset = 0; offset < table.length; offset++) {
    if (table[offset] === 0) table[offset] = values.push(offset + min) - 1;
  }

  const map = (data: LabelArray) => {
    const out = denseArray(values.length, data.length);
    for (let i = 0; i < data.length; i++) out[i] = table[data[i] - min];
    return out;
  };
  const indexOf = (value: number) => {
    const index = Number.isInteger(value) ? table[value - min] : undefined;
    return index === undefined || index < 0 ? undefined : index;
  };
  return { pred: map(pred), ref: map(ref), values, indexOf };
}

function denseByMap(pred: LabelArray, ref: LabelArray): DenseLabels {
  const present = new Set<number>();
  for (const data of [pred, ref]) for (let i = 0; i < data.length; i++) present.add(data[i]);
  const values = [...present].sort((a, b) => a - b);
  const index = new Map(values.map((value, i) => [value, i]));

  const map = (data: LabelArray) => {
    const out = denseArray(values.length, data.length);
    for (let i = 0; i < data.length; i++) out[i] = index.get(data[i])!;
    return out;
  };
  return { pred: map(pred), ref: map(ref), values, indexOf: (value) => index.get(value) };
}

/** The smallest unsigned label array that holds `count` dense indices. */
function denseArray(count: number, length: number): HostLabels {
  if (count <= 256) return new Uint8Array(length);
  if (count <= 65536) return new Uint16Array(length);
  return new Int32Array(length);
}
