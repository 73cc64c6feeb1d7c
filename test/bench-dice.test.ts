/**
 * The Dice suite's counters: the plain-JavaScript baselines count what the reference backend's
 * labelConfusion counts, on random maps (every label everywhere), on maps with long uniform runs
 * (the fast paths), with lengths off the word width, in uint8 and uint16; and the synthetic pair
 * has the shape the suite expects. (voxseg's own kernels: test/wasm-label-confusion.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import '../ts/node.js';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import { syntheticPair } from '../bench/lib/data.js';
import { JS_COUNTERS, type JsCounts } from '../bench/peers/dice-js.js';
import { perturbLabels, randomLabels } from './helpers/random.js';

const reference = new ReferenceBackend();

/** The reference backend's counts as (tp, pred, ref) per label. */
async function expected(
  pred: Uint8Array | Uint16Array,
  ref: Uint8Array | Uint16Array,
  labels: number,
) {
  const p = await reference.upload(pred, [pred.length]);
  const r = await reference.upload(ref, [ref.length]);
  const c = await reference.labelConfusion(p, r, labels);
  return { tp: c.tp, pred: c.tp.map((t, l) => t + c.fp[l]), ref: c.tp.map((t, l) => t + c.fn[l]) };
}

function plain(counts: JsCounts) {
  return { tp: [...counts.tp], pred: [...counts.pred], ref: [...counts.ref] };
}

/** Maps of `length` voxels: random, or runs of one label (like a segmentation). */
function maps(length: number, labels: number, seed: number, runs: boolean) {
  const base = randomLabels(length, labels, seed);
  if (runs) for (let i = 0; i < length; i++) base[i] = base[Math.floor(i / 37) * 37];
  const pred = Uint8Array.from(base);
  const ref = Uint8Array.from(
    runs
      ? pred.map((v, i) => (i % 101 === 0 ? (v + 1) % labels : v))
      : perturbLabels(base, labels, 0.7, seed + 1),
  );
  return { pred, ref };
}

const CASES = [
  { name: '3 labels, random, 4099 voxels', length: 4099, labels: 3, runs: false },
  { name: '3 labels, runs, 10000 voxels', length: 10000, labels: 3, runs: true },
  { name: '2 labels, runs, 8192 voxels', length: 8192, labels: 2, runs: true },
  { name: '9 labels, random, 5000 voxels', length: 5000, labels: 9, runs: false },
  { name: '16 labels, runs, 20000 voxels', length: 20000, labels: 16, runs: true },
  { name: '40 labels, runs, 3001 voxels', length: 3001, labels: 40, runs: true },
];

describe('plain-JS label counters against the reference', () => {
  for (const c of CASES) {
    for (const dtype of ['uint8', 'uint16'] as const) {
      it(`${c.name}, ${dtype}`, async () => {
        const m = maps(c.length, c.labels, c.length, c.runs);
        const pred = dtype === 'uint8' ? m.pred : Uint16Array.from(m.pred);
        const ref = dtype === 'uint8' ? m.ref : Uint16Array.from(m.ref);
        const want = plain(await expected(pred, ref, c.labels));
        for (const [name, count] of Object.entries(JS_COUNTERS)) {
          expect(plain(count(pred, ref, c.labels)), name).toEqual(want);
        }
      });
    }
  }
});

describe('synthetic label pair', () => {
  it('has its labels, large uniform regions, and a reference close to the prediction', () => {
    const pair = syntheticPair([40, 30, 20], 4, 5);
    expect(pair.pred).toHaveLength(24000);
    expect(Math.max(...pair.pred)).toBeLessThan(4);
    expect(new Set(pair.pred).size).toBeGreaterThan(1);
    let same = 0;
    for (let i = 0; i < pair.pred.length; i++) same += pair.pred[i] === pair.ref[i] ? 1 : 0;
    expect(same / pair.pred.length).toBeGreaterThan(0.8);
    expect(same / pair.pred.length).toBeLessThan(1);
  });
});
