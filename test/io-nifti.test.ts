/** NIfTI-1/2 reading and writing on files built field by field: types, byte orders, geometry. */
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { affineFromQuaternion } from '../ts/io/affine.js';
import { parseNifti, serializeNifti } from '../ts/io/nifti.js';
import type { Volume, VoxelArray } from '../ts/io/volume.js';
import { VOXEL_TYPES, countNonFinite } from '../ts/io/voxels.js';
import { buildNifti } from './fixtures/io/build.js';
import { rng } from './helpers/random.js';

/** An oblique rotation (about 20 degrees about a tilted axis) times voxel sizes, float32 exact. */
function obliqueAffine(spacing: [number, number, number]): number[] {
  const affine = affineFromQuaternion({
    b: 0.1,
    c: -0.12,
    d: 0.08,
    qfac: -1,
    spacing,
    offset: [-90.25, 102.5, -71.75],
  });
  return affine.map((v, i) => (i >= 12 ? v : Math.fround(v)));
}

/** Seeded values spanning most of a type's range, never all equal. */
function sampleValues(name: string, length: number, seed: number): number[] {
  const next = rng(seed);
  const ranges: Record<string, [number, number]> = {
    uint8: [0, 255],
    int8: [-128, 127],
    int16: [-32768, 32767],
    uint16: [0, 65535],
    int32: [-2147483648, 2147483647],
  };
  const range = ranges[name];
  if (range)
    return Array.from({ length }, () => range[0] + Math.floor(next() * (range[1] - range[0] + 1)));
  const values = Array.from({ length }, () => (next() - 0.5) * 1e4);
  return name === 'float32' ? values.map(Math.fround) : values;
}

function volumeOf(data: VoxelArray, dims: [number, number, number], frames = 1): Volume {
  const spacing: [number, number, number] = [0.75, 1.25, 2.5];
  return {
    dims,
    frames,
    spacing,
    affine: obliqueAffine(spacing),
    datatype: VOXEL_TYPES.find((t) => data instanceof t.array)!.name,
    data,
    description: 'voxseg round trip',
  };
}

function expectSameVolume(got: Volume, want: Volume): void {
  expect(got.dims).toEqual(want.dims);
  expect(got.frames).toBe(want.frames);
  expect(got.spacing).toEqual(want.spacing);
  expect(got.affine).toEqual(want.affine);
  expect(got.datatype).toBe(want.datatype);
  expect(got.description).toBe(want.description);
  expect(got.data.constructor).toBe(want.data.constructor);
  expect(Array.from(got.data)).toEqual(Array.from(want.data));
}

describe('NIfTI round trips', () => {
  for (const type of VOXEL_TYPES) {
    for (const gzip of [false, true]) {
      it(`keeps ${type.name} voxels and geometry exactly (${gzip ? '.nii.gz' : '.nii'})`, () => {
        const dims: [number, number, number] = [5, 4, 3];
        const data = type.array.from(sampleValues(type.name, 60, type.niftiCode));
        const volume = volumeOf(data, dims);
        const bytes = serializeNifti(volume, { gzip });
        expect(bytes[0] === 0x1f && bytes[1] === 0x8b).toBe(gzip);
        expectSameVolume(parseNifti(bytes, 'round.nii'), volume);
      });
    }
  }

  it('keeps 4D frames', () => {
    const data = Float32Array.from(sampleValues('float32', 3 * 2 * 2 * 4, 5));
    const volume = volumeOf(data, [3, 2, 2], 4);
    expectSameVolume(parseNifti(serializeNifti(volume, { gzip: false }), '4d.nii'), volume);
  });

  it('writes a qform equivalent to the sform for a rotation + scaling', () => {
    const volume = volumeOf(new Int16Array(24).fill(7), [4, 3, 2]);
    const bytes = serializeNifti(volume, { gzip: false });
    const view = new DataView(bytes.buffer);
    expect(view.getInt16(252, true)).toBe(1); // qform_code
    expect(view.getFloat32(76, true)).toBe(-1); // qfac: the oblique affine is left-handed
    view.setInt16(254, 0, true); // sform_code = 0: the reader must fall back to the qform
    const fromQform = parseNifti(bytes, 'qform.nii').affine;
    fromQform.forEach((v, i) => expect(v).toBeCloseTo(volume.affine[i], 4));
  });

  it('writes no qform for a sheared affine', () => {
    const volume = volumeOf(new Uint8Array(8).fill(1), [2, 2, 2]);
    volume.affine = [1, 0.5, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    volume.spacing = [1, Math.fround(Math.hypot(1, 0.5)), 1];
    const bytes = serializeNifti(volume, { gzip: false });
    expect(new DataView(bytes.buffer).getInt16(252, true)).toBe(0);
    expectSameVolume(parseNifti(bytes, 'shear.nii'), volume);
  });

  it('rejects a volume whose data does not match its dims', () => {
    const volume = volumeOf(new Uint8Array(7), [2, 2, 2]);
    expect(() => serializeNifti(volume, { gzip: false })).toThrow(
      /expected 8 voxels \(2x2x2x1\) for volume.data length, received 7/,
    );
  });
});

describe('NIfTI byte orders and versions', () => {
  const dim = [3, 3, 2, 2];
  for (const type of VOXEL_TYPES) {
    it(`reads ${type.name} big- and little-endian, NIfTI-1 and NIfTI-2, alike`, () => {
      const values = sampleValues(type.name, 12, 100 + type.niftiCode);
      for (const version of [1, 2] as const) {
        for (const littleEndian of [true, false]) {
          const bytes = buildNifti({
            version,
            littleEndian,
            dim,
            datatype: type.niftiCode,
            data: values,
          });
          const volume = parseNifti(bytes, `${version}-${littleEndian}.nii`);
          expect(volume.datatype).toBe(type.name);
          expect(volume.data).toBeInstanceOf(type.array);
          expect(Array.from(volume.data)).toEqual(values);
        }
      }
    });
  }

  it('reads a NIfTI-2 sform in double precision and a NIfTI-2 qform', () => {
    const srow = [0.1, 0, 0, -12.3456789012, 0, 0.2, 0, 7.1, 0, 0, 0.3, 1e-9];
    const pixdim = [1, 0.1, 0.2, 0.3];
    for (const littleEndian of [true, false]) {
      const spec = {
        version: 2 as const,
        littleEndian,
        dim: [3, 2, 2, 2],
        datatype: 16,
        pixdim,
        srow,
      };
      const sform = parseNifti(
        buildNifti({ ...spec, sformCode: 1, data: new Array(8).fill(1) }),
        'n2',
      );
      expect(sform.affine).toEqual([...srow, 0, 0, 0, 1]);
      expect(sform.spacing).toEqual([0.1, 0.2, 0.3]);
      const qform = parseNifti(
        buildNifti({ ...spec, qformCode: 1, qoffset: [1, 2, 3], data: new Array(8).fill(2) }),
        'n2',
      );
      expect(qform.affine).toEqual([0.1, 0, 0, 1, 0, 0.2, 0, 2, 0, 0, 0.3, 3, 0, 0, 0, 1]);
    }
  });

  it('decompresses .nii.gz, including multi-member gzip streams', () => {
    const bytes = buildNifti({ dim: [3, 4, 1, 1], datatype: 2, data: [9, 8, 7, 6] });
    expect(Array.from(parseNifti(gzipSync(bytes), 'a.nii.gz').data)).toEqual([9, 8, 7, 6]);
    const [head, tail] = [gzipSync(bytes.subarray(0, 100)), gzipSync(bytes.subarray(100))];
    const joined = new Uint8Array([...head, ...tail]);
    expect(Array.from(parseNifti(joined, 'b.nii.gz').data)).toEqual([9, 8, 7, 6]);
  });
});

describe('NIfTI scaling and geometry', () => {
  const dim = [3, 2, 2, 1];

  it('applies scl_slope and scl_inter, as float32 (float64 for float64 data)', () => {
    const int16 = parseNifti(
      buildNifti({ dim, datatype: 4, slope: 2.5, inter: -10, data: [0, 1, -2, 400] }),
      's',
    );
    expect(int16.data).toBeInstanceOf(Float32Array);
    expect(Array.from(int16.data)).toEqual([-10, -7.5, -15, 990]);
    expect(int16.datatype).toBe('int16');
    const f64 = parseNifti(
      buildNifti({ dim, datatype: 64, slope: 0.1, inter: 1, data: [1, 2, 3, 4] }),
      'd',
    );
    expect(f64.data).toBeInstanceOf(Float64Array);
    expect(Array.from(f64.data)).toEqual([1, 2, 3, 4].map((v) => v * Math.fround(0.1) + 1));
  });

  it('ignores a slope of 0 or NaN (no scaling)', () => {
    for (const slope of [0, NaN]) {
      const volume = parseNifti(
        buildNifti({ dim, datatype: 4, slope, inter: 5, data: [1, 2, 3, 4] }),
        's',
      );
      expect(volume.data).toBeInstanceOf(Int16Array);
      expect(Array.from(volume.data)).toEqual([1, 2, 3, 4]);
    }
  });

  it('takes the sform when sform_code > 0, even if qform_code is larger', () => {
    const srow = [5, 0, 0, 1, 0, 5, 0, 2, 0, 0, 5, 3];
    const spec = {
      dim,
      datatype: 2,
      data: [1, 2, 3, 4],
      srow,
      quatern: [0, 0, 1],
      qoffset: [7, 8, 9],
    };
    const volume = parseNifti(buildNifti({ ...spec, sformCode: 1, qformCode: 2 }), 's');
    expect(volume.affine).toEqual([...srow, 0, 0, 0, 1]);
  });

  it('takes the qform (quaternion, qfac) when sform_code is 0', () => {
    // b=0, c=1, d=0: 180 degrees about y, i.e. diag(-1, 1, -1); qfac -1 flips k: diag(-2, 2, 2).
    const pixdim = [-1, 2, 2, 2];
    const spec = {
      dim,
      datatype: 2,
      data: [1, 2, 3, 4],
      pixdim,
      quatern: [0, 1, 0],
      qoffset: [32, -40, -16],
    };
    const volume = parseNifti(buildNifti({ ...spec, qformCode: 1 }), 'q');
    expect(volume.affine).toEqual([-2, 0, 0, 32, 0, 2, 0, -40, 0, 0, 2, -16, 0, 0, 0, 1]);
    expect(volume.spacing).toEqual([2, 2, 2]);
  });

  it('falls back to the voxel sizes when neither transform is set', () => {
    const volume = parseNifti(
      buildNifti({ dim, datatype: 2, data: [1, 2, 3, 4], pixdim: [1, 2, 3, 4] }),
      'p',
    );
    expect(volume.affine).toEqual([2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4, 0, 0, 0, 0, 1]);
  });

  it('reads a 2D image whose missing axes have pixdim 0, and a vox_offset of 0', () => {
    const bytes = buildNifti({
      dim: [2, 2, 2, 0],
      datatype: 2,
      pixdim: [1, 0.5, 0.5, 0],
      data: [1, 2, 3, 4],
    });
    new DataView(bytes.buffer).setFloat32(108, 0, true); // vox_offset 0: voxels follow at 352
    const volume = parseNifti(bytes, '2d.nii');
    expect(volume.dims).toEqual([2, 2, 1]);
    expect(volume.spacing).toEqual([0.5, 0.5, 1]);
    expect(Array.from(volume.data)).toEqual([1, 2, 3, 4]);
  });

  it('counts NaN and infinite voxels', () => {
    const volume = parseNifti(buildNifti({ dim, datatype: 16, data: [1, NaN, Infinity, -2] }), 'n');
    expect(countNonFinite(volume)).toBe(2);
    expect(countNonFinite({ data: new Int16Array(4) })).toBe(0);
  });
});

describe('NIfTI bad input', () => {
  const good = { dim: [3, 4, 3, 2], datatype: 4, data: new Array(24).fill(3) };
  const parse =
    (bytes: Uint8Array, file = 'bad.nii') =>
    () =>
      parseNifti(bytes, file);

  it('rejects a truncated .nii.gz', () => {
    const gz = gzipSync(buildNifti(good));
    expect(parse(gz.subarray(0, 40), 'cut.nii.gz')).toThrow(
      'cut.nii.gz: expected a complete gzip stream for compressed data, ' +
        "received '40 bytes that end mid-stream' (the file is truncated",
    );
    // Only the trailer is cut: inflating succeeds, the size/CRC check must not.
    expect(parse(gz.subarray(0, gz.length - 3), 'tail.nii.gz')).toThrow(
      /^tail\.nii\.gz: expected .*gzip trailer/,
    );
  });

  it('rejects a corrupt gzip CRC', () => {
    const gz = gzipSync(buildNifti(good));
    gz[gz.length - 6] ^= 0xff;
    expect(parse(gz, 'crc.nii.gz')).toThrow(
      /crc\.nii\.gz: expected a matching CRC-32 for gzip trailer/,
    );
  });

  it('rejects data shorter than the header says, and a short header', () => {
    const bytes = buildNifti(good);
    expect(parse(bytes.subarray(0, bytes.length - 1))).toThrow(
      'bad.nii: expected 400 bytes (vox_offset 352 + 4x3x2 int16 (48 bytes)) for file size, ' +
        'received 399 (the file is truncated)',
    );
    expect(parse(bytes.subarray(0, 200))).toThrow(
      /expected at least 348 bytes \(a NIfTI-1 header\) for file size, received 200/,
    );
  });

  it('rejects a bad sizeof_hdr or magic', () => {
    const bytes = buildNifti(good);
    new DataView(bytes.buffer).setInt32(0, 349, true);
    expect(parse(bytes)).toThrow(
      /expected 348 \(NIfTI-1\) or 540 \(NIfTI-2\) for sizeof_hdr, received 349/,
    );
    expect(parse(buildNifti({ ...good, magic: 'xyz' }))).toThrow(
      /expected 'n\+1' for magic, received 'xyz'/,
    );
    expect(parse(buildNifti({ ...good, magic: 'ni1' }))).toThrow(/\.hdr\/\.img pair/);
  });

  it('rejects a zero dim', () => {
    expect(parse(buildNifti({ ...good, dim: [3, 4, 0, 2] }))).toThrow(
      /^bad\.nii: expected a positive size for dim\[2\], received 0$/,
    );
  });

  it('rejects a negative dim, in NIfTI-1 and NIfTI-2 (64-bit)', () => {
    expect(parse(buildNifti({ ...good, dim: [3, 4, 3, -2] }))).toThrow(
      /expected a positive size for dim\[3\], received -2/,
    );
    expect(
      parse(buildNifti({ ...good, version: 2, littleEndian: false, dim: [3, -1, 3, 2] })),
    ).toThrow(/expected a positive size for dim\[1\], received -1/);
  });

  it('rejects dim[0] outside 1..7 and dims making an absurd size', () => {
    expect(parse(buildNifti({ ...good, dim: [9, 4, 3, 2] }))).toThrow(
      /expected a rank from 1 to 7 for dim\[0\], received 9/,
    );
    const huge = buildNifti({ ...good, version: 2, dim: [3, 100000, 100000, 100000] });
    expect(parse(huge)).toThrow(
      "expected at most 4 GiB of voxel data for dim[1..7], received '100000x100000x100000 int16",
    );
  });

  it('rejects an unknown datatype code, naming it', () => {
    expect(parse(buildNifti({ ...good, datatype: 3 }))).toThrow(
      /expected a known NIfTI datatype code: 2 \(uint8\), .* for datatype, received 3 \(/,
    );
  });

  it('rejects RGB and complex images, saying they are unsupported', () => {
    expect(parse(buildNifti({ ...good, datatype: 128 }))).toThrow(
      /for datatype, received '128 \(RGB24\)' \(RGB24 images are not supported/,
    );
    expect(parse(buildNifti({ ...good, datatype: 32 }))).toThrow(/received '32 \(complex64\)'/);
    expect(parse(buildNifti({ ...good, datatype: 1024 }))).toThrow(/received '1024 \(int64\)'/);
  });

  it('rejects non-positive or non-finite pixdim', () => {
    for (const [value, shown] of [
      [0, '0'],
      [-1, '-1'],
      [NaN, 'NaN'],
      [Infinity, 'Infinity'],
    ] as const) {
      const bytes = buildNifti({ ...good, pixdim: [1, 1, value, 1] });
      expect(parse(bytes)).toThrow(
        `expected a positive, finite voxel size in mm for pixdim[2], received ${shown}`,
      );
    }
  });

  it('rejects a vox_offset past the end of the file', () => {
    const bytes = buildNifti({ ...good, data: [], voxOffset: 352 });
    new DataView(bytes.buffer).setFloat32(108, 100000, true);
    expect(parse(bytes)).toThrow(
      /expected an offset within the file \(352 bytes\) for vox_offset, received 100000/,
    );
  });
});
