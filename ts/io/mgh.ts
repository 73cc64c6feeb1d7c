/**
 * FreeSurfer MGH volumes, `.mgh` or gzip-compressed `.mgz`: reading only. Core module: no Node
 * built-ins.
 *
 * Layout (big-endian): a 284-byte header, then the voxels (x fastest, frames last), then
 * optional tags that voxseg ignores. The header holds version (1), width, height, depth,
 * frames, type, dof (int32), goodRASflag (int16) and, when that flag is positive, the voxel
 * sizes, the direction cosines Mdc (columns x, y, z in RAS) and the world position c_ras of the
 * volume centre, voxel (width/2, height/2, depth/2) (float32).
 *
 * vox2ras = [Mdc * diag(sizes) | c_ras - Mdc * diag(sizes) * (width/2, height/2, depth/2)].
 * Without a valid RAS block FreeSurfer's default applies: 1 mm, LIA, centred on the origin.
 */
import { expected } from '../engine/errors.js';
import type { Mat4, Vec3 } from './affine.js';
import { gunzip, isGzip } from './gzip.js';
import type { Volume, VoxelType } from './volume.js';
import { MAX_DATA_BYTES, decodeVoxels, describeSize, voxelTypeByName } from './voxels.js';

/** Size of the MGH header: the voxels start here. */
export const MGH_HEADER_BYTES = 284;

/** MGH type codes voxseg reads, and their voxel types. */
const MGH_TYPES: Readonly<Record<number, VoxelType>> = {
  0: 'uint8',
  1: 'int32',
  3: 'float32',
  4: 'int16',
};

/** Other MGH type codes, named in messages. */
const UNSUPPORTED_MGH_TYPES: Readonly<Record<number, string>> = {
  2: 'long',
  5: 'bitmap',
  6: 'tensor',
  10: 'ushort',
};

/** FreeSurfer's geometry when the header has no valid RAS block: 1 mm LIA at the origin. */
const DEFAULT_RAS = {
  sizes: [1, 1, 1] as Vec3,
  columns: [
    [-1, 0, 0],
    [0, 0, -1],
    [0, 1, 0],
  ],
  centre: [0, 0, 0] as Vec3,
};

/** The header fields voxseg uses. */
interface MghHeader {
  version: number;
  dims: Vec3;
  frames: number;
  type: number;
  goodRas: number;
  sizes: Vec3;
  /** Direction cosines of the x, y and z voxel axes, each (r, a, s). */
  columns: number[][];
  centre: Vec3;
}

/**
 * Parse a FreeSurfer `.mgh` file, or a `.mgz` (gzip detected by its magic bytes).
 *
 * @param bytes - the whole file.
 * @param file - file name for messages.
 * @returns the volume, data (frames, D, H, W) with W = x fastest, in the file's type (uchar ->
 *   uint8, short -> int16, int -> int32, float -> float32), affine from Mdc, sizes and c_ras.
 * @throws InputError naming the file, the header field and the value: truncated file or gzip
 *   stream, version other than 1, zero or negative dims, unknown or unsupported type, voxel sizes
 *   that are not positive and finite.
 * @example
 * const norm = parseMgh(new Uint8Array(await readFile('norm.mgz')), 'norm.mgz');
 * norm.dims; // [256, 256, 256]
 */
export function parseMgh(bytes: Uint8Array, file: string): Volume {
  const raw = isGzip(bytes) ? gunzip(bytes, file) : bytes;
  const header = readMghHeader(raw, file);
  const type = resolveType(header.type, file);
  checkLength(header, type, raw.length, file);

  const count = header.dims[0] * header.dims[1] * header.dims[2] * header.frames;
  const info = voxelTypeByName(type);
  return {
    dims: header.dims,
    frames: header.frames,
    spacing: [...header.sizes],
    affine: vox2ras(header),
    datatype: type,
    data: decodeVoxels(raw, MGH_HEADER_BYTES, count, info, false),
    description: '',
  };
}

function readMghHeader(bytes: Uint8Array, file: string): MghHeader {
  if (bytes.length < MGH_HEADER_BYTES) {
    throw expected(
      `at least ${MGH_HEADER_BYTES} bytes (an MGH header)`,
      'file size',
      bytes.length,
      {
        file,
        hint: 'the file is truncated',
      },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const int = (offset: number) => view.getInt32(offset, false);
  const float = (offset: number) => view.getFloat32(offset, false);
  const vec = (offset: number): Vec3 => [float(offset), float(offset + 4), float(offset + 8)];

  const header: MghHeader = {
    version: int(0),
    dims: [int(4), int(8), int(12)],
    frames: int(16),
    type: int(20),
    goodRas: view.getInt16(28, false),
    ...DEFAULT_RAS,
  };
  if (header.goodRas > 0) {
    Object.assign(header, {
      sizes: vec(30),
      columns: [vec(42), vec(54), vec(66)],
      centre: vec(78),
    });
  }
  validateHeader(header, file);
  return header;
}

function validateHeader(header: MghHeader, file: string): void {
  if (header.version !== 1) {
    throw expected('1', 'version', header.version, { file, hint: 'this is not an MGH file' });
  }
  const sizes = [...header.dims, header.frames];
  ['width', 'height', 'depth', 'nframes'].forEach((field, i) => {
    if (sizes[i] <= 0) throw expected('a positive size', field, sizes[i], { file });
  });
  ['xsize', 'ysize', 'zsize'].forEach((field, i) => {
    const size = header.sizes[i];
    if (!(Number.isFinite(size) && size > 0)) {
      throw expected('a positive, finite voxel size in mm', field, size, { file });
    }
  });
  const geometry = [...header.columns.flat(), ...header.centre];
  if (!geometry.every(Number.isFinite)) {
    throw expected('finite direction cosines and centre', 'Mdc and c_ras', geometry, { file });
  }
}

function resolveType(code: number, file: string): VoxelType {
  const type = MGH_TYPES[code];
  if (type) return type;
  const supported = '0 (uchar), 1 (int), 3 (float), 4 (short)';
  const name = UNSUPPORTED_MGH_TYPES[code];
  if (name) {
    throw expected(`an MGH type voxseg reads: ${supported}`, 'type', `${code} (${name})`, {
      file,
      hint: `${name} volumes are not supported; convert with mri_convert -odt float`,
    });
  }
  throw expected(`a known MGH type code: ${supported}`, 'type', code, { file });
}

function checkLength(header: MghHeader, type: VoxelType, fileBytes: number, file: string): void {
  const [w, h, d] = header.dims;
  const dataBytes = w * h * d * header.frames * voxelTypeByName(type).bytes;
  const size = describeSize(header.dims, header.frames, type);
  if (dataBytes > MAX_DATA_BYTES) {
    throw expected('at most 4 GiB of voxel data', 'width, height, depth, nframes', size, {
      file,
      hint: 'the header is corrupt',
    });
  }
  const needed = MGH_HEADER_BYTES + dataBytes;
  if (fileBytes < needed) {
    throw expected(`${needed} bytes (header + ${size})`, 'file size', fileBytes, {
      file,
      hint: 'the file is truncated',
    });
  }
}

/** vox2ras = [Mdc * D | c_ras - Mdc * D * dims / 2]. */
function vox2ras(header: MghHeader): Mat4 {
  const half = header.dims.map((n) => n / 2);
  const affine: Mat4 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  for (let r = 0; r < 3; r++) {
    let centreOffset = 0;
    for (let c = 0; c < 3; c++) {
      affine[r * 4 + c] = header.columns[c][r] * header.sizes[c];
      centreOffset += affine[r * 4 + c] * half[c];
    }
    affine[r * 4 + 3] = header.centre[r] - centreOffset;
  }
  return affine;
}
