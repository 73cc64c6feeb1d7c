/**
 * The exact distance transform and the boxed surface distances against brute force on random
 * masks with anisotropic spacing.
 */
import { describe, expect, it } from 'vitest';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import { evaluate, squaredDistanceTransform, surfaceOf } from '../ts/metrics/index.js';
import { expectClose } from './helpers/compare.js';
import { rng } from './helpers/random.js';

type Shape = [number, number, number];

/** A random (D, H, W) 0/1 mask with about `density` ones. */
function randomMask(shape: Shape, density: number, seed: number): Uint8Array {
  const next = rng(seed);
  return Uint8Array.from({ length: shape[0] * shape[1] * shape[2] }, () =>
    next() < density ? 1 : 0,
  );
}

/** Squared distance from every voxel to the nearest feature by trying every feature. */
function bruteForceEdt(features: Uint8Array, shape: Shape, spacing: Shape): Float64Array {
  const [d, h, w] = shape;
  const sites: number[][] = [];
  for (let i = 0; i < features.length; i++) {
    if (features[i]) sites.push([Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w]);
  }
  const out = new Float64Array(d * h * w);
  for (let i = 0; i < out.length; i++) {
    const p = [Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w];
    let best = Infinity;
    for (const s of sites) {
      const d2 = [0, 1, 2].reduce((sum, a) => sum + ((p[a] - s[a]) * spacing[a]) ** 2, 0);
      best = Math.min(best, d2);
    }
    out[i] = best;
  }
  return out;
}

describe('squaredDistanceTransform', () => {
  const cases: { shape: Shape; spacing: Shape; density: number }[] = [
    { shape: [7, 9, 11], spacing: [0.7, 1.3, 2.9], density: 0.02 },
    { shape: [13, 6, 5], spacing: [3, 0.5, 1], density: 0.005 },
    { shape: [1, 5, 17], spacing: [1, 1.7, 0.4], density: 0.1 },
    { shape: [12, 1, 3], spacing: [2.5, 1, 1], density: 0.05 },
    { shape: [10, 10, 10], spacing: [1, 1, 1], density: 0.3 },
    { shape: [9, 8, 7], spacing: [0.9, 1.1, 4], density: 0.001 },
  ];

  for (const [n, { shape, spacing, density }] of cases.entries()) {
    it(`matches brute force on (${shape}) at spacing (${spacing})`, () => {
      const mask = randomMask(shape, density, 100 + n);
      mask[(n * 37) % mask.length] = 1; // at least one feature
      const got = squaredDistanceTransform(mask, shape, spacing);
      expectClose(got, bruteForceEdt(mask, shape, spacing), { atol: 1e-9, rtol: 1e-12 }, 'edt');
    });
  }

  it('is Infinity everywhere without features and 0 on every feature', () => {
    expect([...squaredDistanceTransform(new Uint8Array(12), [2, 2, 3], [1, 2, 3])]).toEqual(
      new Array(12).fill(Infinity),
    );
    expect([...squaredDistanceTransform(new Uint8Array(6).fill(1), [1, 2, 3], [1, 2, 3])]).toEqual(
      new Array(6).fill(0),
    );
  });
});

describe('boxed surface distances', () => {
  /** Directed distances over the whole image by brute force: the oracle for the box. */
  function bruteForceDistances(pred: Uint8Array, ref: Uint8Array, shape: Shape, spacing: Shape) {
    const predSurface = surfaceOf(pred, shape);
    const refSurface = surfaceOf(ref, shape);
    const toRef = bruteForceEdt(refSurface, shape, spacing);
    const toPred = bruteForceEdt(predSurface, shape, spacing);
    const ab = [...toRef].filter((_, i) => predSurface[i]).map(Math.sqrt);
    const ba = [...toPred].filter((_, i) => refSurface[i]).map(Math.sqrt);
    return { ab, ba };
  }

  /** Random blobs of labels 1..4 at random places; pred and ref drawn independently. */
  function randomLabels(shape: Shape, seed: number): Uint8Array {
    const [d, h, w] = shape;
    const next = rng(seed);
    const data = new Uint8Array(d * h * w);
    for (let label = 1; label <= 4; label++) {
      const size = [0, 1, 2].map(() => 1 + Math.floor(next() * 5));
      const at = [d, h, w].map((n, a) => Math.floor(next() * (n - size[a] + 1)));
      for (let z = 0; z < size[0]; z++)
        for (let y = 0; y < size[1]; y++)
          for (let x = 0; x < size[2]; x++) {
            if (next() < 0.7) data[at[2] + x + w * (at[1] + y + h * (at[0] + z))] = label;
          }
    }
    return data;
  }

  it('equals whole-image brute force for every label, near or far, on the border', async () => {
    const shape: Shape = [11, 13, 15];
    const spacing: Shape = [2.2, 0.6, 1.3];
    const volume = (data: Uint8Array) => ({
      data,
      dims: [shape[2], shape[1], shape[0]] as Shape,
      spacing: [spacing[2], spacing[1], spacing[0]] as Shape,
    });
    for (const seed of [1, 2, 3, 4, 5]) {
      const pred = randomLabels(shape, seed);
      const ref = randomLabels(shape, seed + 50);
      const result = await evaluate(volume(pred), volume(ref), {
        backend: new ReferenceBackend(),
        labels: [1, 2, 3, 4],
        nsdTolerance: 1.5,
      });
      for (const m of result.labels) {
        const mask = (data: Uint8Array) => data.map((v) => (v === m.label ? 1 : 0));
        const { ab, ba } = bruteForceDistances(mask(pred), mask(ref), shape, spacing);
        const all = [...ab, ...ba];
        const what = `seed ${seed} label ${m.label}`;
        expect([m.predSurfaceVoxels, m.refSurfaceVoxels], what).toEqual([ab.length, ba.length]);
        if (!ab.length || !ba.length) {
          expect(m.hd, what).toBe(ab.length || ba.length ? Infinity : NaN);
          continue;
        }
        // Distance maps are float32: agreement to ~1e-7 relative, so 5 decimals in mm.
        expect(m.hd, what).toBeCloseTo(Math.max(...all), 5);
        expect(m.assd, what).toBeCloseTo(all.reduce((a, b) => a + b, 0) / all.length, 5);
        expect(m.nsd, what).toBeCloseTo(all.filter((v) => v <= 1.5).length / all.length, 12);
      }
    }
  });
});
