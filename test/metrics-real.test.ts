/**
 * Every metric on real segmentation pairs from ../shared/data: TotalSegmentator's fast model
 * against its full model (41 labels, 3 mm CT), and two grey/white label maps of one subject
 * (256^3, 1 mm; labels 1 and 2 swapped between them, the reference stored as float32).
 */
import { describe, expect, it } from 'vitest';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import { readVolume } from '../ts/io/files.js';
import { METRIC_KEYS, type LabelResult, evaluate, summarizeCases } from '../ts/metrics/index.js';
import { dataPath, missingData } from './helpers/data.js';

const backend = new ReferenceBackend();
const TOTALSEG = [
  'totalsegmentator/example_seg_fast.nii.gz',
  'totalsegmentator/example_seg.nii.gz',
];
const BRAIN = ['niivue/labels256.nii.gz', 'brainchop/v3_labels.nii.gz'];
const skipTotalseg = missingData(...TOTALSEG);
const skipBrain = missingData(...BRAIN);

/** Ranges every label result must satisfy whatever the data. */
function expectSane(m: LabelResult, total: number): void {
  const what = `label ${m.label}`;
  for (const key of METRIC_KEYS) expect(m[key], `${what} ${key}`).toBeDefined();
  expect(m.tp + m.fp + m.fn + m.tn, what).toBe(total);
  for (const key of ['dice', 'iou', 'sensitivity', 'specificity', 'accuracy', 'nsd'] as const) {
    if (!Number.isNaN(m[key])) expect(m[key], `${what} ${key}`).toBeGreaterThanOrEqual(0);
    if (!Number.isNaN(m[key])) expect(m[key], `${what} ${key}`).toBeLessThanOrEqual(1);
  }
  expect(m.iou, what).toBeLessThanOrEqual(m.dice);
  if (m.predVoxels && m.refVoxels) {
    expect(m.hd!, what).toBeLessThan(Infinity);
    expect(m.hdPercentile!, what).toBeLessThanOrEqual(m.hd!);
    expect(m.assd!, what).toBeLessThanOrEqual(m.hd!);
    expect(m.masd!, what).toBeLessThanOrEqual(m.hd!);
    expect(m.hdPercentile!, what).toBeGreaterThanOrEqual(0);
  }
}

describe.skipIf(skipTotalseg)(`TotalSegmentator fast vs full ${skipTotalseg}`, () => {
  it('computes every metric for all 41 labels within sane ranges', async () => {
    const [pred, ref] = await Promise.all(TOTALSEG.map((f) => readVolume(dataPath(f))));
    const result = await evaluate(pred, ref, { backend });
    expect(result.conventions.spacingMm).toEqual([3, 3, 3]);
    expect(result.labels).toHaveLength(41);
    for (const m of result.labels) expectSane(m, 122 * 101 * 30);

    // Counts against a direct loop over the voxels (label 5, the liver).
    const liver = directCounts(pred.data, ref.data, 5);
    const m5 = result.labels.find((l) => l.label === 5)!;
    expect([m5.tp, m5.fp, m5.fn]).toEqual(liver);
    expect(m5.refVolumeMl).toBeCloseTo((liver[0] + liver[2]) * 0.027, 9);

    // A label only the full model found: Dice 0, infinite distances.
    const only = result.labels.filter((l) => l.predVoxels === 0);
    for (const m of only) expect([m.dice, m.hd, m.nsd]).toEqual([0, Infinity, 0]);

    const summary = summarizeCases([result.labels]).foreground;
    expect(summary.dice!.n).toBe(41);
    expect(summary.dice!.mean).toBeGreaterThan(0.85);
    expect(summary.dice!.median).toBeGreaterThan(0.9);
    expect(summary.hdPercentile!.median).toBe(3); // one voxel at 3 mm
  });
});

function directCounts(pred: ArrayLike<number>, ref: ArrayLike<number>, label: number): number[] {
  const counts = [0, 0, 0];
  for (let i = 0; i < ref.length; i++) {
    const [p, r] = [pred[i] === label, ref[i] === label];
    if (p && r) counts[0]++;
    else if (p) counts[1]++;
    else if (r) counts[2]++;
  }
  return counts;
}

describe.skipIf(skipBrain)(`grey/white label maps of one subject ${skipBrain}`, () => {
  it('rejects the pair on the strict grid check: the affines differ by 0.35 mm', async () => {
    const [pred, ref] = await Promise.all(BRAIN.map((f) => readVolume(dataPath(f))));
    await expect(
      evaluate(pred, ref, { backend, names: { pred: BRAIN[0], ref: BRAIN[1] } }),
    ).rejects.toThrow(
      /labels256\.nii\.gz .*-145\.15.* and brainchop\/v3_labels\.nii\.gz .*-145\.5.* 0\.350 mm/,
    );
  });

  it('scores Dice about 0.92 once labels 1 and 2 are swapped, every metric computed', async () => {
    const [pred, ref] = await Promise.all(BRAIN.map((f) => readVolume(dataPath(f))));
    expect(ref.data).toBeInstanceOf(Float32Array);
    const swapped = pred.data.map((v) => (v === 1 ? 2 : v === 2 ? 1 : v));

    const started = performance.now();
    const result = await evaluate({ ...pred, data: swapped }, ref, {
      backend,
      resample: 'nearest',
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `256^3 pair, all metrics: ${seconds.toFixed(2)} s (${JSON.stringify(result.timing)})`,
    );

    expect(result.labels.map((l) => l.label)).toEqual([1, 2]);
    for (const m of result.labels) {
      expectSane(m, 256 ** 3);
      expect(m.dice).toBeGreaterThan(0.9);
      expect(m.dice).toBeLessThan(0.94);
      expect(m.hdPercentile).toBeLessThanOrEqual(3);
      expect(m.assd).toBeLessThan(1);
      expect(m.nsd).toBeGreaterThan(0.9);
      expect(m.refVolumeMl).toBeGreaterThan(400); // a brain's grey or white matter, mL
    }

    const unswapped = await evaluate(pred, ref, { backend, resample: 'nearest', distances: false });
    for (const m of unswapped.labels) expect(m.dice).toBeLessThan(0.1);
  });
});
