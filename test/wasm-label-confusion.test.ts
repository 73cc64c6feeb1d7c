/**
 * The wasm backend's label confusion against the reference backend, exactly: uint8, uint16 and
 * int32 maps at sizes off the vector width and across chunks (4080 voxels), random (few uniform
 * blocks) and in runs (mostly uniform blocks), 1 to 300 labels, with and without an ignore
 * label (a counted label, one past the range, one the dtype cannot hold), on 1, 2 and 3 threads
 * (every op split in uneven ranges, so threads start at odd addresses); labels out of range in
 * the first block, the middle and the tail; and the raw kernels at odd byte offsets with
 * scratch too small for a whole chunk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../ts/node.js';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import { labelConfusionReference } from '../ts/backends/reference/ops.js';
import { createWasmBackend } from '../ts/backends/wasm/index.js';
import type { WasmBackend } from '../ts/backends/wasm/backend.js';
import { BINARIES, THREADS_MEMORY } from '../ts/backends/wasm/generated/binaries.js';
import { loadKernels, simdUnavailableReason } from '../ts/backends/wasm/module.js';
import type { LabelCounts } from '../ts/engine/backend.js';
import type { HostArray } from '../ts/engine/tensor.js';
import { expectEqualArrays } from './helpers/compare.js';
import { rng } from './helpers/random.js';

type LabelDType = 'uint8' | 'uint16' | 'int32';
type LabelArray = Uint8Array | Uint16Array | Int32Array;

const ARRAYS = { uint8: Uint8Array, uint16: Uint16Array, int32: Int32Array } as const;
const SUFFIX = { uint8: 'u8', uint16: 'u16', int32: 'i32' } as const;
/** Voxels of one chunk of the byte-lane kernels: 255 blocks of 16. */
const CHUNK = 255 * 16;
/** Sizes off the vector width: one voxel, around a block, around one and several chunks. */
const SIZES = [1, 15, 16, 17, CHUNK + 3, 2 * CHUNK + 55, 3 * CHUNK + 1];
/** Label counts per dtype: the byte-lane limit (8) and either side of it, up to 300. */
const LABELS: Record<LabelDType, number[]> = {
  uint8: [2, 3, 4, 5, 8, 9, 17, 256],
  uint16: [2, 3, 7, 8, 9, 300],
  int32: [3, 17, 300],
};
const THREADS = [1, 2, 3];
const SKIP = simdUnavailableReason();

const reference = new ReferenceBackend();
const backends = new Map<number, WasmBackend>();

beforeAll(async () => {
  if (SKIP) return;
  for (const threads of THREADS) {
    backends.set(threads, await createWasmBackend({ threads, minParallelWork: 0 }));
  }
});

afterAll(async () => {
  for (const backend of backends.values()) await backend.dispose();
});

/**
 * A pair of label maps of `size` voxels in [0, numLabels): `random` labels everywhere (ref
 * keeps pred's label at 60 % of voxels), or `runs` of one label 1..200 voxels long with ref
 * differing at about 2 % of voxels (mostly uniform blocks, some mixed ones).
 */
function labelPair(size: number, numLabels: number, seed: number, kind: 'random' | 'runs') {
  const next = rng(seed);
  const label = () => Math.floor(next() * numLabels);
  const pred = new Int32Array(size);
  for (let i = 0; i < size;) {
    const length = kind === 'random' ? 1 : 1 + Math.floor(next() * 200);
    pred.fill(label(), i, Math.min(size, i + length));
    i += length;
  }
  const change = kind === 'random' ? 0.4 : 0.02;
  const ref = pred.map((v) => (next() < change ? label() : v));
  return { pred, ref };
}

/**
 * Mark about 5 % of voxels ignored: ref there becomes `ignore` and pred any value the dtype
 * holds (ignored voxels are neither counted nor range-checked).
 */
function withIgnored(pair: { pred: Int32Array; ref: Int32Array }, ignore: number, seed: number) {
  const next = rng(seed);
  const pred = pair.pred.slice();
  const ref = pair.ref.slice();
  for (let i = 0; i < ref.length; i++) {
    if (next() >= 0.05) continue;
    ref[i] = ignore;
    pred[i] = Math.floor(next() * 256);
  }
  return { pred, ref };
}

/**
 * Blocks of `lanes` voxels of every kind the block counter tells apart, one after another in
 * both maps (and each kind also against a uniform block): one label; two halves; half one
 * label and the rest a different label per lane (more distinct labels than are counted at
 * once); alternating labels; all lanes different; plus a tail of 5 voxels.
 */
function craftedBlocks(lanes: number, numLabels: number) {
  const half = lanes / 2;
  const kinds: Array<(lane: number, shift: number) => number> = [
    () => 3,
    (lane, shift) => (lane < half ? 1 : 2 + shift),
    (lane, shift) => (lane < half ? 1 : (lane + shift) % numLabels),
    (lane, shift) => (lane % 2 ? 2 : shift),
    (lane, shift) => (lane * 3 + shift) % numLabels,
  ];
  const pred: number[] = [];
  const ref: number[] = [];
  for (const a of kinds) {
    for (const b of [...kinds, () => 4]) {
      for (let lane = 0; lane < lanes; lane++) pred.push(a(lane, 0) % numLabels);
      for (let lane = 0; lane < lanes; lane++) ref.push(b(lane, 1) % numLabels);
    }
  }
  for (let k = 0; k < 5; k++) {
    pred.push(k % numLabels);
    ref.push((k * 2) % numLabels);
  }
  return { pred: Int32Array.from(pred), ref: Int32Array.from(ref) };
}

function asDType(values: Int32Array, dtype: LabelDType): LabelArray {
  return ARRAYS[dtype].from(values);
}

/** Counts of the reference backend, or its error. */
async function referenceCounts(
  pred: HostArray,
  ref: HostArray,
  numLabels: number,
  ignore?: number,
): Promise<LabelCounts | Error> {
  const shape = [1, 1, 1, pred.length]; // (N, D, H, W)
  const [p, r] = [await reference.upload(pred, shape), await reference.upload(ref, shape)];
  return reference.labelConfusion(p, r, numLabels, ignore).catch((error: Error) => error);
}

/** The wasm backend's counts on `threads` threads, or its error. */
async function wasmCounts(
  threads: number,
  pred: HostArray,
  ref: HostArray,
  numLabels: number,
  ignore?: number,
): Promise<LabelCounts | Error> {
  const backend = backends.get(threads)!;
  const shape = [1, 1, 1, pred.length]; // (N, D, H, W)
  const [p, r] = [await backend.upload(pred, shape), await backend.upload(ref, shape)];
  try {
    return await backend.labelConfusion(p, r, numLabels, ignore);
  } catch (error) {
    return error as Error;
  } finally {
    [p, r].forEach((t) => backend.release(t));
  }
}

function expectSameCounts(got: LabelCounts | Error, want: LabelCounts | Error, what: string) {
  if (want instanceof Error) throw new Error(`${what}: the reference failed: ${want.message}`);
  if (got instanceof Error) throw new Error(`${what}: wasm failed: ${got.message}`);
  expectEqualArrays(got.tp, want.tp, `${what}: tp`);
  expectEqualArrays(got.fp, want.fp, `${what}: fp`);
  expectEqualArrays(got.fn, want.fn, `${what}: fn`);
  expect(got.total, `${what}: total`).toBe(want.total);
}

/**
 * Ignore labels to try: none, a counted label, one past the range (both placed in ref), and one
 * the dtype cannot hold (placed nowhere: it matches no voxel; int32 holds it: a negative one).
 */
function ignoreLabels(dtype: LabelDType, numLabels: number) {
  const past = dtype === 'uint8' ? Math.min(numLabels + 2, 255) : numLabels + 2;
  const unheld = { uint8: 256, uint16: 65536, int32: -7 }[dtype];
  return [
    { ignore: undefined, placed: false },
    { ignore: 1, placed: true },
    { ignore: past, placed: true },
    { ignore: unheld, placed: dtype === 'int32' },
  ];
}

describe.skipIf(SKIP)('wasm labelConfusion equals the reference', () => {
  for (const dtype of ['uint8', 'uint16', 'int32'] as const) {
    for (const kind of ['random', 'runs'] as const) {
      it.each(SIZES)(`${dtype}, ${kind}, %i voxels, every label count and ignore`, async (n) => {
        for (const numLabels of LABELS[dtype]) {
          for (const { ignore, placed } of ignoreLabels(dtype, numLabels)) {
            const seed = n * 1000 + numLabels;
            const base = labelPair(n, numLabels, seed, kind);
            const pair = placed ? withIgnored(base, ignore!, seed + 1) : base;
            const [pred, ref] = [asDType(pair.pred, dtype), asDType(pair.ref, dtype)];
            const want = await referenceCounts(pred, ref, numLabels, ignore);
            for (const threads of THREADS) {
              const got = await wasmCounts(threads, pred, ref, numLabels, ignore);
              expectSameCounts(got, want, `${numLabels} labels, ignore ${ignore}, ${threads} t`);
            }
          }
        }
      });
    }
  }

  it.each(['uint8', 'uint16', 'int32'] as const)(
    '%s, one label: counts of label 0 around ignored voxels holding other values',
    async (dtype) => {
      for (const n of SIZES) {
        const zeros = { pred: new Int32Array(n), ref: new Int32Array(n) };
        const pair = withIgnored(zeros, 9, n);
        const [pred, ref] = [asDType(pair.pred, dtype), asDType(pair.ref, dtype)];
        const want = await referenceCounts(pred, ref, 1, 9);
        for (const threads of THREADS) {
          expectSameCounts(await wasmCounts(threads, pred, ref, 1, 9), want, `${n}, ${threads} t`);
        }
      }
    },
  );

  it.each(['uint8', 'uint16', 'int32'] as const)(
    '%s, crafted blocks: uniform, border, many labels, noisy, with ignored lanes',
    async (dtype) => {
      const lanes = 16 / ARRAYS[dtype].BYTES_PER_ELEMENT;
      for (const numLabels of [5, 20]) {
        const { pred, ref } = craftedBlocks(lanes, numLabels);
        for (const ignore of [undefined, 2, 19]) {
          const [p, r] = [asDType(pred, dtype), asDType(ref, dtype)];
          const want = await referenceCounts(p, r, numLabels, ignore);
          for (const threads of THREADS) {
            const got = await wasmCounts(threads, p, r, numLabels, ignore);
            expectSameCounts(got, want, `${numLabels} labels, ignore ${ignore}, ${threads} t`);
          }
        }
      }
    },
  );

  it('uint16 labels and ignore values past 255 and past 32767', async () => {
    const n = 2 * CHUNK + 9;
    const base = labelPair(n, 3, 77, 'runs');
    for (const ignore of [255, 256, 40000, 65535]) {
      const pair = withIgnored(base, ignore, 78);
      pair.pred.forEach((v, i) => (pair.pred[i] = pair.ref[i] === ignore ? 65535 - (i % 300) : v));
      const [pred, ref] = [asDType(pair.pred, 'uint16'), asDType(pair.ref, 'uint16')];
      const want = await referenceCounts(pred, ref, 3, ignore);
      for (const threads of THREADS) {
        const got = await wasmCounts(threads, pred, ref, 3, ignore);
        expectSameCounts(got, want, `ignore ${ignore}, ${threads} t`);
      }
    }
  });

  it('maps uploaded from views at an odd byte offset', async () => {
    const n = CHUNK + 21;
    const pair = labelPair(n, 4, 5, 'runs');
    const host = new Uint8Array(2 * n + 3);
    const pred = host.subarray(1, 1 + n);
    const ref = host.subarray(n + 2, 2 * n + 2);
    pred.set(pair.pred);
    ref.set(pair.ref);
    const want = await referenceCounts(pred, ref, 4);
    for (const threads of THREADS) {
      expectSameCounts(await wasmCounts(threads, pred, ref, 4), want, `${threads} t`);
    }
  });
});

/** A label outside the range and where it goes: pred or ref, and at which voxel. */
interface BadLabel {
  map: 'pred' | 'ref';
  at: number;
  value: number;
}

const BAD_SIZE = 3 * CHUNK + 11;
/** First block, the middle (inside the second chunk), the tail (past the last whole block). */
const BAD_PLACES = [3, Math.floor(BAD_SIZE / 2) + 1, BAD_SIZE - 2];
const BAD_VALUES: Record<LabelDType, number[]> = {
  uint8: [3, 200, 255],
  uint16: [3, 255, 256, 40000],
  int32: [3, -1, 2 ** 31 - 1],
};

/** The reference's error and the wasm backend's on every thread count: the same message. */
async function expectSameError(pred: HostArray, ref: HostArray, numLabels: number, at: number) {
  const want = await referenceCounts(pred, ref, numLabels);
  if (!(want instanceof Error)) throw new Error(`the reference accepted a bad label at ${at}`);
  expect(want.message).toContain(`voxel ${at},`);
  for (const threads of THREADS) {
    const got = await wasmCounts(threads, pred, ref, numLabels);
    expect(got instanceof Error ? got.message : 'no error', `${threads} t`).toBe(want.message);
  }
}

function withBad(dtype: LabelDType, kind: 'random' | 'runs', numLabels: number, bad: BadLabel[]) {
  const pair = labelPair(BAD_SIZE, numLabels, 11, kind);
  for (const { map, at, value } of bad) pair[map][at] = value;
  return { pred: asDType(pair.pred, dtype), ref: asDType(pair.ref, dtype) };
}

describe.skipIf(SKIP)('wasm labelConfusion names the first voxel out of range', () => {
  for (const dtype of ['uint8', 'uint16', 'int32'] as const) {
    it(`${dtype}: in the first block, the middle and the tail, in either map`, async () => {
      for (const numLabels of [3, 17]) {
        for (const kind of ['random', 'runs'] as const) {
          for (const at of BAD_PLACES) {
            for (const value of BAD_VALUES[dtype].map((v) => (v === 3 ? numLabels : v))) {
              for (const map of ['pred', 'ref'] as const) {
                const { pred, ref } = withBad(dtype, kind, numLabels, [{ map, at, value }]);
                await expectSameError(pred, ref, numLabels, at);
              }
            }
          }
        }
      }
    });
  }

  it.each(['uint8', 'uint16'] as const)(
    '%s: a whole uniform block out of range names its first voxel',
    async (dtype) => {
      for (const numLabels of [3, 17]) {
        const pair = labelPair(BAD_SIZE, numLabels, 12, 'runs');
        pair.pred.fill(numLabels, 2 * CHUNK + 32, 2 * CHUNK + 80);
        pair.ref.fill(pair.pred[2 * CHUNK + 32], 2 * CHUNK + 32, 2 * CHUNK + 80);
        const [pred, ref] = [asDType(pair.pred, dtype), asDType(pair.ref, dtype)];
        await expectSameError(pred, ref, numLabels, 2 * CHUNK + 32);
      }
    },
  );

  it('the first of several, in different threads ranges', async () => {
    const bad: BadLabel[] = [
      { map: 'ref', at: BAD_SIZE - 5, value: 9 },
      { map: 'pred', at: CHUNK + 100, value: 7 },
      { map: 'ref', at: CHUNK + 700, value: 8 },
    ];
    for (const dtype of ['uint8', 'uint16', 'int32'] as const) {
      const { pred, ref } = withBad(dtype, 'runs', 4, bad);
      await expectSameError(pred, ref, 4, CHUNK + 100);
    }
  });

  it('not at ignored voxels, whatever pred holds there', async () => {
    for (const dtype of ['uint8', 'uint16', 'int32'] as const) {
      for (const ignore of [1, 200]) {
        const pair = labelPair(BAD_SIZE, 3, 13, 'runs');
        for (const at of BAD_PLACES) [pair.pred[at], pair.ref[at]] = [250, ignore];
        const [pred, ref] = [asDType(pair.pred, dtype), asDType(pair.ref, dtype)];
        const want = await referenceCounts(pred, ref, 3, ignore);
        for (const threads of THREADS) {
          const got = await wasmCounts(threads, pred, ref, 3, ignore);
          expectSameCounts(got, want, `${dtype}, ignore ${ignore}, ${threads} t`);
        }
      }
    }
  });
});

/** The single-thread build's kernels, called directly on maps placed at any byte address. */
async function rawKernels() {
  const embedded = { binaries: BINARIES, threadsMemory: THREADS_MEMORY };
  return (await loadKernels({ relaxed: false, threaded: false }, embedded)).kernels;
}

type LabelKernel = (...args: number[]) => number;

describe.skipIf(SKIP)('label_confusion kernels at odd addresses, with small scratch', () => {
  const cases = [
    { dtype: 'uint8', offsets: [1, 7] },
    { dtype: 'uint8', offsets: [15, 0] },
    { dtype: 'uint16', offsets: [2, 6] },
    { dtype: 'uint16', offsets: [1, 3] },
    { dtype: 'int32', offsets: [4, 12] },
  ] as const;

  it.each(cases)('$dtype maps at byte offsets $offsets', async ({ dtype, offsets }) => {
    const kernels = await rawKernels();
    const n = 2 * CHUNK + 37;
    const bytes = n * ARRAYS[dtype].BYTES_PER_ELEMENT;
    const [pred, ref] = [kernels.alloc(bytes + 16), kernels.alloc(bytes + 16)];
    const [counts, scratch] = [kernels.alloc(3 * 300 * 4), kernels.alloc(2 * CHUNK)];
    const kernel = kernels[`label_confusion_${SUFFIX[dtype]}`] as LabelKernel;
    const memory = () => new Uint8Array(kernels.memory!.buffer);

    for (const numLabels of [2, 5, 17, 300]) {
      for (const scratchBytes of [0, 32, 100, 2 * CHUNK]) {
        for (const ignore of [undefined, 1]) {
          const pair = labelPair(n, numLabels, numLabels + scratchBytes, 'runs');
          const [p, r] = [asDType(pair.pred, dtype), asDType(pair.ref, dtype)];
          memory().set(new Uint8Array(p.buffer), pred + offsets[0]);
          memory().set(new Uint8Array(r.buffer), ref + offsets[1]);
          const rows = new Uint32Array(kernels.memory!.buffer, counts, 3 * numLabels).fill(7);
          const args = [n, numLabels, ignore ?? 0, ignore === undefined ? 0 : 1, counts];
          const bad = kernel(pred + offsets[0], ref + offsets[1], ...args, scratch, scratchBytes);

          const what = `${numLabels} labels, scratch ${scratchBytes}, ignore ${ignore}`;
          expect(bad, what).toBe(-1);
          const want = labelConfusionReference(p, r, numLabels, ignore);
          const plusSeven = (a: Float64Array) => a.map((v) => v + 7);
          const tp = want.tp;
          expectEqualArrays(rows.subarray(0, numLabels), plusSeven(tp), `${what}: tp`);
          const predRow = rows.subarray(numLabels, 2 * numLabels);
          expectEqualArrays(predRow, plusSeven(tp.map((t, l) => t + want.fp[l])), `${what}: pred`);
          const refRow = rows.subarray(2 * numLabels);
          expectEqualArrays(refRow, plusSeven(tp.map((t, l) => t + want.fn[l])), `${what}: ref`);
        }
      }
    }
  });

  it('returns the first bad voxel relative to the pointers', async () => {
    const kernels = await rawKernels();
    const n = CHUNK + 50;
    const [pred, ref] = [kernels.alloc(n + 16), kernels.alloc(n + 16)];
    const [counts, scratch] = [kernels.alloc(3 * 3 * 4), kernels.alloc(2 * CHUNK)];
    const pair = labelPair(n, 3, 21, 'runs');
    pair.ref[CHUNK + 17] = 3;
    const memory = new Uint8Array(kernels.memory!.buffer);
    memory.set(Uint8Array.from(pair.pred), pred + 5);
    memory.set(Uint8Array.from(pair.ref), ref + 9);
    const kernel = kernels.label_confusion_u8 as LabelKernel;
    expect(kernel(pred + 5, ref + 9, n, 3, 0, 0, counts, scratch, 2 * CHUNK)).toBe(CHUNK + 17);
  });
});
