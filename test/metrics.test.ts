/**
 * Evaluation metrics on cases small enough to compute by hand: confusion counts, single voxels
 * at anisotropic spacing, cubes and spheres, a far structure, empty masks, the image border,
 * an ignore label, sparse label values, and bad input.
 */
import { describe, expect, it } from 'vitest';
import { backendsUnderTest } from './helpers/backends.js';
import { perturbLabels, randomLabels } from './helpers/random.js';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import {
  type EvaluateOptions,
  type LabelResult,
  type LabelVolume,
  evaluate,
  overlapMetrics,
  parseLabelNames,
  percentileSorted,
  summarizeSample,
  surfaceOf,
} from '../ts/metrics/index.js';

const backend = new ReferenceBackend();

/** A label grid (x, y, z) with helpers to paint boxes and balls. */
function grid(dims: [number, number, number], spacing: [number, number, number] = [1, 1, 1]) {
  const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
  const volume: LabelVolume & { data: Uint8Array } = { data, dims, spacing };
  const index = (x: number, y: number, z: number) => x + dims[0] * (y + dims[1] * z);
  return {
    volume,
    set(x: number, y: number, z: number, label: number) {
      data[index(x, y, z)] = label;
      return this;
    },
    box(min: number[], max: number[], label: number) {
      for (let z = min[2]; z <= max[2]; z++)
        for (let y = min[1]; y <= max[1]; y++)
          for (let x = min[0]; x <= max[0]; x++) data[index(x, y, z)] = label;
      return this;
    },
    ball(centre: number[], radius: number, label: number) {
      for (let z = 0; z < dims[2]; z++)
        for (let y = 0; y < dims[1]; y++)
          for (let x = 0; x < dims[0]; x++) {
            const r2 = (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2;
            if (r2 <= radius * radius) data[index(x, y, z)] = label;
          }
      return this;
    },
  };
}

async function labelOf(
  pred: LabelVolume,
  ref: LabelVolume,
  label = 1,
  options: EvaluateOptions = {},
): Promise<LabelResult> {
  const result = await evaluate(pred, ref, { backend, ...options });
  const found = result.labels.find((l) => l.label === label);
  if (!found) throw new Error(`label ${label} not reported`);
  return found;
}

describe('overlap metrics from confusion counts', () => {
  it('matches hand computation for tp 20, fp 5, fn 10, tn 65', () => {
    const m = overlapMetrics({ tp: 20, fp: 5, fn: 10, tn: 65 }, 2, 2);
    expect(m.dice).toBeCloseTo(40 / 55, 12);
    expect(m.iou).toBeCloseTo(20 / 35, 12);
    expect(m.sensitivity).toBeCloseTo(20 / 30, 12);
    expect(m.specificity).toBeCloseTo(65 / 70, 12);
    expect(m.precision).toBeCloseTo(20 / 25, 12);
    expect(m.fBeta).toBeCloseTo(100 / 145, 12); // F2 = 5 tp / (5 tp + 4 fn + fp)
    expect(m.accuracy).toBeCloseTo(0.85, 12);
    expect(m.balancedAccuracy).toBeCloseTo((20 / 30 + 65 / 70) / 2, 12);
    // MCC = (20*65 - 5*10) / sqrt(25 * 30 * 70 * 75) = 1250 / 1984.313...
    expect(m.mcc).toBeCloseTo(1250 / Math.sqrt(25 * 30 * 70 * 75), 12);
    // po = 0.85, pe = (25*30 + 75*70) / 100^2 = 0.6, kappa = 0.25 / 0.4
    expect(m.kappa).toBeCloseTo(0.625, 12);
    expect(m.volumeSimilarity).toBeCloseTo(1 - 5 / 55, 12);
    expect([m.refVoxels, m.predVoxels]).toEqual([30, 25]);
    expect(m.refVolumeMl).toBeCloseTo(0.06, 12); // 30 voxels of 2 mm^3
    expect(m.volumeDifferenceMl).toBeCloseTo(0.01, 12);
    expect(m.relativeVolumeDifference).toBeCloseTo(-5 / 30, 12);
  });

  it('gives NaN for undefined ratios and 0 for a prediction with an empty reference', () => {
    const both = overlapMetrics({ tp: 0, fp: 0, fn: 0, tn: 10 });
    expect([both.dice, both.iou, both.sensitivity, both.precision, both.mcc]).toEqual([
      NaN,
      NaN,
      NaN,
      NaN,
      NaN,
    ]);
    const refEmpty = overlapMetrics({ tp: 0, fp: 4, fn: 0, tn: 6 });
    expect(refEmpty.dice).toBe(0);
    expect(refEmpty.sensitivity).toBeNaN();
    expect(refEmpty.relativeVolumeDifference).toBe(Infinity);
    const perfect = overlapMetrics({ tp: 10, fp: 0, fn: 0, tn: 0 });
    expect(perfect.kappa).toBeNaN(); // chance agreement 1
    expect(perfect.dice).toBe(1);
  });
});

describe('percentiles and samples', () => {
  it('interpolates linearly between order statistics', () => {
    expect(percentileSorted([0, 0, 10], 75)).toBe(5);
    expect(percentileSorted([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentileSorted([7], 95)).toBe(7);
    expect(percentileSorted([], 95)).toBeNaN();
  });

  it('never interpolates across an infinite value', () => {
    expect(percentileSorted([1, 2, Infinity], 75)).toBe(Infinity);
    expect(percentileSorted([1, 2, Infinity], 50)).toBe(2);
    expect(percentileSorted([Infinity, Infinity], 40)).toBe(Infinity);
  });

  it('sets NaN aside and counts it', () => {
    const s = summarizeSample([1, 2, NaN, 3]);
    expect([s.mean, s.median, s.n, s.nan]).toEqual([2, 2, 3, 1]);
    expect(s.std).toBeCloseTo(Math.sqrt(2 / 3), 12);
  });
});

describe('surface distances', () => {
  it('measures two single voxels at anisotropic spacing', async () => {
    const pred = grid([4, 5, 6], [0.5, 2, 3]).set(0, 0, 0, 1);
    const ref = grid([4, 5, 6], [0.5, 2, 3]).set(1, 2, 3, 1);
    const d = Math.sqrt(0.5 ** 2 + 4 ** 2 + 9 ** 2);
    const m = await labelOf(pred.volume, ref.volume);
    for (const value of [m.hd, m.hdPercentile, m.assd, m.masd]) expect(value).toBeCloseTo(d, 12);
    expect(m.nsd).toBe(0);
    expect([m.tp, m.fp, m.fn, m.tn, m.dice]).toEqual([0, 1, 1, 118, 0]);
    const loose = await labelOf(pred.volume, ref.volume, 1, { nsdTolerance: 10 });
    expect(loose.nsd).toBe(1);
  });

  it('measures a 10-voxel cube inside a 12-voxel cube', async () => {
    const pred = grid([16, 16, 16]).box([3, 3, 3], [12, 12, 12], 1);
    const ref = grid([16, 16, 16]).box([2, 2, 2], [13, 13, 13], 1);
    const m = await labelOf(pred.volume, ref.volume);
    // pred surface: 488 voxels, each 1 from the outer shell. ref surface: 600 face voxels at
    // 1, 120 edge voxels at sqrt(2), 8 corners at sqrt(3).
    const [r2, r3] = [Math.SQRT2, Math.sqrt(3)];
    expect([m.predSurfaceVoxels, m.refSurfaceVoxels]).toEqual([488, 728]);
    expect(m.hd).toBeCloseTo(r3, 12);
    expect(m.hdPercentile).toBeCloseTo(r2, 12);
    expect(m.assd).toBeCloseTo((488 + 600 + 120 * r2 + 8 * r3) / 1216, 12);
    expect(m.masd).toBeCloseTo((1 + (600 + 120 * r2 + 8 * r3) / 728) / 2, 12);
    expect(m.nsd).toBeCloseTo(1088 / 1216, 12);
    expect((await labelOf(pred.volume, ref.volume, 1, { nsdTolerance: 1.5 })).nsd).toBeCloseTo(
      1208 / 1216,
      12,
    );
    expect(m.dice).toBeCloseTo(2000 / 2728, 12);
  });

  it('gives the shift of a translated sphere as its Hausdorff distance', async () => {
    // Shift by 3 voxels along y at 1.5 mm: every pred surface voxel has its translate in the
    // ref surface (d <= 4.5), and the pole facing away is 4.5 mm from anything.
    const pred = grid([24, 24, 24], [0.8, 1.5, 1.1]).ball([12, 10, 12], 6, 1);
    const ref = grid([24, 24, 24], [0.8, 1.5, 1.1]).ball([12, 13, 12], 6, 1);
    const m = await labelOf(pred.volume, ref.volume);
    expect(m.hd).toBeCloseTo(4.5, 12);
    expect(m.predSurfaceVoxels).toBe(m.refSurfaceVoxels);
  });

  it('puts concentric spheres of radius 6 and 9 about 3 mm apart', async () => {
    const pred = grid([24, 24, 24]).ball([12, 12, 12], 6, 1);
    const ref = grid([24, 24, 24]).ball([12, 12, 12], 9, 1);
    const m = await labelOf(pred.volume, ref.volume);
    expect(m.assd).toBeGreaterThan(2.5);
    expect(m.assd).toBeLessThan(3.5);
    expect(m.hd).toBeGreaterThanOrEqual(3);
    expect(m.hd).toBeLessThan(4);
    expect(m.refVolumeMl).toBeCloseTo(((4 / 3) * Math.PI * 9 ** 3) / 1000, 1);
  });

  it('separates the per-direction and pooled percentile rules on a far structure', async () => {
    // ref: a 2x2x2 cube (8 surface voxels); pred: the same cube plus one voxel 12 mm away.
    const ref = grid([20, 6, 6]).box([2, 2, 2], [3, 3, 3], 1);
    const pred = grid([20, 6, 6]).box([2, 2, 2], [3, 3, 3], 1).set(15, 2, 2, 1);
    const perDirection = await labelOf(pred.volume, ref.volume);
    const pooled = await labelOf(pred.volume, ref.volume, 1, { percentileRule: 'pooled' });
    // pred->ref: 8 zeros and 12 (rank 8 * 0.95 = 7.6 -> 0.6 * 12); pooled: 16 zeros and 12
    // (rank 16 * 0.95 = 15.2 -> 0.2 * 12).
    expect(perDirection.hdPercentile).toBeCloseTo(7.2, 12);
    expect(pooled.hdPercentile).toBeCloseTo(2.4, 12);
    expect(perDirection.hd).toBe(12);
    expect(perDirection.assd).toBeCloseTo(12 / 17, 12);
    expect(perDirection.masd).toBeCloseTo(12 / 9 / 2, 12);
    expect(perDirection.nsd).toBeCloseTo(16 / 17, 12);
    const p50 = await labelOf(pred.volume, ref.volume, 1, { percentile: 50 });
    expect(p50.hdPercentile).toBe(0);
  });

  it('counts the image border as outside', async () => {
    const full = grid([3, 3, 3]).box([0, 0, 0], [2, 2, 2], 1);
    expect(surfaceOf(full.volume.data, [3, 3, 3]).reduce((a, b) => a + b, 0)).toBe(26);
    const same = await labelOf(full.volume, full.volume);
    expect([same.hd, same.assd, same.nsd, same.predSurfaceVoxels]).toEqual([0, 0, 1, 26]);

    // A slab on the x = 0 face against a two-voxel slab: the x = 0 plane is all surface.
    const ref = grid([3, 3, 3], [2, 1, 1]).box([0, 0, 0], [0, 2, 2], 1);
    const pred = grid([3, 3, 3], [2, 1, 1]).box([0, 0, 0], [1, 2, 2], 1);
    const m = await labelOf(pred.volume, ref.volume);
    expect([m.predSurfaceVoxels, m.refSurfaceVoxels, m.hd]).toEqual([18, 9, 2]);
    expect(m.assd).toBeCloseTo(18 / 27, 12);
  });
});

describe('empty masks', () => {
  const empty = grid([5, 6, 7], [1, 2, 3]);
  const blob = grid([5, 6, 7], [1, 2, 3]).box([1, 1, 1], [2, 2, 2], 1);

  it('gives NaN overlap and distances when both are empty', async () => {
    const m = await labelOf(empty.volume, empty.volume, 1, { labels: [1] });
    for (const value of [m.dice, m.iou, m.hd, m.hdPercentile, m.assd, m.masd, m.nsd]) {
      expect(value).toBeNaN();
    }
    expect(m.tn).toBe(210);
  });

  it('gives Dice 0 and infinite distances when only one is empty', async () => {
    const m = await labelOf(blob.volume, empty.volume, 1);
    expect([m.dice, m.hd, m.hdPercentile, m.assd, m.masd, m.nsd]).toEqual([
      0,
      Infinity,
      Infinity,
      Infinity,
      Infinity,
      0,
    ]);
    const missed = await labelOf(empty.volume, blob.volume, 1);
    expect([missed.dice, missed.sensitivity, missed.hd]).toEqual([0, 0, Infinity]);
    expect(missed.precision).toBeNaN();
  });

  it("uses the image diagonal with emptyDistance 'diagonal'", async () => {
    const m = await labelOf(blob.volume, empty.volume, 1, { emptyDistance: 'diagonal' });
    expect(m.hd).toBeCloseTo(Math.hypot(5, 12, 21), 12);
    expect(m.hdPercentile).toBe(m.hd);
    const result = await evaluate(blob.volume, empty.volume, {
      backend,
      emptyDistance: 'diagonal',
    });
    expect(result.conventions.emptyDistance).toBe('diagonal');
  });
});

describe('labels', () => {
  it('leaves reference voxels of the ignore label out of every count', async () => {
    const ref = grid([8, 4, 4]).box([0, 0, 0], [3, 3, 3], 1).box([4, 0, 0], [7, 3, 3], 255);
    const pred = grid([8, 4, 4]).box([0, 0, 0], [5, 3, 3], 1);
    const ignored = await evaluate(pred.volume, ref.volume, { backend, ignoreLabel: 255 });
    expect(ignored.labels.map((l) => l.label)).toEqual([1]);
    const m = ignored.labels[0];
    expect([m.tp, m.fp, m.fn, m.tn, m.dice, m.hd]).toEqual([64, 0, 0, 0, 1, 0]);
    expect([ignored.comparedVoxels, ignored.ignoredVoxels]).toEqual([64, 64]);
    expect(ignored.conventions.ignoreLabel).toBe(255);

    const counted = await labelOf(pred.volume, ref.volume, 1);
    expect([counted.fp, counted.hd]).toEqual([32, 2]);
  });

  it('reports sparse label values under their own values', async () => {
    const dims: [number, number, number] = [4, 4, 2];
    const ref = new Int16Array(32).fill(0);
    const pred = new Int16Array(32).fill(0);
    ref.fill(2035, 0, 8);
    ref.fill(14175, 16, 20);
    pred.fill(2035, 0, 6);
    pred.fill(14175, 16, 20);
    const result = await evaluate({ data: pred, dims }, { data: ref, dims }, { backend });
    expect(result.labels.map((l) => [l.label, l.tp, l.fn])).toEqual([
      [2035, 6, 2],
      [14175, 4, 0],
    ]);
    const wide = await evaluate(
      { data: Int32Array.from(pred, (v) => (v === 14175 ? 2e9 : v)), dims },
      { data: Int32Array.from(ref, (v) => (v === 14175 ? 2e9 : v)), dims },
      { backend, includeBackground: true, distances: false, labelNames: { 0: 'bg' } },
    );
    expect(wide.labels.map((l) => l.label)).toEqual([0, 2035, 2e9]);
    expect(wide.labels[0].name).toBe('bg');
    expect(wide.labels[2].hd).toBeUndefined();
  });

  it('rejects fractional label values naming the voxel', async () => {
    const data = new Float32Array(8).fill(1);
    data[5] = 0.5;
    const ref = { data: new Uint8Array(8), dims: [2, 2, 2] as [number, number, number] };
    await expect(
      evaluate({ data, dims: ref.dims }, ref, { backend, names: { pred: 'p.nii', ref: 'r.nii' } }),
    ).rejects.toThrow(/p\.nii: expected a whole-number label value for voxel \(1, 0, 1\).*0\.5/);
  });
});

describe('grids', () => {
  const affine = (scale: number, shift = 0) => [
    scale,
    0,
    0,
    shift,
    0,
    scale,
    0,
    0,
    0,
    0,
    scale,
    0,
    0,
    0,
    0,
    1,
  ];

  it('rejects different dims and affines naming both inputs', async () => {
    const a = { data: new Uint8Array(8), dims: [2, 2, 2] as [number, number, number] };
    const b = { data: new Uint8Array(12), dims: [3, 2, 2] as [number, number, number] };
    const names = { pred: 'a.nii', ref: 'b.nii' };
    await expect(evaluate(a, b, { backend, names })).rejects.toThrow(
      /a\.nii has dims \[2, 2, 2\] but b\.nii has dims \[3, 2, 2\]/,
    );
    const shifted = { ...a, affine: affine(1, 0.01) };
    await expect(
      evaluate({ ...a, affine: affine(1) }, shifted, { backend, names }),
    ).rejects.toThrow(/affines of a\.nii .* and b\.nii .* 0\.0100 mm apart/);
    const coarse = { ...b, data: new Uint8Array(8), dims: a.dims, spacing: [1, 1, 1.5] as const };
    await expect(
      evaluate({ ...a, spacing: [1, 1, 1] }, coarse, { backend, names }),
    ).rejects.toThrow(/a\.nii has spacing \[1, 1, 1\] but b\.nii has \[1, 1, 1\.5\]/);
    const close = { ...a, affine: affine(1, 0.0005) };
    await expect(evaluate({ ...a, affine: affine(1) }, close, { backend })).resolves.toBeDefined();
  });

  it('resamples the prediction onto the reference grid by nearest neighbour', async () => {
    const pred = {
      data: new Uint8Array(8).fill(1),
      dims: [2, 2, 2] as [number, number, number],
      affine: affine(2),
    };
    const ref = grid([4, 4, 4]).box([0, 0, 0], [2, 2, 2], 1);
    const m = await labelOf(pred, { ...ref.volume, affine: affine(1) }, 1, { resample: 'nearest' });
    // ref voxel i maps to pred voxel round(i / 2): 0, 1, 1 inside, 3 -> 2 outside.
    expect([m.tp, m.fp, m.fn]).toEqual([27, 0, 0]);
  });

  it('rejects bad options with the option name', async () => {
    const a = grid([2, 2, 2]).volume;
    await expect(evaluate(a, a, { backend, percentileRule: 'pooles' as 'pooled' })).rejects.toThrow(
      /percentileRule, received 'pooles'.*did you mean 'pooled'/,
    );
    await expect(evaluate(a, a, { backend, percentile: 101 })).rejects.toThrow(/percentile/);
    await expect(evaluate(a, a, { backend, spacing: [1, 0, 1] })).rejects.toThrow(/spacing/);
  });
});

describe('label names', () => {
  it('reads JSON maps, arrays, labels arrays and groups', () => {
    expect(parseLabelNames('{"0": "bg", "2": "GM"}', 'a.json')).toEqual({ 0: 'bg', 2: 'GM' });
    expect(parseLabelNames('["bg", "WM"]', 'a.json')).toEqual({ 0: 'bg', 1: 'WM' });
    expect(parseLabelNames('{"R": [0, 1], "labels": ["Unknown", "WM"]}', 'c.json')).toEqual({
      0: 'Unknown',
      1: 'WM',
    });
    const grouped = '{"total": {"5": "liver"}, "lung_vessels": {"1": "lung_vessels"}}';
    expect(parseLabelNames(grouped, 'map.json', 'total')).toEqual({ 5: 'liver' });
    expect(() => parseLabelNames(grouped, 'map.json', 'totl')).toThrow(
      /map\.json: expected one of the groups total, lung_vessels.*did you mean 'total'/,
    );
  });

  it('reads ITK-SNAP label descriptions and FreeSurfer colour tables', () => {
    const itk =
      '# ITK-SNAP Label Description File\n    0     0    0    0        0  0  0    "Clear Label"\n' +
      '    1   255    0    0        1  1  1    "Left hippocampus"\n';
    expect(parseLabelNames(itk, 'labels.txt')).toEqual({ 0: 'Clear Label', 1: 'Left hippocampus' });
    const lut =
      '#No. Label Name:                R   G   B   A\n\n0   Unknown    0   0   0   0\n' +
      '2   Left-Cerebral-White-Matter   245 245 245 0\n11136 ctx_lh_S_front_sup  20 60 220 0\n';
    expect(parseLabelNames(lut, 'FreeSurferColorLUT.txt')).toEqual({
      0: 'Unknown',
      2: 'Left-Cerebral-White-Matter',
      11136: 'ctx_lh_S_front_sup',
    });
    expect(() => parseLabelNames('one two\n', 'bad.txt')).toThrow(/bad\.txt: .*line 1/);
  });
});

describe('confusion counts on every backend', async () => {
  // Sparse values (0, 7, 300, 2035, 14175) with 255 as the ignore label, on odd dims.
  const values = [0, 7, 255, 300, 2035, 14175];
  const dims: [number, number, number] = [13, 7, 5];
  const base = randomLabels(13 * 7 * 5, values.length, 11);
  const ref = { data: Int32Array.from(base, (i) => values[i]), dims };
  const pred = {
    data: Int32Array.from(perturbLabels(base, values.length, 0.7, 12), (i) => values[i]),
    dims,
  };
  const options = { ignoreLabel: 255, distances: false };
  const oracle = await evaluate(pred, ref, { ...options, backend });

  for (const { name, backend: other, skipReason } of await backendsUnderTest()) {
    it.skipIf(!other)(`${name} counts what the reference counts ${skipReason}`, async () => {
      const result = await evaluate(pred, ref, { ...options, backend: other });
      expect(result.backend).toBe(name);
      expect(result.labels.map((l) => [l.label, l.tp, l.fp, l.fn, l.tn])).toEqual(
        oracle.labels.map((l) => [l.label, l.tp, l.fp, l.fn, l.tn]),
      );
    });
  }

  it('reference counts match a direct loop', () => {
    for (const m of oracle.labels) {
      let [tp, fp, fn] = [0, 0, 0];
      for (let i = 0; i < ref.data.length; i++) {
        if (ref.data[i] === 255) continue;
        const [p, r] = [pred.data[i] === m.label, ref.data[i] === m.label];
        tp += +(p && r);
        fp += +(p && !r);
        fn += +(!p && r);
      }
      expect([m.tp, m.fp, m.fn], `label ${m.label}`).toEqual([tp, fp, fn]);
    }
    expect(oracle.labels.map((l) => l.label)).toEqual([7, 300, 2035, 14175]);
  });
});

describe('negative labels', () => {
  it('are rejected, naming the voxel and the value', async () => {
    const dims: [number, number, number] = [3, 2, 2];
    const data = Int16Array.from({ length: 12 }, (_, i) => i % 3);
    const bad = Int16Array.from(data);
    bad[7] = -1;
    await expect(
      evaluate({ data: bad, dims }, { data, dims }, { backend: new ReferenceBackend() }),
    ).rejects.toThrow(
      /pred: expected a non-negative label value for voxel \(1, 0, 1\) \[index 7\], received -1/,
    );
  });
});
