/** Reading the shared real volumes: byte order, qform-only headers, MGZ, CT Hounsfield units. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMgh } from '../ts/io/mgh.js';
import { parseNifti } from '../ts/io/nifti.js';
import type { Volume } from '../ts/io/volume.js';
import { buildMgh } from './fixtures/io/build.js';
import { dataPath, missingData } from './helpers/data.js';
import { expectClose } from './helpers/compare.js';

const read = (relative: string) => new Uint8Array(readFileSync(dataPath(relative)));
const nifti = (relative: string) => parseNifti(read(relative), relative);

function range(volume: Volume): [number, number] {
  let [min, max] = [Infinity, -Infinity];
  for (const v of volume.data) [min, max] = [Math.min(min, v), Math.max(max, v)];
  return [min, max];
}

describe.skipIf(missingData('monai/anatomical.nii', 'monai/anatomical_label.nii.gz'))(
  'MONAI anatomical.nii (big-endian NIfTI-1)',
  () => {
    it('reads int16 voxels equal to a manual big-endian read', () => {
      const bytes = read('monai/anatomical.nii');
      const volume = nifti('monai/anatomical.nii');
      expect(volume.dims).toEqual([33, 41, 25]);
      expect(volume.datatype).toBe('int16');
      expect(volume.spacing).toEqual([2, 2, 2]);
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      const voxOffset = view.getFloat32(108, false); // big-endian header
      expect(voxOffset).toBe(352);
      for (const [x, y, z] of [
        [0, 0, 0],
        [16, 20, 12],
        [32, 40, 24],
        [5, 33, 7],
        [20, 9, 18],
      ]) {
        const index = x + 33 * (y + 41 * z);
        expect(volume.data[index]).toBe(view.getInt16(voxOffset + 2 * index, false));
      }
      expect(range(volume)).toEqual([-610, 30393]);
    });

    it('has the same grid as its qform-only label file', () => {
      const image = nifti('monai/anatomical.nii');
      const label = nifti('monai/anatomical_label.nii.gz');
      expect(label.dims).toEqual(image.dims);
      expect(label.datatype).toBe('uint16');
      expect(label.affine).toEqual(image.affine);
      expect(image.affine).toEqual([-2, 0, 0, 32, 0, 2, 0, -40, 0, 0, 2, -16, 0, 0, 0, 1]);
    });
  },
);

describe.skipIf(missingData('niivue/norm.mgz', 'derived/fs_norm.nii.gz'))('FreeSurfer MGZ', () => {
  it('norm.mgz gives the voxels and affine of its NIfTI conversion', () => {
    const mgz = parseMgh(read('niivue/norm.mgz'), 'norm.mgz');
    const nii = nifti('derived/fs_norm.nii.gz');
    expect(mgz.dims).toEqual([256, 256, 256]);
    expect(mgz.datatype).toBe('uint8');
    expectClose(mgz.affine, nii.affine, { atol: 1e-4, rtol: 0 }, 'affine');
    expectClose(mgz.spacing, nii.spacing, { atol: 1e-4, rtol: 0 }, 'spacing');
    expect(Buffer.from(mgz.data.buffer).equals(Buffer.from(nii.data.buffer))).toBe(true);
  });

  it.skipIf(missingData('niivue/aparc.a2009s+aseg.mgz', 'derived/fs_aparc.a2009s+aseg.nii.gz'))(
    'aparc+aseg.mgz gives the labels of its NIfTI conversion',
    () => {
      const mgz = parseMgh(read('niivue/aparc.a2009s+aseg.mgz'), 'aparc.mgz');
      const nii = nifti('derived/fs_aparc.a2009s+aseg.nii.gz');
      expectClose(mgz.affine, nii.affine, { atol: 1e-4, rtol: 0 }, 'affine');
      expect(mgz.data.length).toBe(nii.data.length);
      expectClose(mgz.data, nii.data, { atol: 0, rtol: 0 }, 'labels');
      expect(range(mgz)[1]).toBeGreaterThan(10000); // a2009s cortical labels are 11xxx / 12xxx
    },
  );
});

describe('MGH files built in the test', () => {
  const data = [1, -2, 3, -4, 5, -6, 7, -8];

  it('reads short, int and float voxels and the vox2ras from Mdc, sizes and c_ras', () => {
    const mdc = [
      [0, 0, 1],
      [-1, 0, 0],
      [0, -1, 0],
    ]; // x -> S, y -> L, z -> P
    const spec = {
      dims: [2, 2, 2] as [number, number, number],
      sizes: [1, 2, 3],
      mdc,
      centre: [10, 20, 30],
    };
    for (const [type, name] of [
      [4, 'int16'],
      [1, 'int32'],
      [3, 'float32'],
    ] as const) {
      const volume = parseMgh(buildMgh({ ...spec, type, data }), 'x.mgh');
      expect(volume.datatype).toBe(name);
      expect(Array.from(volume.data)).toEqual(data);
      // columns: Mdc * sizes; offset: c_ras - M * (1, 1, 1)
      expect(volume.affine).toEqual([0, -2, 0, 12, 0, 0, -3, 23, 1, 0, 0, 29, 0, 0, 0, 1]);
    }
  });

  it("uses FreeSurfer's default geometry when goodRASflag is 0", () => {
    const volume = parseMgh(
      buildMgh({ dims: [2, 2, 2], type: 0, goodRas: false, sizes: [5, 5, 5], data }),
      'x',
    );
    expect(volume.affine).toEqual([-1, 0, 0, 1, 0, 0, 1, -1, 0, -1, 0, 1, 0, 0, 0, 1]);
    expect(volume.spacing).toEqual([1, 1, 1]);
  });

  it('rejects bad headers naming the field', () => {
    const parse = (spec: Parameters<typeof buildMgh>[0]) => () =>
      parseMgh(buildMgh(spec), 'bad.mgh');
    expect(parse({ dims: [2, 2, 2], type: 0, version: 2, data })).toThrow(
      /bad\.mgh: expected 1 for version, received 2/,
    );
    expect(parse({ dims: [2, 0, 2], type: 0, data })).toThrow(
      /expected a positive size for height, received 0/,
    );
    expect(parse({ dims: [2, 2, 2], type: 6, data })).toThrow(/for type, received '6 \(tensor\)'/);
    expect(parse({ dims: [2, 2, 2], type: 7, data })).toThrow(
      /expected a known MGH type code.* received 7/,
    );
    expect(parse({ dims: [2, 2, 2], type: 0, sizes: [1, 0, 1], data })).toThrow(
      /for ysize, received 0/,
    );
    expect(parse({ dims: [2, 2, 3], type: 0, data })).toThrow(
      /expected 296 bytes .* for file size, received 292/,
    );
  });
});

describe.skipIf(missingData('totalsegmentator/example_ct_sm.nii.gz'))('TotalSegmentator CT', () => {
  it('reads as int16 Hounsfield units with a CT range', () => {
    const ct = nifti('totalsegmentator/example_ct_sm.nii.gz');
    expect(ct.dims).toEqual([122, 101, 30]);
    expect(ct.datatype).toBe('int16');
    expect(ct.data).toBeInstanceOf(Int16Array);
    expect(ct.spacing).toEqual([3, 3, 3]);
    const [min, max] = range(ct);
    expect(min).toBeGreaterThanOrEqual(-1100); // air and padding
    expect(min).toBeLessThanOrEqual(-1000);
    expect(max).toBeGreaterThan(700); // bone
    expect(max).toBeLessThan(3100);
    const air = ct.data.filter((v) => v < -900).length / ct.data.length;
    const soft = ct.data.filter((v) => v > -100 && v < 100).length / ct.data.length;
    expect(air).toBeGreaterThan(0.1);
    expect(soft).toBeGreaterThan(0.1);
  });
});
