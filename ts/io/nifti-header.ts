/**
 * NIfTI-1 and NIfTI-2 header fields: byte layouts, reading in either byte order, and writing
 * (NIfTI-1). Only the fields voxseg uses are read; the rest keep their defaults on write.
 *
 * The version and byte order come from `sizeof_hdr`, the first four bytes: 348 for NIfTI-1,
 * 540 for NIfTI-2, in whichever byte order gives one of those values.
 */
import { expected } from '../engine/errors.js';

/** Storage of one header field. */
type FieldKind = 'u8' | 'i16' | 'i32' | 'i64' | 'f32' | 'f64' | 'str';

/** Offset, storage and element count (or string length in bytes) of one field. */
interface FieldSpec {
  offset: number;
  kind: FieldKind;
  count: number;
}

/** The fields voxseg reads, with their layout in one NIfTI version. */
export interface HeaderLayout {
  version: 1 | 2;
  /** sizeof_hdr: 348 or 540; the 4-byte extension flag follows the header. */
  size: number;
  fields: Record<keyof NiftiFields, FieldSpec>;
}

/** Header values as stored (numbers widened to double). */
export interface NiftiFields {
  sizeof_hdr: number;
  dim: number[];
  datatype: number;
  bitpix: number;
  pixdim: number[];
  vox_offset: number;
  scl_slope: number;
  scl_inter: number;
  xyzt_units: number;
  descrip: string;
  qform_code: number;
  sform_code: number;
  quatern: number[];
  qoffset: number[];
  srow: number[];
  magic: string;
}

/** A parsed header: its fields plus what the first bytes said about version and byte order. */
export interface NiftiHeader extends NiftiFields {
  version: 1 | 2;
  littleEndian: boolean;
}

const spec = (offset: number, kind: FieldKind, count = 1): FieldSpec => ({ offset, kind, count });

/** NIfTI-1 layout (348-byte header; voxels usually start at 352). */
export const NIFTI1_LAYOUT: HeaderLayout = {
  version: 1,
  size: 348,
  fields: {
    sizeof_hdr: spec(0, 'i32'),
    dim: spec(40, 'i16', 8),
    datatype: spec(70, 'i16'),
    bitpix: spec(72, 'i16'),
    pixdim: spec(76, 'f32', 8),
    vox_offset: spec(108, 'f32'),
    scl_slope: spec(112, 'f32'),
    scl_inter: spec(116, 'f32'),
    xyzt_units: spec(123, 'u8'),
    descrip: spec(148, 'str', 80),
    qform_code: spec(252, 'i16'),
    sform_code: spec(254, 'i16'),
    quatern: spec(256, 'f32', 3),
    qoffset: spec(268, 'f32', 3),
    srow: spec(280, 'f32', 12),
    magic: spec(344, 'str', 4),
  },
};

/** NIfTI-2 layout (540-byte header; 64-bit dims, offsets and floats). */
export const NIFTI2_LAYOUT: HeaderLayout = {
  version: 2,
  size: 540,
  fields: {
    sizeof_hdr: spec(0, 'i32'),
    magic: spec(4, 'str', 8),
    datatype: spec(12, 'i16'),
    bitpix: spec(14, 'i16'),
    dim: spec(16, 'i64', 8),
    pixdim: spec(104, 'f64', 8),
    vox_offset: spec(168, 'i64'),
    scl_slope: spec(176, 'f64'),
    scl_inter: spec(184, 'f64'),
    descrip: spec(240, 'str', 80),
    qform_code: spec(344, 'i32'),
    sform_code: spec(348, 'i32'),
    quatern: spec(352, 'f64', 3),
    qoffset: spec(376, 'f64', 3),
    srow: spec(400, 'f64', 12),
    xyzt_units: spec(500, 'i32'),
  },
};

/**
 * Read a NIfTI-1 or NIfTI-2 header from the start of `bytes` (already decompressed).
 *
 * @param file - file name for error messages.
 * @throws InputError when the bytes are too short for a header, `sizeof_hdr` is neither 348 nor
 *   540 in either byte order, or the magic string is not `n+1` / `n+2`.
 * @example
 * const header = readNiftiHeader(bytes, 'scan.nii');
 * header.dim; // [3, 256, 256, 256, 1, 1, 1, 1]
 */
export function readNiftiHeader(bytes: Uint8Array, file: string): NiftiHeader {
  if (bytes.length < 4) {
    throw expected('at least 348 bytes (a NIfTI header)', 'file size', bytes.length, { file });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { layout, littleEndian } = detectLayout(view, file);
  if (bytes.length < layout.size) {
    const what = `at least ${layout.size} bytes (a NIfTI-${layout.version} header)`;
    throw expected(what, 'file size', bytes.length, { file, hint: 'the file is truncated' });
  }
  const fields = readFields(view, layout, littleEndian) as unknown as NiftiFields;
  checkMagic(fields.magic, layout.version, file);
  return { ...fields, version: layout.version, littleEndian };
}

/**
 * Write header fields into `view` (which must hold at least `layout.size` bytes) in the given
 * byte order. Fields that `values` omits are left as they are.
 *
 * @example
 * const view = new DataView(new ArrayBuffer(352));
 * writeNiftiFields(view, NIFTI1_LAYOUT, { sizeof_hdr: 348, magic: 'n+1' }, true);
 */
export function writeNiftiFields(
  view: DataView,
  layout: HeaderLayout,
  values: Partial<NiftiFields>,
  littleEndian: boolean,
): void {
  for (const [name, value] of Object.entries(values)) {
    const field = layout.fields[name as keyof NiftiFields];
    if (typeof value === 'string') writeString(view, field, value);
    else if (typeof value === 'number') writeNumber(view, field, 0, value, littleEndian);
    else value?.forEach((v, i) => writeNumber(view, field, i, v, littleEndian));
  }
}

function detectLayout(
  view: DataView,
  file: string,
): { layout: HeaderLayout; littleEndian: boolean } {
  for (const littleEndian of [true, false]) {
    const size = view.getInt32(0, littleEndian);
    if (size === NIFTI1_LAYOUT.size) return { layout: NIFTI1_LAYOUT, littleEndian };
    if (size === NIFTI2_LAYOUT.size) return { layout: NIFTI2_LAYOUT, littleEndian };
  }
  throw expected('348 (NIfTI-1) or 540 (NIfTI-2)', 'sizeof_hdr', view.getInt32(0, true), {
    file,
    hint: 'this is not a NIfTI file',
  });
}

function checkMagic(magic: string, version: 1 | 2, file: string): void {
  const wanted = version === 1 ? 'n+1' : 'n+2';
  if (magic === wanted) return;
  const pair = magic === (version === 1 ? 'ni1' : 'ni2');
  const hint = pair
    ? 'a .hdr/.img pair: voxseg reads single-file .nii only; convert it to .nii'
    : 'this is not a NIfTI file (an Analyze 7.5 header has no magic; convert it to NIfTI)';
  throw expected(`'${wanted}'`, 'magic', magic, { file, hint });
}

function readFields(view: DataView, layout: HeaderLayout, littleEndian: boolean) {
  const out: Record<string, number | number[] | string> = {};
  for (const [name, field] of Object.entries(layout.fields)) {
    if (field.kind === 'str') out[name] = readString(view, field);
    else if (field.count === 1) out[name] = readNumber(view, field, 0, littleEndian);
    else
      out[name] = Array.from({ length: field.count }, (_, i) =>
        readNumber(view, field, i, littleEndian),
      );
  }
  return out;
}

const BYTES: Record<FieldKind, number> = { u8: 1, i16: 2, i32: 4, i64: 8, f32: 4, f64: 8, str: 1 };

function readNumber(view: DataView, field: FieldSpec, index: number, le: boolean): number {
  const at = field.offset + index * BYTES[field.kind];
  switch (field.kind) {
    case 'u8':
      return view.getUint8(at);
    case 'i16':
      return view.getInt16(at, le);
    case 'i32':
      return view.getInt32(at, le);
    case 'i64':
      return Number(view.getBigInt64(at, le));
    case 'f32':
      return view.getFloat32(at, le);
    default:
      return view.getFloat64(at, le);
  }
}

function writeNumber(view: DataView, field: FieldSpec, index: number, value: number, le: boolean) {
  const at = field.offset + index * BYTES[field.kind];
  switch (field.kind) {
    case 'u8':
      return view.setUint8(at, value);
    case 'i16':
      return view.setInt16(at, value, le);
    case 'i32':
      return view.setInt32(at, value, le);
    case 'i64':
      return view.setBigInt64(at, BigInt(Math.trunc(value)), le);
    case 'f32':
      return view.setFloat32(at, value, le);
    default:
      return view.setFloat64(at, value, le);
  }
}

/** A NUL-terminated (or full-length) byte string, bytes read as Latin-1. */
function readString(view: DataView, field: FieldSpec): string {
  let text = '';
  for (let i = 0; i < field.count; i++) {
    const code = view.getUint8(field.offset + i);
    if (code === 0) break;
    text += String.fromCharCode(code);
  }
  return text;
}

/** Write a string, cut to leave room for a terminating NUL, padded with NULs. */
function writeString(view: DataView, field: FieldSpec, text: string): void {
  for (let i = 0; i < field.count; i++) {
    const code = i < field.count - 1 && i < text.length ? text.charCodeAt(i) & 0xff : 0;
    view.setUint8(field.offset + i, code);
  }
}
