/**
 * The wasm conv3d kernels the benchmarks tuned, against the reference backend, on the cases
 * that reach their specialisations: conv3d_winograd (3x3x3, stride 1: x dilations 1-3 with
 * phased rows, multiples of 4 with rows in order, tiles cut by the volume's edge, channel blocks
 * of 4, 5 and 6, slabs of z-tiles through a small ring, batches, threads) and the helpers the
 * host uses to transform weights and lay out tiles. Outputs are poisoned beforehand
 * (VOXSEG_POISON=1), so a missed output shows as NaN.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import '../ts/node.js';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import { createWasmBackend, type WasmBackend } from '../ts/backends/wasm/index.js';
import {
  channelBlocks,
  rowTiles,
  transformKernel,
  winogradApplies,
} from '../ts/backends/wasm/conv3d-winograd.js';
import { conv3dParams, type Conv3dParams } from '../ts/engine/backend.js';
import { expectClose } from './helpers/compare.js';
import { randomFloats } from './helpers/random.js';

const reference = new ReferenceBackend();
const backends = new Map<string, WasmBackend>();

/** One wasm backend per option set, reused across cases. */
async function wasm(threads: number, padBudgetBytes?: number): Promise<WasmBackend> {
  const key = `${threads}/${padBudgetBytes}`;
  if (!backends.has(key)) backends.set(key, await createWasmBackend({ threads, padBudgetBytes }));
  return backends.get(key)!;
}

afterAll(async () => {
  for (const backend of backends.values()) await backend.dispose();
});

interface KernelCase {
  name: string;
  /** (N, Cin, D, H, W). */
  x: number[];
  cout: number;
  params: Partial<Conv3dParams>;
  bias?: boolean;
  threads?: number;
  padBudgetBytes?: number;
}

const d3 = (d: number): [number, number, number] => [d, d, d];

const CASES: KernelCase[] = [
  {
    name: '1->5 d1 (one input channel, forced)',
    x: [1, 1, 9, 10, 11],
    cout: 5,
    params: { padding: d3(1) },
  },
  {
    name: '1->15 d16, no bias',
    x: [1, 1, 33, 17, 35],
    cout: 15,
    params: { padding: d3(16), dilation: d3(16) },
    bias: false,
  },
  {
    name: '1->30 d1, fused elu, 2 threads',
    x: [1, 1, 12, 13, 14],
    cout: 30,
    params: { padding: d3(1), activation: { kind: 'elu' } },
    threads: 2,
  },
  { name: '5->5 d1 odd sizes', x: [1, 5, 9, 10, 11], cout: 5, params: { padding: d3(1) } },
  {
    name: '11->11 d2',
    x: [1, 11, 8, 9, 13],
    cout: 11,
    params: { padding: d3(2), dilation: d3(2) },
  },
  {
    name: '15->15 d3 (phased x)',
    x: [1, 15, 10, 8, 17],
    cout: 15,
    params: { padding: d3(3), dilation: d3(3) },
  },
  {
    name: '20->20 d4 (rows in order)',
    x: [1, 20, 9, 11, 19],
    cout: 20,
    params: { padding: d3(4), dilation: d3(4) },
  },
  {
    name: '21->21 d8',
    x: [1, 21, 17, 18, 20],
    cout: 21,
    params: { padding: d3(8), dilation: d3(8) },
  },
  {
    name: '30->30 d16',
    x: [1, 30, 33, 34, 36],
    cout: 30,
    params: { padding: d3(16), dilation: d3(16) },
  },
  {
    name: '3->3 d5 (tiles wider than the row)',
    x: [1, 3, 7, 6, 9],
    cout: 3,
    params: { padding: d3(5), dilation: d3(5) },
  },
  { name: '7->13 valid padding', x: [1, 7, 6, 7, 12], cout: 13, params: {} },
  {
    name: '4->9 mixed dilation and padding',
    x: [1, 4, 12, 10, 26],
    cout: 9,
    params: { dilation: [2, 1, 4], padding: [1, 3, 4] },
  },
  {
    name: '6->4 fused relu, no bias',
    x: [1, 6, 8, 9, 10],
    cout: 4,
    params: { padding: d3(1), activation: { kind: 'relu' } },
    bias: false,
  },
  {
    name: '5->6 fused elu, batch 2',
    x: [2, 5, 7, 8, 9],
    cout: 6,
    params: { padding: d3(1), activation: { kind: 'elu' } },
  },
  {
    name: '8->8 d2, 2 threads',
    x: [1, 8, 16, 12, 20],
    cout: 8,
    params: { padding: d3(2), dilation: d3(2) },
    threads: 2,
  },
  {
    name: '3->5 d1, slabs through a 4-plane ring',
    x: [1, 3, 21, 9, 10],
    cout: 5,
    params: { padding: d3(1) },
    padBudgetBytes: 1,
  },
  {
    name: '3->5 d4, slabs through a small ring',
    x: [1, 3, 30, 9, 12],
    cout: 5,
    params: { padding: d3(4), dilation: d3(4) },
    padBudgetBytes: 1,
  },
];

/** conv3d_pointwise: 1x1x1 classifiers, narrow (1-3 classes) and blocked, with row tails. */
const POINTWISE: KernelCase[] = [
  { name: '5->1 pointwise', x: [1, 5, 3, 5, 7], cout: 1, params: {} },
  { name: '15->2 pointwise, tail of 1', x: [1, 15, 3, 3, 1], cout: 2, params: {} },
  {
    name: '5->3 pointwise, fused sigmoid',
    x: [1, 5, 7, 9, 11],
    cout: 3,
    params: { activation: { kind: 'sigmoid' } },
  },
  { name: '30->4 pointwise, no bias', x: [1, 30, 4, 5, 13], cout: 4, params: {}, bias: false },
  { name: '21->18 pointwise, batch 2', x: [2, 21, 5, 6, 7], cout: 18, params: {} },
  { name: '11->50 pointwise, 2 threads', x: [1, 11, 9, 10, 23], cout: 50, params: {}, threads: 2 },
];

async function runBoth(c: KernelCase, k = 3): Promise<{ got: Float32Array; want: Float32Array }> {
  const params = conv3dParams(c.params);
  const cin = c.x[1];
  const inputs = [
    {
      data: randomFloats(
        c.x.reduce((a, b) => a * b, 1),
        11,
      ),
      shape: c.x,
    },
    { data: randomFloats(c.cout * cin * k ** 3, 12), shape: [c.cout, cin, k, k, k] },
    { data: randomFloats(c.cout, 13), shape: [c.cout] },
  ];
  const run = async (b: ReferenceBackend | WasmBackend) => {
    const [x, w, bias] = await Promise.all(inputs.map((i) => b.upload(i.data, i.shape)));
    const y = await b.conv3d(x, w, c.bias === false ? null : bias, params);
    const out = (await b.download(y)) as Float32Array;
    [x, w, bias, y].forEach((t) => b.release(t));
    return out;
  };
  const backend = await wasm(c.threads ?? 1, c.padBudgetBytes);
  return { got: await run(backend), want: await run(reference) };
}

describe('conv3d_winograd against the reference', () => {
  // Force it wherever it applies: the automatic choice keeps small rows on conv3d_direct.
  beforeAll(() => vi.stubEnv('VOXSEG_WASM_CONV', 'winograd'));
  afterAll(() => vi.unstubAllEnvs());

  for (const c of CASES) {
    it(c.name, async () => {
      const { got, want } = await runBoth(c);
      expectClose(got, want, { atol: 1e-4, rtol: 1e-4 }, c.name);
    });
  }
});

describe('conv3d_pointwise against the reference', () => {
  for (const c of POINTWISE) {
    it(c.name, async () => {
      const { got, want } = await runBoth(c, 1);
      expectClose(got, want, { atol: 1e-4, rtol: 1e-4 }, c.name);
    });
  }
});

describe('conv3d_winograd host helpers', () => {
  it('is chosen for 3x3x3 stride-1 convs, 3+ input channels, rows that fill the lanes', () => {
    const same = conv3dParams({ padding: d3(1) });
    const out = (w: number) => [1, 8, 16, 16, w];
    expect(winogradApplies([8, 5, 3, 3, 3], same, out(64))).toBe(true);
    expect(winogradApplies([8, 1, 3, 3, 3], same, out(64))).toBe(false);
    expect(winogradApplies([8, 5, 3, 3, 3], same, out(4))).toBe(false);
    expect(winogradApplies([8, 5, 3, 3, 3], conv3dParams({ stride: [2, 2, 2] }), out(64))).toBe(
      false,
    );
    expect(winogradApplies([8, 5, 1, 1, 1], conv3dParams(), out(64))).toBe(false);
  });

  it('follows VOXSEG_WASM_CONV and rejects unknown values', () => {
    const same = conv3dParams({ padding: d3(1) });
    vi.stubEnv('VOXSEG_WASM_CONV', 'direct');
    expect(winogradApplies([8, 5, 3, 3, 3], same, [1, 8, 16, 16, 64])).toBe(false);
    vi.stubEnv('VOXSEG_WASM_CONV', 'winograd');
    expect(winogradApplies([8, 1, 3, 3, 3], same, [1, 8, 4, 4, 4])).toBe(true);
    vi.stubEnv('VOXSEG_WASM_CONV', 'fast');
    expect(() => winogradApplies([8, 5, 3, 3, 3], same, [1, 8, 16, 16, 64])).toThrow(
      /VOXSEG_WASM_CONV, received 'fast'/,
    );
    vi.unstubAllEnvs();
  });

  it('transforms a kernel so that the 1D F(2, 3) identity holds along each axis', () => {
    // A kernel that is 1 at (kz, ky, kx) = (0, 0, 0): U = G e0 (x) G e0 (x) G e0.
    const g = new Float32Array(27);
    g[0] = 1;
    const u = transformKernel(g);
    const column = [1, 0.5, 0.5, 0];
    for (let p = 0; p < 64; p++) {
      expect(u[p]).toBeCloseTo(column[p >> 4] * column[(p >> 2) & 3] * column[p & 3], 12);
    }
  });

  it('blocks output channels by 5 and 4 with the fewest padded channels', () => {
    const sizes = (n: number) => channelBlocks(n).map((b) => b.size);
    expect(sizes(5)).toEqual([5]);
    expect(sizes(11)).toEqual([4, 4, 4]);
    expect(sizes(16)).toEqual([4, 4, 4, 4]);
    expect(sizes(30)).toEqual([5, 5, 5, 5, 5, 5]);
    expect(channelBlocks(2)).toEqual([{ first: 0, size: 4, valid: 2 }]);
    for (let n = 1; n <= 64; n++) {
      const blocks = channelBlocks(n);
      expect(blocks.reduce((s, b) => s + b.valid, 0)).toBe(n);
    }
  });

  it('lays out an even number of vector tiles that cover every output of a row', () => {
    for (const [ow, dx] of [
      [64, 1],
      [11, 2],
      [17, 3],
      [64, 4],
      [20, 8],
      [36, 16],
      [9, 5],
    ]) {
      const row = rowTiles(ow, ow, dx, dx);
      expect(row.tiles.length % 2).toBe(0);
      const covered = new Set<number>();
      for (const [, out] of row.tiles) {
        for (let lane = 0; lane < 4; lane++) {
          for (const e of [0, 1]) {
            const slot = out + lane + e * row.outOff;
            const x =
              row.outPhases === 1
                ? slot
                : (slot % row.outPhaseLen) * row.outPhases + Math.floor(slot / row.outPhaseLen);
            if (slot < row.outPhases * row.outPhaseLen) covered.add(x);
          }
        }
      }
      for (let x = 0; x < ow; x++)
        expect(covered.has(x), `ow ${ow}, dx ${dx}: output ${x}`).toBe(true);
    }
  });
});
