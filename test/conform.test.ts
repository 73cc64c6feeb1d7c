/**
 * Conforming to 256^3, 1 mm, LIA, uint8: the centre convention, voxel-exact results for inputs
 * that already are conformed (in any storage order or type), exact label round trips, the
 * intensity rule, and real non-conformed inputs.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { multiply4, orientationCode, transformPoint } from '../ts/io/affine.js';
import { parseNifti } from '../ts/io/nifti.js';
import type { Volume, VoxelArray } from '../ts/io/volume.js';
import {
  applyIntensityMapping,
  conformVolume,
  conformedAffine,
  isConformed,
  robustIntensityMapping,
} from '../ts/pipeline/conform.js';
import { expectEqualArrays } from './helpers/compare.js';
import { dataPath, missingData } from './helpers/data.js';
import { rng } from './helpers/random.js';

const WORLD_PAIRS = ['RL', 'AP', 'SI'];
const worldAxis = (letter: string) => WORLD_PAIRS.findIndex((pair) => pair.includes(letter));

/**
 * The same image stored in another orientation: a permutation and flips of the voxel axes,
 * with the affine changed so every voxel keeps its world position. Independent of the code
 * under test (it works from the orientation letters the test states).
 */
function reorient(source: Volume, sourceCode: string, code: string): Volume {
  const map = [...code].map((letter) => {
    const axis = [...sourceCode].findIndex((l) => worldAxis(l) === worldAxis(letter));
    return { axis, flip: sourceCode[axis] !== letter };
  });
  const dims = map.map(({ axis }) => source.dims[axis]) as Volume['dims'];
  // targetToSource: column a is +-e(axis); flipped axes add (n - 1) to the offset.
  const toSource = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  map.forEach(({ axis, flip }, a) => {
    toSource[axis * 4 + a] = flip ? -1 : 1;
    toSource[axis * 4 + 3] = flip ? dims[a] - 1 : 0;
  });
  const data = permuteData(source.data, source.dims, dims, map);
  const spacing = map.map(({ axis }) => source.spacing[axis]) as Volume['spacing'];
  return { ...source, dims, spacing, affine: multiply4(source.affine, toSource), data };
}

function permuteData(
  data: VoxelArray,
  sourceDims: number[],
  dims: number[],
  map: { axis: number; flip: boolean }[],
): VoxelArray {
  const out = new (data.constructor as new (n: number) => VoxelArray)(data.length);
  const strides = [1, sourceDims[0], sourceDims[0] * sourceDims[1]];
  const step = map.map(({ axis, flip }) => (flip ? -strides[axis] : strides[axis]));
  const start = map.reduce(
    (sum, { axis, flip }, a) => sum + (flip ? (dims[a] - 1) * strides[axis] : 0),
    0,
  );
  let index = 0;
  for (let k = 0; k < dims[2]; k++) {
    for (let j = 0; j < dims[1]; j++) {
      const row = start + j * step[1] + k * step[2];
      for (let i = 0; i < dims[0]; i++) out[index++] = data[row + i * step[0]];
    }
  }
  return out;
}

/** A 1 mm LIA volume of seeded int16 values with its centre at world (-0.5, 4.5, 6.5). */
function liaVolume(dims: Volume['dims'], seed: number): Volume {
  const next = rng(seed);
  const data = Int16Array.from(
    { length: dims[0] * dims[1] * dims[2] },
    () => 200 + Math.floor(next() * 3000),
  );
  const affine = [
    -1,
    0,
    0,
    dims[0] / 2 - 0.5,
    0,
    0,
    1,
    4.5 - dims[2] / 2,
    0,
    -1,
    0,
    6.5 + dims[1] / 2,
  ];
  return {
    dims,
    frames: 1,
    spacing: [1, 1, 1],
    affine: [...affine, 0, 0, 0, 1],
    datatype: 'int16',
    data,
    description: '',
  };
}

function centreOfMass(volume: Volume, threshold: number): number[] {
  const [nx, ny] = volume.dims;
  const sum = [0, 0, 0];
  let count = 0;
  volume.data.forEach((v, index) => {
    if (v < threshold) return;
    sum[0] += index % nx;
    sum[1] += Math.floor(index / nx) % ny;
    sum[2] += Math.floor(index / (nx * ny));
    count++;
  });
  return sum.map((s) => s / count);
}

describe('intensity rule', () => {
  it('clips the top 0.1 % of non-zero voxels with a 1000-bin histogram', () => {
    // 1..1000 once each: bin b holds b + 1 (bin 999 holds 1000), all non-zero, so one voxel is
    // clipped: the count 999 is reached in bin 998 and the robust maximum is bin 997's edge.
    const values = Float32Array.from({ length: 1000 }, (_, i) => i + 1);
    const mapping = robustIntensityMapping(values);
    expect(mapping.srcMin).toBe(1);
    expect(mapping.scale).toBeCloseTo(255 / (997 * 0.999), 12);
    // Zeros count in the histogram but not in the 0.1 %: with 9000 zeros more, bins are 1 wide,
    // bin 999 holds 999 and 1000, the count 9999 is reached there and bin 998's edge is 998.
    const padded = new Float32Array(10000);
    padded.set(values, 9000);
    const withZeros = robustIntensityMapping(padded);
    expect(withZeros.srcMin).toBe(0);
    expect(withZeros.scale).toBe(255 / 998);
  });

  it('maps with clamping and truncation to uint8', () => {
    const out = applyIntensityMapping(Float32Array.from([-5, 0, 10.9, 254.99, 300]), {
      srcMin: 0,
      scale: 1,
    });
    expect(Array.from(out)).toEqual([0, 0, 10, 254, 255]);
    expect(robustIntensityMapping(new Int16Array([7, 7, 7]))).toEqual({ srcMin: 7, scale: 1 });
  });
});

describe('centre convention', () => {
  it("puts the input's voxel n/2, counted in LIA order, on conformed voxel 128", () => {
    const lia = liaVolume([100, 80, 60], 1);
    const centre = transformPoint(lia.affine, [50, 40, 30]);
    expect(transformPoint(conformedAffine(lia), [128, 128, 128])).toEqual(centre);
    // Stored RAS, the L and I axes are flipped: their centre voxels are n/2 - 1 in the file.
    const ras = reorient(lia, 'LIA', 'RAS');
    expect(transformPoint(ras.affine, [49, 30, 39])).toEqual(centre);
    expect(conformedAffine(ras)).toEqual(conformedAffine(lia));
    expect(orientationCode(conformedAffine(ras))).toBe('LIA');
  });
});

describe('conforming volumes that already are conformed', () => {
  let lia: Volume;
  let reference: Uint8Array; // (256, 256, 256): the intensity rule applied to lia's voxels
  beforeAll(() => {
    lia = liaVolume([256, 256, 256], 2);
    reference = applyIntensityMapping(lia.data, robustIntensityMapping(lia.data));
  });

  it('gives the intensity rule of the input, voxel-exact, for int16 stored LIA', () => {
    const conformed = conformVolume(lia);
    expect(conformed.resampled).toBe(true);
    expect(conformed.volume.affine).toEqual(lia.affine);
    expect(conformed.volume.datatype).toBe('uint8');
    expectEqualArrays(conformed.volume.data, reference, 'conformed int16 LIA');
  });

  for (const code of ['RAS', 'PSR']) {
    it(`gives the same voxels for the image stored ${code}, and maps labels back exactly`, () => {
      const stored = reorient(lia, 'LIA', code);
      const conformed = conformVolume(stored);
      expect(conformed.volume.affine).toEqual(lia.affine);
      expectEqualArrays(conformed.volume.data, reference, `conformed ${code}`);

      const labels = Uint16Array.from(reference, (v) => v % 7);
      const back = conformed.labelsToInput(labels);
      const expected = reorient({ ...lia, data: labels }, 'LIA', code);
      expect(back.dims).toEqual(stored.dims);
      expect(back.affine).toEqual(stored.affine);
      expect(back.datatype).toBe('uint16');
      expectEqualArrays(back.data, expected.data, `labels on the ${code} grid`);
    });
  }

  it('snaps grids equal up to float32 rounding (FreeSurfer-written affines)', () => {
    const noisy = {
      ...lia,
      affine: lia.affine.map((v, i) => (i === 0 || i === 6 ? v * 0.99999988 : v)),
    };
    noisy.affine[1] = 3.5e-10;
    expectEqualArrays(conformVolume(noisy).volume.data, reference, 'noisy affine');
  });

  it('uses uint8 conformed data as is', () => {
    const uint8 = { ...lia, datatype: 'uint8' as const, data: reference };
    const conformed = conformVolume(uint8);
    expect(conformed.resampled).toBe(false);
    expect(conformed.volume.data).toBe(reference);
    expect(conformed.labelsToInput(reference).data).toBe(reference);
  });
});

describe('conforming other grids', () => {
  it('maps a 1 mm input in another orientation back onto itself exactly', () => {
    const input = reorient(liaVolume([120, 100, 80], 3), 'LIA', 'LPS');
    const conformed = conformVolume(input);
    expect(isConformed(conformed.volume)).toBe(true);
    expect(conformed.volume.data[0]).toBe(0); // outside the input
    const back = conformed.labelsToInput(conformed.volume.data);
    const expected = applyIntensityMapping(input.data, conformed.intensity);
    expectEqualArrays(back.data, expected, 'input -> conformed -> input');
  });

  it('interpolates trilinearly between voxels', () => {
    // 2 mm along i: conformed voxels between two input voxels take their mean.
    const input: Volume = {
      dims: [4, 2, 2],
      frames: 1,
      spacing: [2, 1, 1],
      affine: [2, 0, 0, -3, 0, 1, 0, -0.5, 0, 0, 1, -0.5, 0, 0, 0, 1],
      datatype: 'uint8',
      data: Uint8Array.from([10, 20, 40, 80, 10, 20, 40, 80, 10, 20, 40, 80, 10, 20, 40, 80]),
      description: '',
    };
    const conformed = conformVolume(input);
    const toInput = conformed.conformedToInput;
    const values = [] as number[];
    for (let i = 123; i <= 133; i++) {
      const p = transformPoint(toInput, [i, 128, 128]);
      if (p[0] >= 0 && p[0] <= 3) values.push(conformed.volume.data[i + 256 * (128 + 256 * 128)]);
    }
    // x = 3 (world) down to -3 in 1 mm steps: 80, 60, 40, 30, 20, 15, 10.
    expect(values).toEqual([80, 60, 40, 30, 20, 15, 10]);
  });

  it('conforms the first frame of a 4D input', () => {
    const frame = liaVolume([10, 10, 10], 4);
    const data = new Int16Array(2000);
    data.set(frame.data);
    data.fill(-30000, 1000);
    const conformed = conformVolume({ ...frame, frames: 2, data });
    expect(conformed.intensity).toEqual(robustIntensityMapping(frame.data));
  });

  it('rejects NaN voxels and labels of the wrong size', () => {
    const input = { ...liaVolume([4, 4, 4], 5), data: new Float32Array(64).fill(1) };
    input.data[9] = NaN;
    expect(() => conformVolume(input)).toThrow(
      /expected finite voxel values for input data, received '1 NaN/,
    );
    const conformed = conformVolume(liaVolume([4, 4, 4], 6));
    expect(() => conformed.labelsToInput(new Uint8Array(10))).toThrow(
      /expected 16777216 voxels \(256\^3\) for conformed labels length, received 10/,
    );
  });
});

describe.skipIf(missingData('brainchop/t1_crop.nii.gz'))('conforming the brainchop T1', () => {
  it('uses the already conformed uint8 T1 as is', () => {
    const path = dataPath('brainchop/t1_crop.nii.gz');
    const t1 = parseNifti(new Uint8Array(readFileSync(path)), path);
    expect(isConformed(t1)).toBe(true);
    expect(conformVolume(t1).resampled).toBe(false);
  });
});

describe.skipIf(missingData('totalsegmentator/example_ct_sm.nii.gz', 'monai/anatomical.nii'))(
  'conforming non-conformed real inputs',
  () => {
    const read = (relative: string) =>
      parseNifti(new Uint8Array(readFileSync(dataPath(relative))), relative);

    it('conforms the 3 mm RAS CT with the body near the centre', () => {
      const ct = read('totalsegmentator/example_ct_sm.nii.gz');
      expect(orientationCode(ct.affine)).toBe('RAS');
      const conformed = conformVolume(ct);
      expect(conformed.volume.dims).toEqual([256, 256, 256]);
      expect(orientationCode(conformed.volume.affine)).toBe('LIA');
      const body = centreOfMass(conformed.volume, 150); // soft tissue and bone
      body.forEach((c) => expect(Math.abs(c - 128)).toBeLessThan(10));
      // The CT spans 90 mm along z (the conformed j axis): far above and below it is 0.
      expect(conformed.volume.data[128 + 256 * (10 + 256 * 128)]).toBe(0);
      expect(conformed.volume.data[128 + 256 * (245 + 256 * 128)]).toBe(0);
      expect(conformed.labelsToInput(conformed.volume.data).dims).toEqual(ct.dims);
    });

    it('conforms the 2 mm LAS MONAI T1 with the brain near the centre', () => {
      const t1 = read('monai/anatomical.nii');
      const conformed = conformVolume(t1);
      expect(orientationCode(conformed.volume.affine)).toBe('LIA');
      const brain = centreOfMass(conformed.volume, 40);
      brain.forEach((c) => expect(Math.abs(c - 128)).toBeLessThan(10));
    });
  },
);
