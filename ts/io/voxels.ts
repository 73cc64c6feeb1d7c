/**
 * Voxel datatypes shared by the readers and the writer: NIfTI datatype codes, typed arrays,
 * byte-order conversion, intensity scaling, and the non-finite voxel count.
 */
import type { Volume, VoxelArray, VoxelType } from './volume.js';

/** A typed-array constructor for one of the voxel types. */
export type VoxelArrayConstructor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

/** One voxel type: its NIfTI code, size and typed array. */
export interface VoxelTypeInfo {
  name: VoxelType;
  /** NIfTI-1/2 `datatype` code. */
  niftiCode: number;
  /** Bytes per voxel. */
  bytes: number;
  array: VoxelArrayConstructor;
}

/** The voxel types voxseg reads and writes, with their NIfTI codes. */
export const VOXEL_TYPES: readonly VoxelTypeInfo[] = [
  { name: 'uint8', niftiCode: 2, bytes: 1, array: Uint8Array },
  { name: 'int16', niftiCode: 4, bytes: 2, array: Int16Array },
  { name: 'int32', niftiCode: 8, bytes: 4, array: Int32Array },
  { name: 'float32', niftiCode: 16, bytes: 4, array: Float32Array },
  { name: 'float64', niftiCode: 64, bytes: 8, array: Float64Array },
  { name: 'int8', niftiCode: 256, bytes: 1, array: Int8Array },
  { name: 'uint16', niftiCode: 512, bytes: 2, array: Uint16Array },
];

/**
 * NIfTI datatype codes that are valid but that voxseg does not read, with their names
 * (messages name them; RGB and complex images have no scalar intensity to segment).
 */
export const UNSUPPORTED_NIFTI_TYPES: Readonly<Record<number, string>> = {
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'RGB24',
  768: 'uint32',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

/**
 * Largest voxel payload a reader accepts, in bytes (4 GiB): dims whose product exceeds it are
 * taken as a corrupt header rather than allocated.
 */
export const MAX_DATA_BYTES = 2 ** 32;

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The voxel type with a given NIfTI datatype code, or undefined.
 *
 * @example
 * voxelTypeOfNiftiCode(4)?.name; // 'int16'
 */
export function voxelTypeOfNiftiCode(code: number): VoxelTypeInfo | undefined {
  return VOXEL_TYPES.find((type) => type.niftiCode === code);
}

/**
 * The voxel type of a typed array (what a writer stores it as).
 *
 * @returns the type, or undefined for an array that is not a {@link VoxelArray}.
 * @example
 * voxelTypeOfArray(new Int16Array(8))?.niftiCode; // 4
 */
export function voxelTypeOfArray(data: ArrayBufferView): VoxelTypeInfo | undefined {
  return VOXEL_TYPES.find((type) => data instanceof type.array);
}

/**
 * The voxel type with a given name.
 *
 * @example
 * voxelTypeByName('float32').bytes; // 4
 */
export function voxelTypeByName(name: VoxelType): VoxelTypeInfo {
  return VOXEL_TYPES.find((type) => type.name === name) as VoxelTypeInfo;
}

/**
 * Describe a data size for messages: `256x256x256 int16 (32 MiB)`.
 *
 * @example
 * describeSize([33, 41, 25], 1, 'int16'); // '33x41x25 int16 (66 KiB)'
 */
export function describeSize(dims: readonly number[], frames: number, type: VoxelType): string {
  const bytes = dims.reduce((p, d) => p * d, frames) * voxelTypeByName(type).bytes;
  const shape = frames > 1 ? [...dims, frames] : dims;
  return `${shape.join('x')} ${type} (${formatBytes(bytes)})`;
}

function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) [value, unit] = [value / 1024, unit + 1];
  return `${unit === 0 ? value : value.toPrecision(3)} ${units[unit]}`;
}

/**
 * Copy `count` voxels of `type` starting at byte `offset` into a new typed array, converting
 * from the file's byte order to the host's.
 *
 * @param bytes - the whole file (decompressed).
 * @param offset - byte offset of the first voxel.
 * @param count - number of voxels; the caller has checked that they lie inside `bytes`.
 * @param littleEndian - byte order of the file.
 * @returns a new array, (frames, D, H, W) with W = x fastest, as stored.
 * @example
 * const data = decodeVoxels(bytes, 352, 33 * 41 * 25, voxelTypeByName('int16'), false);
 */
export function decodeVoxels(
  bytes: Uint8Array,
  offset: number,
  count: number,
  type: VoxelTypeInfo,
  littleEndian: boolean,
): VoxelArray {
  // copy: aligned, owned by the volume, in the file's byte order until swapped.
  const copy = bytes.slice(offset, offset + count * type.bytes);
  if (littleEndian !== HOST_LITTLE_ENDIAN) swapBytes(copy, type.bytes);
  return new type.array(copy.buffer, 0, count);
}

/**
 * The bytes of a typed array in little-endian order (a view when the host is little-endian).
 *
 * @example
 * const bytes = littleEndianBytes(volume.data);
 */
export function littleEndianBytes(data: VoxelArray): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return view;
  const copy = view.slice();
  swapBytes(copy, data.BYTES_PER_ELEMENT);
  return copy;
}

/**
 * Reverse the byte order of every `size`-byte element of `bytes`, in place.
 *
 * @example
 * swapBytes(new Uint8Array([1, 2, 3, 4]), 2); // -> [2, 1, 4, 3]
 */
export function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let start = 0; start + size <= bytes.length; start += size) {
    for (let lo = start, hi = start + size - 1; lo < hi; lo++, hi--) {
      const t = bytes[lo];
      bytes[lo] = bytes[hi];
      bytes[hi] = t;
    }
  }
}

/**
 * Apply a header's intensity scaling `value * slope + inter`. A slope of 0 or a non-finite slope
 * means no scaling (NIfTI's rule); a non-finite intercept counts as 0.
 *
 * @returns `data` itself when the scaling is the identity; else a new Float32Array (Float64Array
 *   for float64 data) of the same length.
 * @example
 * applyScaling(new Int16Array([1, 2]), 0.5, 10); // Float32Array [10.5, 11]
 */
export function applyScaling(data: VoxelArray, slope: number, inter: number): VoxelArray {
  const usable = Number.isFinite(slope) && slope !== 0;
  const offset = Number.isFinite(inter) ? inter : 0;
  if (!usable || (slope === 1 && offset === 0)) return data;

  const out =
    data instanceof Float64Array ? new Float64Array(data.length) : new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] * slope + offset;
  return out;
}

/**
 * Count the voxels that are NaN or infinite, over all frames. Integer data has none. The
 * pipeline decides whether such a volume is usable (a network would spread NaN everywhere).
 *
 * @example
 * if (countNonFinite(volume) > 0) throw expected('finite voxel values', 'data', '...');
 */
export function countNonFinite(volume: Pick<Volume, 'data'>): number {
  const { data } = volume;
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return 0;
  let count = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) count++;
  return count;
}
