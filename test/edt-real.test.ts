/**
 * Surface-distance metrics on real segmentation pairs with the distance maps computed on each
 * backend (`backend.distanceTransform`), against the reference backend: TotalSegmentator's
 * fast model against its full model (41 labels, 122 x 101 x 30 at 3 mm), and two grey/white
 * label maps of one subject (256^3 at 1 mm, labels 1 and 2 swapped, resampled by nearest
 * neighbour). hd, hd95, assd, masd and nsd must agree within 1e-4 mm (nsd within 1e-4).
 *
 * The 256^3 pair costs about 3.5 s on WebGPU over llvmpipe (2 cores), so it runs in full there.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import { disposeBackends } from '../ts/engine/registry.js';
import { readVolume } from '../ts/io/files.js';
import { type Evaluation, evaluate, type LabelVolume } from '../ts/metrics/index.js';
import { backendsUnderTest } from './helpers/backends.js';
import { dataPath, missingData } from './helpers/data.js';

const TOTALSEG = [
  'totalsegmentator/example_seg_fast.nii.gz',
  'totalsegmentator/example_seg.nii.gz',
];
const BRAIN = ['niivue/labels256.nii.gz', 'brainchop/v3_labels.nii.gz'];
const KEYS = ['hd', 'hdPercentile', 'assd', 'masd', 'nsd'] as const;

const reference = new ReferenceBackend();
const backends = await backendsUnderTest();
afterAll(() => disposeBackends());

interface Pair {
  name: string;
  files: string[];
  load(): Promise<[LabelVolume, LabelVolume]>;
  options: { resample?: 'nearest' };
  /** Labels with both masks present, so that every distance is finite. */
  labels: number;
}

const pairs: Pair[] = [
  {
    name: 'TotalSegmentator fast vs full',
    files: TOTALSEG,
    load: async () => {
      const [pred, ref] = await Promise.all(TOTALSEG.map((f) => readVolume(dataPath(f))));
      return [pred, ref];
    },
    options: {},
    labels: 41,
  },
  {
    name: 'grey/white 256^3, labels 1 and 2 swapped',
    files: BRAIN,
    load: async () => {
      const [pred, ref] = await Promise.all(BRAIN.map((f) => readVolume(dataPath(f))));
      const swapped = pred.data.map((v) => (v === 1 ? 2 : v === 2 ? 1 : v));
      return [{ ...pred, data: swapped }, ref];
    },
    options: { resample: 'nearest' },
    labels: 2,
  },
];

/** Every distance metric of `got` within 1e-4 of `want`, infinities equal. */
function expectSameDistances(got: Evaluation, want: Evaluation, backend: string): void {
  expect(got.labels.map((l) => l.label)).toEqual(want.labels.map((l) => l.label));
  for (const [i, m] of got.labels.entries()) {
    for (const key of KEYS) {
      const [g, w] = [m[key]!, want.labels[i][key]!];
      const what = `${backend} label ${m.label} ${key}: ${g} vs ${w}`;
      if (!Number.isFinite(w)) expect(g, what).toBe(w);
      else expect(Math.abs(g - w), what).toBeLessThanOrEqual(1e-4);
    }
  }
}

for (const pair of pairs) {
  const skip = missingData(...pair.files);
  describe.skipIf(!!skip)(`${pair.name} ${skip}`, async () => {
    const [pred, ref] = skip ? [] : await pair.load();
    const oracle = skip
      ? undefined
      : await evaluate(pred!, ref!, { ...pair.options, backend: reference });

    it('has finite distances for the labels both maps hold', () => {
      const both = oracle!.labels.filter((l) => l.predVoxels && l.refVoxels);
      expect(both.length).toBeGreaterThanOrEqual(pair.labels - 1);
      for (const m of both)
        for (const key of KEYS) expect(Number.isFinite(m[key]), `${m.label} ${key}`).toBe(true);
    });

    for (const { name, backend, skipReason } of backends) {
      it.skipIf(!backend)(
        `${name} computes the distance maps, same metrics ${skipReason}`,
        async () => {
          const spy = vi.spyOn(backend!, 'distanceTransform');
          try {
            const result = await evaluate(pred!, ref!, { ...pair.options, backend: backend! });
            expect(result.backend).toBe(name);
            const withBox = oracle!.labels.filter((l) => l.predVoxels || l.refVoxels).length;
            expect(spy).toHaveBeenCalledTimes(withBox);
            expectSameDistances(result, oracle!, name);
          } finally {
            spy.mockRestore();
          }
        },
      );
    }
  });
}
