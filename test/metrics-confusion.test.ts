/**
 * countHostLabels: host label maps streamed through each backend in slabs must count exactly
 * as the reference backend counts the whole maps, whatever the slab size (odd sizes, slabs
 * that split the maps unevenly, one slab for everything), and report a bad voxel by its
 * index in the whole map.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, LabelCounts } from '../ts/engine/backend.js';
import { disposeBackends } from '../ts/engine/registry.js';
import { countHostLabels, slabVoxels, WASM_SLAB_VOXELS } from '../ts/metrics/confusion.js';
import { backendsUnderTest, referenceBackend } from './helpers/backends.js';
import { randomLabels, rng } from './helpers/random.js';

const backends = await backendsUnderTest();
const reference = await referenceBackend();
afterAll(() => disposeBackends());

type Maps = {
  pred: Uint8Array | Uint16Array | Int32Array;
  ref: Uint8Array | Uint16Array | Int32Array;
};

/** A map of blobs (runs of one label) and a reference that differs in ~10 % of voxels. */
function maps(
  length: number,
  numLabels: number,
  kind: 'uint8' | 'uint16' | 'int32',
  seed: number,
): Maps {
  const next = rng(seed);
  const noise = randomLabels(length, numLabels, seed + 1);
  const Ctor = { uint8: Uint8Array, uint16: Uint16Array, int32: Int32Array }[kind];
  const pred = new Ctor(length);
  const ref = new Ctor(length);
  let label = 0;
  for (let i = 0; i < length; i++) {
    if (next() < 0.01) label = Math.floor(next() * numLabels);
    pred[i] = label;
    ref[i] = next() < 0.1 ? noise[i] : label;
  }
  return { pred, ref };
}

async function whole(m: Maps, numLabels: number, ignore?: number): Promise<LabelCounts> {
  const shape = [1, 1, 1, m.pred.length];
  const p = await reference.upload(m.pred, shape);
  const r = await reference.upload(m.ref, shape);
  try {
    return await reference.labelConfusion(p, r, numLabels, ignore);
  } finally {
    reference.release(p);
    reference.release(r);
  }
}

function expectSame(got: LabelCounts, want: LabelCounts): void {
  expect(Array.from(got.tp), 'tp').toEqual(Array.from(want.tp));
  expect(Array.from(got.fp), 'fp').toEqual(Array.from(want.fp));
  expect(Array.from(got.fn), 'fn').toEqual(Array.from(want.fn));
  expect(got.total, 'total').toBe(want.total);
}

for (const entry of [
  { name: 'reference', backend: reference as Backend | undefined, skipReason: '' },
  ...backends,
]) {
  describe(`countHostLabels on ${entry.name}`, () => {
    if (!entry.backend) {
      it.skip(`${entry.name} unavailable: ${entry.skipReason}`, () => {});
      return;
    }
    const backend = entry.backend;
    const length = WASM_SLAB_VOXELS + 12_345;
    for (const kind of ['uint8', 'uint16', 'int32'] as const) {
      for (const slab of [997, WASM_SLAB_VOXELS, Infinity]) {
        it(`${kind}, ${length} voxels, slabs of ${slab}`, async () => {
          const numLabels = kind === 'uint8' ? 7 : 300;
          const m = maps(length, numLabels, kind, 11 + numLabels);
          const before = backend.memory().bytes;
          const got = await countHostLabels(backend, m.pred, m.ref, numLabels, undefined, slab);
          expectSame(got, await whole(m, numLabels));
          expect(got.total).toBe(length);
          expect(backend.memory().bytes, 'bytes held afterwards').toBe(before);
        });
      }
    }
    it('leaves out voxels whose reference holds the ignored label, across slabs', async () => {
      const m = maps(50_001, 5, 'uint8', 41);
      const got = await countHostLabels(backend, m.pred, m.ref, 5, 3, 4_099);
      const want = await whole(m, 5, 3);
      expectSame(got, want);
      expect(got.total).toBeLessThan(50_001);
    });
    it('names a bad voxel by its index in the whole map', async () => {
      const m = maps(30_000, 4, 'uint16', 43);
      m.pred[21_013] = 9;
      await expect(countHostLabels(backend, m.pred, m.ref, 4, undefined, 1_000)).rejects.toThrow(
        new RegExp(
          `expected labels in \\[0, 4\\) for voxel 21013, received pred 9, ref ${m.ref[21_013]}`,
        ),
      );
    });
    it('rejects maps of different lengths', async () => {
      await expect(
        countHostLabels(backend, new Uint8Array(10), new Uint8Array(11), 2),
      ).rejects.toThrow('expected label maps of equal length, received pred 10, ref 11');
    });
  });
}

it('streams in slabs on the single-threaded wasm backend only', async () => {
  const wasm = backends.find((b) => b.name === 'wasm')?.backend;
  if (wasm) {
    const single = wasm.info().details.threads === 1;
    expect(slabVoxels(wasm)).toBe(single ? WASM_SLAB_VOXELS : Infinity);
  }
  expect(slabVoxels(reference)).toBe(Infinity);
});
