/**
 * NIfTI-1 and NIfTI-2 volumes, `.nii` or `.nii.gz`: parsing (both byte orders) and writing
 * (NIfTI-1, little-endian). Core module: no Node built-ins, it runs in browsers.
 *
 * The header is parsed here rather than with the `nifti-reader-js` package, which is not sound
 * for what voxseg needs: it prefers the qform over an sform whenever `sform_code < qform_code`;
 * its NIfTI-2 reader ignores `sform_code`/`qform_code` (a qform-only file gets an all-zero
 * affine); it combines the two halves of 64-bit fields wrongly for negative values and for
 * big-endian files; it takes either gzip magic byte alone as gzip; and it neither byte-swaps
 * big-endian voxels nor checks that the data is as long as the header says.
 *
 * Geometry (NIfTI's rules): the sform when `sform_code > 0`, else the qform (quaternion) when
 * `qform_code > 0`, else the voxel sizes alone. A transform that is not finite or is singular is
 * skipped, with a warning, in favour of the next one.
 */
import { expected } from '../engine/errors.js';
import { logger } from '../engine/log.js';
import {
  affineFromQuaternion,
  affineFromSpacing,
  invert4,
  quaternionFromAffine,
  type Mat4,
  type Vec3,
} from './affine.js';
import { gunzip, gzip, isGzip } from './gzip.js';
import {
  NIFTI1_LAYOUT,
  readNiftiHeader,
  writeNiftiFields,
  type NiftiFields,
  type NiftiHeader,
} from './nifti-header.js';
import type { Volume } from './volume.js';
import {
  MAX_DATA_BYTES,
  UNSUPPORTED_NIFTI_TYPES,
  VOXEL_TYPES,
  applyScaling,
  decodeVoxels,
  describeSize,
  littleEndianBytes,
  voxelTypeOfArray,
  voxelTypeOfNiftiCode,
  type VoxelTypeInfo,
} from './voxels.js';

const log = logger('io');

/** Options of {@link serializeNifti}. */
export interface NiftiWriteOptions {
  /** Compress as `.nii.gz`. */
  gzip: boolean;
  /** Deflate level 0..9 when compressing (default 6). */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
}

/** Grid of a header after validation: (x, y, z) voxel counts, frames and datatype. */
interface Layout {
  dims: Vec3;
  frames: number;
  type: VoxelTypeInfo;
  voxOffset: number;
}

/** NIfTI-1 units code for millimetres (xyzt_units). */
const UNITS_MM = 2;
/** `sform_code` / `qform_code` voxseg writes: NIFTI_XFORM_SCANNER_ANAT. */
const XFORM_SCANNER = 1;
/** Largest dimension NIfTI-1 can store (dims are int16). */
const NIFTI1_MAX_DIM = 32767;

/**
 * Parse a NIfTI-1 or NIfTI-2 file, gzip-compressed or not (detected by its magic bytes), in
 * either byte order.
 *
 * @param bytes - the whole file.
 * @param file - file name for messages.
 * @returns the volume: voxels in the file's datatype with `scl_slope`/`scl_inter` applied (a
 *   Float32Array, or Float64Array for float64 files, when the scaling is not the identity), the
 *   voxel-to-world affine, spacing in mm. Data is (frames, D, H, W) with W = x fastest.
 * @throws InputError naming the file, the header field and the value: truncated file or gzip
 *   stream, bad `sizeof_hdr` or magic, `dim[0]` outside 1..7, zero or negative dims, dims over
 *   4 GiB of data, unknown or unsupported datatype (RGB, complex, 64-bit integers), non-positive
 *   or non-finite pixdim, `vox_offset` beyond the file.
 * @example
 * const volume = parseNifti(new Uint8Array(await (await fetch(url)).arrayBuffer()), url);
 * volume.dims; // [256, 256, 256]
 */
export function parseNifti(bytes: Uint8Array, file: string): Volume {
  const raw = isGzip(bytes) ? gunzip(bytes, file) : bytes;
  const header = readNiftiHeader(raw, file);
  const layout = validateLayout(header, raw.length, file);
  const spacing = validateSpacing(header, file);

  const count = layout.dims[0] * layout.dims[1] * layout.dims[2] * layout.frames;
  const stored = decodeVoxels(raw, layout.voxOffset, count, layout.type, header.littleEndian);
  return {
    dims: layout.dims,
    frames: layout.frames,
    spacing,
    affine: chooseAffine(header, spacing, file),
    datatype: layout.type.name,
    data: applyScaling(stored, header.scl_slope, header.scl_inter),
    description: header.descrip,
  };
}

/**
 * Write a volume as a little-endian NIfTI-1 file. The datatype is that of `volume.data`'s typed
 * array (not `volume.datatype`), with no intensity scaling; the affine goes into the sform and,
 * when it is a rotation times the voxel sizes, into an equivalent qform; spacing into pixdim.
 * Header numbers are float32, so `parseNifti(serializeNifti(v))` gives back `v` exactly when its
 * affine and spacing are float32 values (always so for volumes read from NIfTI-1).
 *
 * @param options.gzip - compress (`.nii.gz`); `options.level` sets the deflate level.
 * @returns the file's bytes.
 * @throws InputError when dims exceed NIfTI-1's 32767, the data length does not match the
 *   dims, or the spacing or affine is not finite.
 * @example
 * const bytes = serializeNifti(labels, { gzip: true });
 */
export function serializeNifti(volume: Volume, options: NiftiWriteOptions): Uint8Array {
  const type = checkWritable(volume);
  const voxOffset = NIFTI1_LAYOUT.size + 4;
  const out = new Uint8Array(voxOffset + volume.data.byteLength);

  const view = new DataView(out.buffer);
  writeNiftiFields(view, NIFTI1_LAYOUT, headerFields(volume, type, voxOffset), true);
  out.set(littleEndianBytes(volume.data), voxOffset);
  return options.gzip ? gzip(out, options.level) : out;
}

function validateLayout(header: NiftiHeader, fileBytes: number, file: string): Layout {
  const rank = header.dim[0];
  if (!(Number.isInteger(rank) && rank >= 1 && rank <= 7)) {
    throw expected('a rank from 1 to 7', 'dim[0]', rank, { file });
  }
  for (let axis = 1; axis <= rank; axis++) {
    const n = header.dim[axis];
    if (!(Number.isInteger(n) && n > 0))
      throw expected('a positive size', `dim[${axis}]`, n, { file });
  }
  const size = (axis: number) => (axis <= rank ? header.dim[axis] : 1);
  const dims: Vec3 = [size(1), size(2), size(3)];
  const frames = [4, 5, 6, 7].reduce((product, axis) => product * size(axis), 1);

  const type = resolveType(header.datatype, file);
  checkDataSize(dims, frames, type, file);
  const voxOffset = resolveVoxOffset(header, fileBytes, file);
  checkFileLength({ dims, frames, type, voxOffset }, fileBytes, file);
  return { dims, frames, type, voxOffset };
}

function resolveType(code: number, file: string): VoxelTypeInfo {
  const type = voxelTypeOfNiftiCode(code);
  if (type) return type;
  const supported = VOXEL_TYPES.map((t) => `${t.niftiCode} (${t.name})`).join(', ');
  const unsupported = UNSUPPORTED_NIFTI_TYPES[code];
  if (unsupported) {
    throw expected(`a scalar datatype: ${supported}`, 'datatype', `${code} (${unsupported})`, {
      file,
      hint: `${unsupported} images are not supported; convert to a scalar type (int16, float32)`,
    });
  }
  throw expected(`a known NIfTI datatype code: ${supported}`, 'datatype', code, {
    file,
    hint: 'the header is corrupt or not NIfTI',
  });
}

function checkDataSize(dims: Vec3, frames: number, type: VoxelTypeInfo, file: string): void {
  const bytes = dims[0] * dims[1] * dims[2] * frames * type.bytes;
  if (bytes <= MAX_DATA_BYTES) return;
  throw expected(
    'at most 4 GiB of voxel data',
    'dim[1..7]',
    describeSize(dims, frames, type.name),
    {
      file,
      hint: 'the header is corrupt',
    },
  );
}

function resolveVoxOffset(header: NiftiHeader, fileBytes: number, file: string): number {
  const offset = header.vox_offset;
  const headerBytes = header.version === 1 ? 348 : 540;
  if (!(Number.isInteger(offset) && offset >= 0)) {
    throw expected('a whole, non-negative byte offset', 'vox_offset', offset, { file });
  }
  if (offset > fileBytes) {
    throw expected(`an offset within the file (${fileBytes} bytes)`, 'vox_offset', offset, {
      file,
      hint: 'the file is truncated or the header is corrupt',
    });
  }
  if (offset >= headerBytes) return offset;
  // Some writers leave vox_offset at 0 in single files; the voxels follow the extension flag.
  log.warn(
    `${file}: vox_offset ${offset} lies inside the header; reading voxels at ${headerBytes + 4}`,
  );
  return headerBytes + 4;
}

function checkFileLength(layout: Layout, fileBytes: number, file: string): void {
  const { dims, frames, type, voxOffset } = layout;
  const needed = voxOffset + dims[0] * dims[1] * dims[2] * frames * type.bytes;
  if (fileBytes >= needed) return;
  const size = describeSize(dims, frames, type.name);
  const what = `${needed} bytes (vox_offset ${voxOffset} + ${size})`;
  throw expected(what, 'file size', fileBytes, { file, hint: 'the file is truncated' });
}

function validateSpacing(header: NiftiHeader, file: string): Vec3 {
  const rank = header.dim[0];
  const spacing = [1, 2, 3].map((axis) => {
    const value = header.pixdim[axis];
    if (Number.isFinite(value) && value > 0) return value;
    if (axis > rank) return 1; // an axis the image does not have
    throw expected('a positive, finite voxel size in mm', `pixdim[${axis}]`, value, { file });
  });
  return spacing as Vec3;
}

function chooseAffine(header: NiftiHeader, spacing: Vec3, file: string): Mat4 {
  if (header.sform_code > 0) {
    const sform = [...header.srow, 0, 0, 0, 1];
    if (isUsable(sform)) return sform;
    const next = header.qform_code > 0 ? 'qform' : 'voxel sizes';
    log.warn(`${file}: sform is singular or not finite; using the ${next}`);
  }
  if (header.qform_code > 0) {
    const qform = qformAffine(header, spacing);
    if (isUsable(qform)) return qform;
    log.warn(`${file}: qform is not finite; using the voxel sizes`);
  }
  return affineFromSpacing(spacing);
}

function qformAffine(header: NiftiHeader, spacing: Vec3): Mat4 {
  const [b, c, d] = header.quatern;
  const qfac = header.pixdim[0] < 0 ? -1 : 1;
  const offset = header.qoffset as Vec3;
  return affineFromQuaternion({ b, c, d, qfac, spacing, offset });
}

function isUsable(affine: Mat4): boolean {
  if (!affine.every(Number.isFinite)) return false;
  try {
    invert4(affine);
    return true;
  } catch {
    return false;
  }
}

function checkWritable(volume: Volume): VoxelTypeInfo {
  const type = voxelTypeOfArray(volume.data);
  if (!type) throw expected('a voxel typed array', 'volume.data', volume.data?.constructor?.name);
  const extents = [...volume.dims, volume.frames];
  if (!extents.every((n) => Number.isInteger(n) && n >= 1 && n <= NIFTI1_MAX_DIM)) {
    throw expected(
      `sizes from 1 to ${NIFTI1_MAX_DIM} (NIfTI-1)`,
      'volume.dims and frames',
      extents,
    );
  }
  const count = extents.reduce((p, n) => p * n, 1);
  if (volume.data.length !== count) {
    throw expected(
      `${count} voxels (${extents.join('x')})`,
      'volume.data length',
      volume.data.length,
    );
  }
  if (!volume.spacing.every((s) => Number.isFinite(s) && s > 0)) {
    throw expected('positive, finite voxel sizes', 'volume.spacing', volume.spacing);
  }
  if (volume.affine.length !== 16 || !volume.affine.every(Number.isFinite)) {
    throw expected('16 finite numbers', 'volume.affine', volume.affine);
  }
  return type;
}

function headerFields(volume: Volume, type: VoxelTypeInfo, voxOffset: number): NiftiFields {
  const qform = equivalentQform(volume);
  const rank = volume.frames > 1 ? 4 : 3;
  return {
    sizeof_hdr: NIFTI1_LAYOUT.size,
    dim: [rank, ...volume.dims, volume.frames, 1, 1, 1],
    datatype: type.niftiCode,
    bitpix: type.bytes * 8,
    pixdim: [qform?.qfac ?? 1, ...volume.spacing, 1, 1, 1, 1],
    vox_offset: voxOffset,
    scl_slope: 1,
    scl_inter: 0,
    xyzt_units: UNITS_MM,
    descrip: volume.description,
    qform_code: qform ? XFORM_SCANNER : 0,
    sform_code: XFORM_SCANNER,
    quatern: qform ? [qform.b, qform.c, qform.d] : [0, 0, 0],
    qoffset: qform ? qform.offset : [0, 0, 0],
    srow: volume.affine.slice(0, 12),
    magic: 'n+1',
  };
}

/** The qform of the affine, when it is a rotation times the volume's voxel sizes. */
function equivalentQform(volume: Volume) {
  const qform = quaternionFromAffine(volume.affine);
  if (!qform) return null;
  const agrees = qform.spacing.every((s, i) => Math.abs(s - volume.spacing[i]) <= 1e-4 * s);
  return agrees ? qform : null;
}
